// @ts-check
import { describe, expect, it } from "vitest";
import { judgeLeak, linearFit } from "../leak-check.mjs";

const MB = 1024 * 1024;
const LIMITS = { warmupMs: 60_000, heapSlopeMbPerMin: 1, fdSlack: 2 };

/**
 * Samples every 10 s for `minutes`, heap = 50 MB + `slope` MB/min + a ±3 MB GC sawtooth.
 *
 * @param {number} minutes
 * @param {number} slope
 */
function samples(minutes, slope) {
  return Array.from({ length: minutes * 6 + 1 }, (_, i) => {
    const atMs = i * 10_000;
    const heap = 50 + (slope * atMs) / 60_000 + (i % 2 === 0 ? 3 : -3);
    return { atMs, heapUsed: heap * MB, rss: (heap + 40) * MB };
  });
}

describe("linearFit", () => {
  it("finds the line through exact points", () => {
    const fit = linearFit([
      [0, 1],
      [1, 3],
      [2, 5],
    ]);
    expect(fit.slope).toBeCloseTo(2);
    expect(fit.intercept).toBeCloseTo(1);
    expect(fit.r2).toBeCloseTo(1);
  });

  it("is flat for fewer than two points or a constant x", () => {
    expect(linearFit([[1, 4]]).slope).toBe(0);
    expect(
      linearFit([
        [1, 4],
        [1, 6],
      ]).slope,
    ).toBe(0);
  });
});

describe("judgeLeak", () => {
  it("a flat heap with GC noise is no leak", () => {
    const verdict = judgeLeak(samples(10, 0), { before: 20, after: 21 }, LIMITS);
    expect(verdict.leak).toBe(false);
    expect(Math.abs(verdict.heapSlopeMbPerMin)).toBeLessThan(0.2);
    expect(verdict.samplesFitted).toBe(55);
  });

  it("a heap that climbs faster than the limit after the warm-up is a leak", () => {
    const verdict = judgeLeak(samples(10, 2), { before: 20, after: 20 }, LIMITS);
    expect(verdict.leak).toBe(true);
    expect(verdict.heapSlopeMbPerMin).toBeCloseTo(2, 0);
    expect(verdict.reasons[0]).toMatch(/heap grows by 2\.\d\d MB\/min/);
  });

  it("growth during the warm-up only is left out", () => {
    const warm = samples(10, 0).map((sample) =>
      sample.atMs < 60_000 ? { ...sample, heapUsed: sample.heapUsed - (60_000 - sample.atMs) * 100 } : sample,
    );
    expect(judgeLeak(warm, { before: 20, after: 20 }, LIMITS).leak).toBe(false);
  });

  it("descriptors left open past the slack are a leak; too few samples cannot be judged", () => {
    expect(judgeLeak(samples(10, 0), { before: 20, after: 30 }, LIMITS).reasons).toEqual([
      "10 more file descriptors open after close (limit 2)",
    ]);
    expect(judgeLeak(samples(0, 0), { before: 20, after: 20 }, LIMITS).reasons[0]).toMatch(/cannot judge/);
  });
});
