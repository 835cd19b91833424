// @ts-check
import { describe, expect, it } from "vitest";
import { renderLineChart, roundAxis } from "../line-chart.mjs";

describe("roundAxis", () => {
  it("round steps from 0 past the maximum", () => {
    expect(roundAxis(601)).toEqual({ high: 700, step: 100, lines: [0, 100, 200, 300, 400, 500, 600, 700] });
    expect(roundAxis(9)).toEqual({ high: 9, step: 1, lines: [0, 1, 2, 3, 4, 5, 6, 7, 8, 9] });
    expect(roundAxis(0.3).high).toBeCloseTo(0.3);
    expect(roundAxis(0).high).toBe(1);
  });
});

describe("renderLineChart", () => {
  const svg = renderLineChart({
    title: "requests <per> second",
    xLabel: "s",
    yLabel: "req/s",
    series: [
      {
        label: "a & b",
        points: [
          [0, 1],
          [1, 5],
          [2, 2],
        ],
      },
      { label: "empty", points: [] },
    ],
    markers: [{ x: 1, label: "failover" }],
    caption: ["made on a machine"],
  });

  it("is one SVG document with escaped text", () => {
    expect(svg.startsWith("<svg xmlns=")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    expect(svg).not.toMatch(/&(?!(amp|lt|gt|quot|apos);)/);
    expect(svg).toContain("requests &lt;per&gt; second");
    expect(svg).toContain("a &amp; b");
  });

  it("draws one polyline per non-empty series and one dashed line per marker", () => {
    expect(svg.match(/<polyline /g)).toHaveLength(1);
    expect(svg.match(/<polyline points="([^"]+)"/)?.[1]?.split(" ")).toHaveLength(3);
    expect(svg.match(/stroke-dasharray/g)).toHaveLength(1);
    expect(svg).toContain(">failover<");
  });
});
