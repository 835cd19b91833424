// @ts-check
import { describe, expect, it } from "vitest";
import { escapeXml, logAxis, renderChart } from "../chart.mjs";
import { sampleReport } from "./fixture.mjs";

describe("logAxis", () => {
  it("spans at least 0.5× to 2×, with 1.5× steps when that is all", () => {
    expect(logAxis([1.1, 1.3])).toEqual({ low: 0.5, high: 2, lines: [0.5, 0.75, 1, 1.5, 2] });
  });

  it("grows by octaves to fit the values (with room under the lowest bar)", () => {
    const axis = logAxis([0.6, 9]);
    expect(axis.low).toBe(0.25);
    expect(axis.high).toBe(16);
    expect(axis.lines).toEqual([0.25, 0.5, 1, 2, 4, 8, 16]);
  });
});

describe("escapeXml", () => {
  it("escapes the five XML specials", () => {
    expect(escapeXml(`<a href="x">'&'</a>`)).toBe("&lt;a href=&quot;x&quot;&gt;&apos;&amp;&apos;&lt;/a&gt;");
  });
});

describe("renderChart", () => {
  const svg = renderChart(sampleReport());

  it("is one SVG document whose text is escaped", () => {
    expect(svg.startsWith("<svg xmlns=")).toBe(true);
    expect(svg.trimEnd().endsWith("</svg>")).toBe(true);
    expect(svg.match(/<svg/g)).toHaveLength(1);
    // No "&" that does not start an entity, no "<" inside text.
    expect(svg).not.toMatch(/&(?!(amp|lt|gt|quot|apos);)/);
    expect(svg).toContain("Test CPU &lt;fast&gt; &amp; small × 2");
  });

  it("draws one bar per known ratio (rediscluster ÷ each other client) and n/a for the rest", () => {
    // W1: 4 ratios; W3: 3 (node-redis failed); W6 RSS: 3 (node-redis failed).
    expect(svg.match(/<rect [^>]*><title>/g)).toHaveLength(10);
    expect(svg.match(/>n\/a</g)).toHaveLength(2);
    expect(svg).toContain("<title>W1 vs node-redis: 0.84×</title>");
    expect(svg).toContain("<title>W6 RSS vs ioredis: 1.50×</title>");
    expect(svg).toContain("<title>W3 vs GLIDE: 7.14×</title>");
  });

  it("marks issue 6's bar on every ioredis bar", () => {
    expect(svg.match(/stroke-width="3"/g)).toHaveLength(1 + 3);
  });

  it("names the versions, the machine and the settings the numbers came from", () => {
    expect(svg).toContain(
      "rediscluster 1.0.0 · ioredis 1.0.0 · redis 1.0.0 · @valkey/valkey-glide 1.0.0 · commit abc1234",
    );
    expect(svg).toContain("Redis 7.0.15");
    expect(svg).toContain("medians of 3 interleaved round(s) × 2000 ms · 2025-01-02");
  });

  it("draws a losing ratio below the 1× line", () => {
    const bar = (/** @type {string} */ title) => {
      const match = new RegExp(
        `<rect x="[^"]+" y="([^"]+)" width="[^"]+" height="([^"]+)"[^>]*><title>${title}`,
      ).exec(svg);
      return { top: Number(match?.[1]), height: Number(match?.[2]) };
    };
    const lose = bar("W1 vs node-redis");
    const win = bar("W1 vs ioredis:");
    // Both touch the 1× line: the winner from above, the loser from below.
    expect(win.top + win.height).toBeCloseTo(lose.top, 0);
  });
});
