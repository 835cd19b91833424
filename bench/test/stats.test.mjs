// @ts-check
import { describe, expect, it } from "vitest";
import { LatencyLog, percentile, summarize } from "../stats.mjs";

describe("summarize", () => {
  it("takes the middle value of an odd count and keeps the samples in order", () => {
    expect(summarize([30, 10, 20])).toEqual({ median: 20, min: 10, max: 30, samples: [30, 10, 20] });
  });

  it("averages the two middle values of an even count", () => {
    expect(summarize([4, 1, 3, 2]).median).toBe(2.5);
  });

  it("is NaN without samples", () => {
    const summary = summarize([]);
    expect(summary.median).toBeNaN();
    expect(summary.min).toBeNaN();
    expect(summary.samples).toEqual([]);
  });
});

describe("percentile", () => {
  const oneToHundred = () => Float64Array.from({ length: 100 }, (_, i) => 100 - i);

  it("is the nearest rank", () => {
    expect(percentile(oneToHundred(), 100, 0.5)).toBe(50);
    expect(percentile(oneToHundred(), 100, 0.99)).toBe(99);
    expect(percentile(oneToHundred(), 100, 1)).toBe(100);
    expect(percentile(Float64Array.of(7), 1, 0.99)).toBe(7);
  });

  it("reads only the first `count` values", () => {
    expect(percentile(Float64Array.of(3, 1, 2, 1000), 3, 1)).toBe(3);
  });

  it("is NaN for no values", () => {
    expect(percentile(new Float64Array(4), 0, 0.5)).toBeNaN();
  });
});

describe("LatencyLog", () => {
  it("keeps every value when it grows past its first buffer", () => {
    const log = new LatencyLog();
    const count = 70_000;
    for (let i = 1; i <= count; i++) log.record(i / 1000);
    expect(log.count).toBe(count);
    expect(log.percentile(1)).toBe(70);
    expect(log.percentile(0.5)).toBe(35);
  });
});
