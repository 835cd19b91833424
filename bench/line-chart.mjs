// @ts-check
/**
 * A time-series chart as a hand-written SVG (no dependency): one polyline per series, a
 * linear y axis from 0 with round steps, vertical markers for events (a failover, a
 * reshard), a caption saying where the numbers come from. The fleet script draws topology
 * requests per second with it, the soak heap and RSS over time.
 *
 *     40 ┤        ╭╮                     ── series A
 *     20 ┤  ╭─────╯╰──╮   ╎              ── series B
 *      0 ┼──╯         ╰───╎───────────   ╎  marker (event)
 *        0 s        10 s  failover  20 s
 */
import { escapeXml } from "./chart.mjs";

const WIDTH = 900;
const HEIGHT = 420;
const PLOT = { left: 70, right: 24, top: 70, bottom: 96 };
const COLORS = ["#d97706", "#2563eb", "#059669", "#9333ea", "#dc2626"];

/**
 * @typedef {object} Series
 * @property {string} label
 * @property {Array<[number, number]>} points [x, y], x ascending
 *
 * @typedef {object} Marker
 * @property {number} x
 * @property {string} label
 *
 * @typedef {object} LineChart
 * @property {string} title
 * @property {string} xLabel e.g. "s since start"
 * @property {string} yLabel e.g. "topology requests / s"
 * @property {Series[]} series
 * @property {Marker[]} [markers]
 * @property {string[]} [caption] lines under the plot
 */

/**
 * A round axis from 0 to at least `max`: 1, 2 or 5 × a power of ten per step, 4 to 10 steps.
 *
 * @param {number} max
 * @returns {{ high: number, step: number, lines: number[] }}
 */
export function roundAxis(max) {
  const top = max > 0 ? max : 1;
  const magnitude = 10 ** Math.floor(Math.log10(top / 4));
  const step =
    [1, 2, 5, 10].map((m) => m * magnitude).find((candidate) => top / candidate <= 10) ?? 10 * magnitude;
  const high = Math.ceil(top / step) * step;
  const lines = [];
  for (let value = 0; value <= high + step / 2; value += step) lines.push(Number(value.toPrecision(12)));
  return { high, step, lines };
}

/** @param {number} value */
function label(value) {
  return Math.abs(value) >= 1000 ? value.toLocaleString("en-US") : String(Number(value.toPrecision(4)));
}

/**
 * @param {LineChart} chart
 * @returns {string} a standalone SVG document
 */
export function renderLineChart(chart) {
  const all = chart.series.flatMap((series) => series.points);
  const xMax = Math.max(1, ...all.map(([x]) => x), ...(chart.markers ?? []).map((marker) => marker.x));
  const yAxis = roundAxis(Math.max(0, ...all.map(([, y]) => y)));
  const xAxis = roundAxis(xMax);
  const plotWidth = WIDTH - PLOT.left - PLOT.right;
  const plotHeight = HEIGHT - PLOT.top - PLOT.bottom;
  const px = (/** @type {number} */ x) => PLOT.left + (plotWidth * x) / xAxis.high;
  const py = (/** @type {number} */ y) => PLOT.top + plotHeight * (1 - y / yAxis.high);
  const bottom = PLOT.top + plotHeight;

  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    `<title>${escapeXml(chart.title)}</title>`,
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${PLOT.left}" y="26" font-size="17" font-weight="bold">${escapeXml(chart.title)}</text>`,
  ];
  let legendX = PLOT.left;
  chart.series.forEach((series, index) => {
    const x = legendX;
    // About 6.5 px per character at 12 px: the next entry starts after this one's text.
    legendX += Math.max(160, Math.ceil(series.label.length * 6.5) + 44);
    parts.push(
      `<rect x="${x}" y="40" width="14" height="4" fill="${COLORS[index % COLORS.length]}"/>`,
      `<text x="${x + 20}" y="46">${escapeXml(series.label)}</text>`,
    );
  });
  for (const value of yAxis.lines) {
    const lineY = py(value).toFixed(1);
    parts.push(
      `<line x1="${PLOT.left}" y1="${lineY}" x2="${WIDTH - PLOT.right}" y2="${lineY}" stroke="#e5e7eb"/>`,
      `<text x="${PLOT.left - 8}" y="${lineY}" dy="4" text-anchor="end" fill="#374151">${label(value)}</text>`,
    );
  }
  for (const value of xAxis.lines) {
    parts.push(
      `<text x="${px(value).toFixed(1)}" y="${bottom + 16}" text-anchor="middle" fill="#374151">${label(value)}</text>`,
    );
  }
  parts.push(
    `<text x="${(PLOT.left + plotWidth / 2).toFixed(1)}" y="${bottom + 34}" text-anchor="middle">${escapeXml(chart.xLabel)}</text>`,
    `<text x="16" y="${(PLOT.top + plotHeight / 2).toFixed(1)}" text-anchor="middle" transform="rotate(-90 16 ${(PLOT.top + plotHeight / 2).toFixed(1)})">${escapeXml(chart.yLabel)}</text>`,
  );
  for (const marker of chart.markers ?? []) {
    const at = px(marker.x);
    const x = at.toFixed(1);
    // Near an edge the label runs inwards, so that it is not cut off.
    const share = (at - PLOT.left) / plotWidth;
    const anchor = share < 0.15 ? "start" : share > 0.85 ? "end" : "middle";
    parts.push(
      `<line x1="${x}" y1="${PLOT.top}" x2="${x}" y2="${bottom}" stroke="#6b7280" stroke-dasharray="4 4"/>`,
      `<text x="${x}" y="${PLOT.top - 6}" text-anchor="${anchor}" fill="#374151" font-size="11">${escapeXml(marker.label)}</text>`,
    );
  }
  chart.series.forEach((series, index) => {
    if (series.points.length === 0) return;
    const points = series.points.map(([x, y]) => `${px(x).toFixed(1)},${py(y).toFixed(1)}`).join(" ");
    parts.push(
      `<polyline points="${points}" fill="none" stroke="${COLORS[index % COLORS.length]}" stroke-width="2"><title>${escapeXml(series.label)}</title></polyline>`,
    );
  });
  parts.push(
    `<line x1="${PLOT.left}" y1="${PLOT.top}" x2="${PLOT.left}" y2="${bottom}" stroke="#111"/>`,
    `<line x1="${PLOT.left}" y1="${bottom}" x2="${WIDTH - PLOT.right}" y2="${bottom}" stroke="#111"/>`,
  );
  (chart.caption ?? []).forEach((line, index) => {
    parts.push(
      `<text x="${PLOT.left}" y="${bottom + 56 + index * 16}" fill="#374151" font-size="11">${escapeXml(line)}</text>`,
    );
  });
  parts.push("</svg>", "");
  return parts.join("\n");
}
