// @ts-check
import { describe, expect, it, vi } from "vitest";
import { buildBenchData } from "../keys.mjs";
import { DRAIN_GRACE_MS, drive, verifyReplies, WORKLOADS } from "../workloads.mjs";

/** @typedef {import("../clients.mjs").BenchClient} BenchClient */

const data = buildBenchData();

/**
 * A client that answers from a map, with optional faults, without any network.
 *
 * @param {{ swapPairs?: boolean }} [faults]
 * @returns {BenchClient}
 */
function memoryClient(faults = {}) {
  const store = new Map(data.keys.map((key, index) => [key, data.values[index]]));
  /** @type {Map<string, number>} */
  const counters = new Map();
  /** @param {readonly string[]} keys */
  const read = (keys) => {
    const values = keys.map((key) => store.get(key) ?? null);
    if (faults.swapPairs) [values[0], values[1]] = [values[1] ?? null, values[0] ?? null];
    return values;
  };
  return {
    get: async (key) => store.get(key) ?? null,
    set: async (key, value) => {
      store.set(key, value);
      return "OK";
    },
    pipelineGet: async (keys) => read(keys),
    mget: async (keys) => read(keys),
    spublish: async () => 0,
    transaction: async (key) => {
      const next = (counters.get(key) ?? 0) + 1;
      counters.set(key, next);
      return [next, 1];
    },
    script: async (key) => store.get(key) ?? null,
    close: async () => {},
    stats: () => ({}),
  };
}

/** @param {string} id */
const workload = (id) => {
  const found = WORKLOADS.find((candidate) => candidate.id === id);
  if (found === undefined) throw new Error(id);
  return found;
};

describe("drive", () => {
  it("counts completed operations and records one latency per operation", async () => {
    const result = await drive(async () => "ok", 1, 40, true);
    expect(result.operations).toBeGreaterThan(0);
    expect(result.errors).toBe(0);
    expect(result.latencies?.count).toBe(result.operations);
  });

  it("keeps exactly `inFlight` operations running", async () => {
    let running = 0;
    let most = 0;
    const operation = async () => {
      running++;
      most = Math.max(most, running);
      await new Promise((resolve) => setImmediate(resolve));
      running--;
    };
    const result = await drive(operation, 64, 40, false);
    expect(most).toBe(64);
    expect(running).toBe(0);
    expect(result.latencies).toBeUndefined();
  });

  it("counts rejections as errors, not operations, and keeps the first message", async () => {
    let calls = 0;
    const result = await drive(
      async () => {
        calls++;
        throw new Error(`refused ${calls}`);
      },
      2,
      30,
      false,
    );
    expect(result.operations).toBe(0);
    expect(result.errors).toBeGreaterThan(0);
    expect(result.firstError).toBe("Error: refused 1");
  });

  it("fails when operations never settle, instead of hanging", async () => {
    vi.useFakeTimers();
    try {
      const pending = drive(() => new Promise(() => {}), 2, 100, false);
      const outcome = expect(pending).rejects.toThrow(`still pending ${DRAIN_GRACE_MS} ms after the end`);
      await vi.advanceTimersByTimeAsync(100 + DRAIN_GRACE_MS);
      await outcome;
    } finally {
      vi.useRealTimers();
    }
  });

  it("does not count what completes after the duration", async () => {
    const result = await drive(() => new Promise((resolve) => setTimeout(resolve, 80)), 4, 20, false);
    expect(result.operations).toBe(0);
    expect(result.errors).toBe(0);
  });
});

describe("WORKLOADS", () => {
  it("are W1–W5 with issue 6's bars, W8 with issue 10's (vs the best other client) and W9", () => {
    expect(WORKLOADS.map((w) => [w.id, w.inFlight, w.keysPerOperation, w.targetVsIoredis])).toEqual([
      ["W1", 1, 1, 1],
      ["W2", 64, 1, 2.2],
      ["W3", 1024, 1, 2.9],
      ["W4", 1, 100, 1.7],
      ["W5", 1, 100, 3.3],
      ["W8", 64, 1, 2],
      ["W9", 64, 1, 1],
    ]);
  });

  it("W2 alternates GET and SET, and SET writes the value the key already has", async () => {
    const client = memoryClient();
    const operation = workload("W2").operation(client, data);
    expect(await operation(0)).toBe(data.values[data.order[0] ?? 0]);
    expect(await operation(1)).toBe("OK");
    await verifyReplies(workload("W2"), operation, data);
  });

  it.each(["W1", "W2", "W3", "W4", "W5", "W8", "W9"])(
    "%s: a correct client passes the reply check",
    async (id) => {
      await verifyReplies(workload(id), workload(id).operation(memoryClient(), data), data);
    },
  );

  it.each(["W4", "W5"])("%s: replies out of key order fail the reply check", async (id) => {
    const operation = workload(id).operation(memoryClient({ swapPairs: true }), data);
    await expect(verifyReplies(workload(id), operation, data)).rejects.toThrow(
      `${id}: unexpected reply at step 0`,
    );
  });

  it("W1: another key's value fails the reply check", async () => {
    const wrong = { ...memoryClient(), get: async () => data.values[1] };
    const operation = workload("W1").operation(wrong, data);
    await expect(verifyReplies(workload("W1"), operation, data)).rejects.toThrow(/W1: unexpected reply/);
  });
});

describe("W8 and W9 reply checks", () => {
  it("W8: a transaction that did not run whole (EXPIRE missing, an error in place) fails the check", async () => {
    const half = { ...memoryClient(), transaction: async () => [1, new Error("EXECABORT")] };
    await expect(verifyReplies(workload("W8"), workload("W8").operation(half, data), data)).rejects.toThrow(
      /W8: unexpected reply/,
    );
    const aborted = {
      ...memoryClient(),
      transaction: async () => /** @type {unknown[]} */ (/** @type {unknown} */ (null)),
    };
    await expect(
      verifyReplies(workload("W8"), workload("W8").operation(aborted, data), data),
    ).rejects.toThrow(/W8: unexpected reply/);
  });

  it("W9: another key's value fails the check", async () => {
    const wrong = { ...memoryClient(), script: async () => data.values[1] };
    await expect(verifyReplies(workload("W9"), workload("W9").operation(wrong, data), data)).rejects.toThrow(
      /W9: unexpected reply/,
    );
  });
});
