// @ts-check
import { describe, expect, it } from "vitest";
import { cacheReport, formatCacheReport } from "../cache.mjs";

/** @param {string} id */
const variant = (id) => ({ id, label: id, packageName: id, options: "", connect: async () => ({}) });
const VARIANTS = ["rediscluster", "rediscluster-uncached", "node-redis-cached"].map(variant);

/**
 * @param {number | null} rate
 * @param {number} [staleReads]
 */
const run = (rate, staleReads = 0) => ({
  round: 1,
  rate,
  operations: 0,
  errors: 0,
  staleReads,
  wrongReplies: 0,
  reads: 0,
  writes: 0,
  cache: {},
});

describe("W7's report", () => {
  it("divides the cached rediscluster's median by each variant's and judges issue 12's goal", () => {
    const runs = new Map([
      ["rediscluster", [run(500), run(600), run(550)]],
      ["rediscluster-uncached", [run(100), run(110), run(90)]],
      ["node-redis-cached", [run(200), run(250), run(300)]],
    ]);
    const report = cacheReport(
      /** @type {never} */ (VARIANTS),
      /** @type {never} */ (runs),
      "GLIDE left out",
    );
    expect(report.ratios["rediscluster-uncached"]).toBeCloseTo(5.5);
    expect(report.ratios["node-redis-cached"]).toBeCloseTo(2.2);
    expect(report.target.met).toBe(true);
    expect(formatCacheReport(report)).toMatch(/goal: .* met\n {2}GLIDE left out/);
  });

  it("a single stale read fails the goal however fast the cache is", () => {
    const runs = new Map([
      ["rediscluster", [run(1000, 1)]],
      ["rediscluster-uncached", [run(100)]],
      ["node-redis-cached", [run(100)]],
    ]);
    const report = cacheReport(/** @type {never} */ (VARIANTS), /** @type {never} */ (runs), "");
    expect(report.clients.rediscluster?.staleReads).toBe(1);
    expect(report.target.met).toBe(false);
    expect(formatCacheReport(report)).toMatch(/stale reads 1/);
  });

  it("no verdict while a variant the goal needs has no rate", () => {
    const runs = new Map([
      ["rediscluster", [run(1000)]],
      ["rediscluster-uncached", [run(null)]],
      ["node-redis-cached", [run(100)]],
    ]);
    const report = cacheReport(/** @type {never} */ (VARIANTS), /** @type {never} */ (runs), "");
    expect(report.target.met).toBeNull();
    expect(report.clients["rediscluster-uncached"]?.failedRuns).toBe(1);
  });
});
