// @ts-check
import { describe, expect, it } from "vitest";
import { parseSoakOptions } from "../soak.mjs";

describe("parseSoakOptions", () => {
  it("the full run: 10 minutes, events every minute, samples every 10 s, 2 min warm-up, 0.5 MB/min", () => {
    const settings = parseSoakOptions([]);
    expect(settings).toMatchObject({
      minutes: 10,
      durationMs: 600_000,
      eventEveryMs: 60_000,
      sampleMs: 10_000,
      limits: { warmupMs: 120_000, heapSlopeMbPerMin: 0.5, fdSlack: 2 },
      leakEvery: 0,
    });
    expect(settings.jsonPath.endsWith("soak.json")).toBe(true);
  });

  it("--quick: 45 s with events every 15 s; a short --minutes is judged like it", () => {
    expect(parseSoakOptions(["--quick"])).toMatchObject({
      durationMs: 45_000,
      eventEveryMs: 15_000,
      sampleMs: 2_000,
    });
    expect(parseSoakOptions(["--minutes", "1"]).limits.heapSlopeMbPerMin).toBe(5);
    expect(parseSoakOptions(["--minutes", "30"]).durationMs).toBe(1_800_000);
  });

  it("refuses a duration that is not positive", () => {
    expect(() => parseSoakOptions(["--minutes", "0"])).toThrow(/--minutes/);
    expect(() => parseSoakOptions(["--workers", "x"])).toThrow(/--workers/);
  });
});
