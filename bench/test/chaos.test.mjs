// @ts-check
import { describe, expect, it } from "vitest";
import { checkCounters, parseChaosOptions, rebase } from "../chaos.mjs";

describe("checkCounters", () => {
  const record = { acked: [3, 2, 0, 5], inDoubt: [0, 2, 1, 0], base: [10, 0, 7, 1] };

  it("counts lost, unexpected and in-doubt increments against the record", () => {
    // counter 0: 10 + 3 acked = 13 → exact. counter 1: 2 acked + 2 in doubt, value 3 → 1 in doubt ran.
    // counter 2: base 7, 1 in doubt, value 9 → 1 unexpected. counter 3: 1 + 5 acked, value 4 → 2 lost.
    expect(checkCounters(record, [13, 3, 9, 4])).toEqual({
      acked: 10,
      inDoubt: 3,
      inDoubtApplied: 2,
      lost: 2,
      unexpected: 1,
      countersLost: 1,
    });
  });

  it("everything accounted for: nothing lost, nothing unexpected", () => {
    expect(checkCounters(record, [13, 2, 7, 6])).toMatchObject({ lost: 0, unexpected: 0, inDoubtApplied: 0 });
  });

  it("rebase starts a fresh record at the values read", () => {
    expect(rebase([4, 0])).toEqual({ acked: [0, 0], inDoubt: [0, 0], base: [4, 0] });
  });
});

describe("parseChaosOptions", () => {
  it("1,000 counters, 50 workers, 5 s either side of each event; --quick: 2 s", () => {
    expect(parseChaosOptions([])).toMatchObject({ counters: 1000, workers: 50, phaseMs: 5000 });
    expect(parseChaosOptions(["--quick"]).phaseMs).toBe(2000);
    expect(() => parseChaosOptions(["--counters", "-1"])).toThrow(/--counters/);
  });
});
