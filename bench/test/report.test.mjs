// @ts-check
import { describe, expect, it } from "vitest";
import { CLIENTS } from "../clients.mjs";
import { PUBSUB_WORKLOAD } from "../pubsub.mjs";
import { ceilingReport, formatReport, memoryReport, RESHARD_ENTRY, workloadReport } from "../report.mjs";
import { WORKLOADS } from "../workloads.mjs";
import { memoryResult, runs, sampleReport } from "./fixture.mjs";

/** @param {string} id */
const workload = (id) => {
  const found = WORKLOADS.find((candidate) => candidate.id === id);
  if (found === undefined) throw new Error(id);
  return found;
};

describe("workloadReport", () => {
  const report = sampleReport();
  const [w1, w3] = report.workloads;

  it("summarizes each client's runs and divides rediscluster's median by each other's", () => {
    expect(w1?.clients.rediscluster?.rate).toMatchObject({ median: 21_000, min: 20_000, max: 22_000 });
    expect(w1?.ratios.ioredis).toBeCloseTo(21_000 / 19_000);
    expect(w1?.ratios["node-redis"]).toBeCloseTo(21_000 / 25_000);
    expect(w1?.clients.ioredis?.p99Ms?.median).toBe(0.2);
  });

  it("has no ratio for a client whose runs all failed", () => {
    expect(w3?.ratios["node-redis"]).toBeNull();
    expect(w3?.clients["node-redis"]?.failedRuns).toBe(1);
  });

  it("judges issue 6's bar against ioredis", () => {
    expect(w1?.target).toEqual({ vs: "ioredis", ratio: 1, met: true });
    expect(w3?.target).toEqual({ vs: "ioredis", ratio: 2.9, met: true });
  });

  it("judges W8's bar against the best other client: the smallest of the ratios", () => {
    const result = workloadReport(
      workload("W8"),
      CLIENTS,
      new Map([
        ["rediscluster", runs([30_000])],
        ["ioredis", runs([5_000])],
        ["ioredis-auto", runs([6_000])],
        ["node-redis", runs([20_000])],
      ]),
    );
    expect(result.target).toEqual({ vs: "best", ratio: 2, met: false }); // 1.5× node-redis
    const faster = workloadReport(
      workload("W8"),
      CLIENTS,
      new Map([
        ["rediscluster", runs([50_000])],
        ["node-redis", runs([20_000])],
      ]),
    );
    expect(faster.target.met).toBe(true);
  });

  it("W1's bar also needs a p99 no worse than ioredis's", () => {
    const slowTail = workloadReport(
      workload("W1"),
      CLIENTS,
      new Map([
        ["rediscluster", runs([30_000], { p50Ms: 0.03, p99Ms: 0.5 })],
        ["ioredis", runs([20_000], { p50Ms: 0.05, p99Ms: 0.2 })],
      ]),
    );
    expect(slowTail.ratios.ioredis).toBe(1.5);
    expect(slowTail.target.met).toBe(false);
  });

  it("does not believe a run the servers contradict", () => {
    const result = workloadReport(
      workload("W3"),
      CLIENTS,
      new Map([
        ["rediscluster", [...runs([100_000]), ...runs([900_000], { suspect: "the servers executed 5 ..." })]],
        ["ioredis", runs([50_000])],
      ]),
    );
    expect(result.clients.rediscluster?.rate.samples).toEqual([100_000]);
    expect(result.clients.rediscluster?.failedRuns).toBe(1);
    expect(result.ratios.ioredis).toBe(2);
  });

  it("judges W10's bar (issue 11) against the best other client, and notes how each subscribes", () => {
    const rates = new Map([
      ["rediscluster", runs([300_000])],
      ["ioredis", runs([50_000])],
      ["ioredis-auto", runs([100_000])],
      ["node-redis", runs([160_000])],
    ]);
    const w10 = workloadReport(PUBSUB_WORKLOAD, CLIENTS, rates);
    expect(w10.target).toEqual({ vs: "best", ratio: 2, met: false }); // 300k ÷ 160k = 1.9
    rates.set("node-redis", runs([150_000]));
    expect(workloadReport(PUBSUB_WORKLOAD, CLIENTS, rates).target.met).toBe(true);
    rates.set("node-redis", []);
    expect(workloadReport(PUBSUB_WORKLOAD, CLIENTS, rates).target.met).toBeNull(); // not measured: no verdict
    expect(w10.method.ioredis).toMatch(/shardedSubscribers/);
    // GLIDE counts as one more other client: the fastest of them sets the verdict.
    rates.set("node-redis", runs([100_000]));
    rates.set("glide", runs([200_000]));
    expect(workloadReport(PUBSUB_WORKLOAD, CLIENTS, rates).target).toEqual({
      vs: "best",
      ratio: 2,
      met: false,
    });
  });

  it("names the fastest other client and rediscluster's ratio to it, GLIDE included", () => {
    const [w1, w3] = sampleReport().workloads;
    expect(w1?.best).toEqual({ id: "node-redis", ratio: 21_000 / 25_000 });
    expect(w3?.best).toBeNull(); // node-redis ran and failed: it might have been the best
    const glideFastest = workloadReport(
      workload("W4"),
      CLIENTS,
      new Map([
        ["rediscluster", runs([200_000])],
        ["ioredis", runs([60_000])],
        ["node-redis", runs([20_000])],
        ["glide", runs([100_000])],
      ]),
    );
    expect(glideFastest.best).toEqual({ id: "glide", ratio: 2 });
    expect(workloadReport(workload("W4"), CLIENTS, new Map([["rediscluster", runs([1])]])).best).toBeNull();
  });

  it("notes how W4 and W5 are done by each client", () => {
    const w4 = workloadReport(workload("W4"), CLIENTS, new Map());
    expect(w4.method.ioredis).toMatch(/pipeline\(\) per node/);
    expect(w4.method["node-redis"]).toMatch(/Promise.all/);
    expect(workloadReport(workload("W5"), CLIENTS, new Map()).method.ioredis).toMatch(/grouped by slot/);
    expect(w4.method.glide).toMatch(/ClusterBatch\(false\)/);
  });
});

describe("memoryReport", () => {
  it("compares end RSS and heap with rediscluster's, and judges the heap through the reshard", () => {
    const memory = sampleReport().memory;
    expect(memory?.rssRatios.ioredis).toBeCloseTo(90 / 60);
    expect(memory?.heapRatios.ioredis).toBeCloseTo(6.5 / 5.2);
    expect(memory?.rssRatios["node-redis"]).toBeNull();
    expect(memory?.rssRatios).not.toHaveProperty(RESHARD_ENTRY);
    expect(memory?.clients[RESHARD_ENTRY]?.heapGrowth).toBeCloseTo(0.06);
    expect(memory?.targets).toEqual({ rssNotAboveIoredis: true, heapFlatThroughReshard: true });
  });

  it("a heap that grows more than 10% through the reshard, or errors during it, fails the bar", () => {
    const grown = memoryReport(100, 64, [
      { id: "rediscluster", label: "rediscluster", result: memoryResult(5, 5, 60) },
      { id: RESHARD_ENTRY, label: "reshard", result: memoryResult(5, 5.6, 60) },
    ]);
    expect(grown.targets.heapFlatThroughReshard).toBe(false);
    const failing = { ...memoryResult(5, 5, 60), errors: 3 };
    const withErrors = memoryReport(100, 64, [{ id: RESHARD_ENTRY, label: "reshard", result: failing }]);
    expect(withErrors.targets.heapFlatThroughReshard).toBe(false);
    expect(memoryReport(100, 64, []).targets).toEqual({
      rssNotAboveIoredis: null,
      heapFlatThroughReshard: null,
    });
  });
});

describe("formatReport", () => {
  const text = formatReport(sampleReport());

  it("says what the numbers come from, and how wide the W4/W5 batches are", () => {
    expect(text).toMatch(
      /^rediscluster 0\.1\.0 \(abc1234\) · local 3\+3 dev cluster · Redis 7\.0\.15 · Node v20\.0\.0/,
    );
    expect(text).toContain("3 interleaved round(s) × 2000 ms (+500 ms warm-up)");
    expect(text).toContain("the narrowest spans 3 of 3 primaries");
  });

  it("prints one line per client with median (min–max), latency and ratio", () => {
    expect(text).toMatch(/^ {4}rediscluster +21,000 \(20,000–22,000\) +0\.040 +0\.100 +1\.50 *$/m);
    expect(text).toMatch(/^ {4}ioredis +19,000 \(18,000–20,000\) +0\.050 +0\.200 +— +1\.11×$/m);
    expect(text).toMatch(/^ {4}node-redis +failed +— +— +! 1 failed runs: Error: boom$/m);
  });

  it("says which clients this machine could not run", () => {
    const note = "GLIDE left out: @valkey/valkey-glide does not load here (Error: no binary)";
    const report = { ...sampleReport(), leftOut: [{ id: "glide", label: "GLIDE", note }] };
    expect(formatReport(report).split("\n").slice(0, 4)).toContain(note);
    expect(text).not.toContain("left out");
  });

  it("judges W1 against the C client at one connection, in the same run", () => {
    // 21,000 GET/s ÷ 20,000 = 105%, but p99 0.100 ms > 0.080 ms: not met.
    expect(text).toContain(
      "W1 rediscluster = 105% of -c 1, p99 0.100 vs 0.080 ms (bar: rate ≥ 100% and p99 ≤): NOT met",
    );
    // No -P 16 result: no W3 share line rather than a made-up one.
    expect(text).not.toContain("of -c 50 -P 16");
  });

  it("prints W1 and W3 on the Node floor, and their shares of it next to the C client's verdicts", () => {
    expect(text).toContain(
      "W1 on a raw Node socket per primary (bench/floor.mjs: slot, write, parse, a promise; no client): 16,000 (15,000–17,000) GET/s, p50 0.060 ms, p99 0.120 ms, 40.00 µs CPU",
    );
    expect(text).toContain("W3 on a raw Node socket per primary");
    expect(text).toContain("410,000 (400,000–420,000) GET/s, 2.00 µs CPU");
    // 21,000 ÷ 16,000 and 16,000 ÷ 20,000.
    expect(text).toContain("W1 = 131% of the Node floor, which is 80% of -c 1");
    // -P 16 failed in the fixture: no W3 shares. With 500,000 GET/s: 300,000 ÷ 410,000, 410,000 ÷ 500,000.
    expect(text).not.toContain("W3 = ");
    const report = sampleReport();
    const withP16 = {
      ...report,
      ceiling: report.ceiling.map((entry) =>
        entry.id === "P16"
          ? ceilingReport(
              entry,
              entry.requests,
              [{ test: "GET", opsPerSecond: 500_000, p50Ms: 1, p99Ms: 3 }],
              [],
            )
          : entry,
      ),
    };
    expect(formatReport(withP16)).toContain("W3 = 73% of the Node floor, which is 82% of -c 50 -P 16");
    const withoutFloor = formatReport({ ...sampleReport(), floor: undefined });
    expect(withoutFloor).not.toContain("Node floor");
    expect(withoutFloor).not.toContain("raw Node socket");
  });

  it("judges W2, W4 and W5 against the best other client, and W6 against the RSS bars", () => {
    const report = sampleReport();
    const w1 = report.workloads.find((workload) => workload.id === "W1");
    if (w1 === undefined) throw new Error("the fixture has no W1");
    const withW2 = { ...report, workloads: [...report.workloads, { ...w1, id: "W2" }] };
    // The W1 data as W2: node-redis is the fastest other client there, at 0.84×.
    expect(formatReport(withW2)).toContain(
      "W2 rediscluster = 0.84× the best other client, node-redis (bar ≥ 3.5×): NOT met",
    );
    expect(text).not.toContain("W4 rediscluster =");
    // 60 MB at the end, 45 MB once connected.
    expect(text).toContain("rediscluster: RSS + 15.0, RSS end 60.0 (issue 18's bars): met");
  });

  it("prints no summary when no workload but W7 ran (W7 has its own verdict)", () => {
    const onlyW7 = { ...sampleReport(), workloads: [], memory: undefined, ceiling: [] };
    expect(formatReport(onlyW7)).not.toContain("Summary:");
    expect(text).toContain("Summary:");
  });

  it("prints the ceiling, the memory table and the summary with verdicts", () => {
    expect(text).toContain("-c 50 -P 1 (C client): 80,000 (80,000–80,000) GET/s");
    expect(text).toContain("-c 50 -P 16 (C client): failed: redis-benchmark exited with 1");
    expect(text).toMatch(
      /^ {4}rediscluster \+ reshard +5\.0 → 5\.3 +\+6\.0% +61\.0 +16\.0 .*moved 12, ask 30, refreshes 3$/m,
    );
    expect(text).toMatch(/^ {4}node-redis +failed: the child exited/m);
    expect(text).toMatch(
      /^ {4}W1 +1\.11× +1\.20× +0\.84× +1\.40× +0\.84× node-redis +≥ 1\.0 +met · does not beat every client$/m,
    );
    // node-redis failed W3: it might have been the best, so there is no "÷ best".
    expect(text).toMatch(/^ {4}W3 +5\.45× +3\.33× +— +7\.14× +— +≥ 2\.9 +met$/m);
    expect(text).toMatch(/^ {4}GLIDE +4\.0 → 4\.1 .* 1\.83×$/m);
    expect(text).toMatch(/^ {4}W6 RSS .*≥ 1\.0 +met$/m);
    expect(text).toMatch(/heap flat through the reshard \(≤ \+10%\): met$/m);
  });
});
