// @ts-check
/**
 * The ratio chart as a hand-written SVG: one group of bars per workload, one bar per other
 * client, each bar being rediscluster ÷ that client. The scale is logarithmic (2× and 0.5×
 * are the same distance from 1×) and bars start at 1×: up means rediscluster wins, down
 * means it loses. A short black mark on each ioredis bar is issue 6's bar. The caption
 * names the machine and versions the numbers came from.
 *
 *     4×│          ▆
 *     2×│   ▆ ▆    █ ▆          ▆ = one client's ratio, ━ = issue 6's bar (vs ioredis)
 *     1×│---█-█--▄-█-█------
 *   0.5×│        █
 *       └──────────────────
 *          W1     W2   ...
 */
import { BASE_CLIENT } from "./report.mjs";

/** @typedef {import("./report.mjs").BenchReport} BenchReport */

const WIDTH = 1100;
const HEIGHT = 470;
const PLOT = { left: 64, right: 24, top: 78, bottom: 110 };
const COLORS = ["#d97706", "#2563eb", "#059669", "#9333ea", "#dc2626"];

/**
 * Text for XML content and attribute values.
 *
 * @param {string} text
 */
export function escapeXml(text) {
  return text
    .replaceAll("&", "&amp;")
    .replaceAll("<", "&lt;")
    .replaceAll(">", "&gt;")
    .replaceAll('"', "&quot;")
    .replaceAll("'", "&apos;");
}

/**
 * The axis: powers of two around every value (with room for a label under the lowest bar),
 * at least 0.5× to 2×; with three octaves or fewer, the 1.5× steps get a line too.
 *
 * @param {number[]} values positive ratios
 * @returns {{ low: number, high: number, lines: number[] }}
 */
export function logAxis(values) {
  const low = 2 ** Math.min(-1, Math.floor(Math.log2(Math.min(1, ...values) / 1.5)));
  const high = 2 ** Math.max(1, Math.ceil(Math.log2(Math.max(1, ...values) * 1.15)));
  const lines = [];
  const fine = Math.log2(high / low) <= 3;
  for (let value = low; value <= high; value *= 2) {
    lines.push(value);
    if (fine && value * 1.5 < high) lines.push(value * 1.5);
  }
  return { low, high, lines };
}

/** @param {number} value */
const axisLabel = (value) => `${Number(value.toPrecision(3))}×`;

/**
 * Renders the chart of a report.
 *
 * @param {BenchReport} report
 * @returns {string} a standalone SVG document
 */
export function renderChart(report) {
  const others = report.clients.filter((client) => client.id !== BASE_CLIENT);
  /** @type {Array<{ label: string, ratios: Array<number | null>, target: number }>} */
  const groups = report.workloads.map((workload) => ({
    label: workload.id,
    ratios: others.map((client) => workload.ratios[client.id] ?? null),
    target: workload.target.ratio,
  }));
  const memory = report.memory;
  if (memory !== undefined) {
    groups.push({
      label: "W6 RSS",
      ratios: others.map((client) => memory.rssRatios[client.id] ?? null),
      target: 1,
    });
  }
  const values = groups
    .flatMap((group) => [...group.ratios, group.target])
    .filter((value) => value !== null && value > 0);
  const axis = logAxis(/** @type {number[]} */ (values));
  const plotWidth = WIDTH - PLOT.left - PLOT.right;
  const plotHeight = HEIGHT - PLOT.top - PLOT.bottom;
  const span = Math.log2(axis.high / axis.low);
  const y = (/** @type {number} */ value) => {
    const clamped = Math.min(axis.high, Math.max(axis.low, value));
    return PLOT.top + (plotHeight * Math.log2(axis.high / clamped)) / span;
  };
  const bottom = y(axis.low);
  const one = y(1);
  const groupWidth = plotWidth / Math.max(1, groups.length);
  const barWidth = Math.min(44, (groupWidth * 0.78) / Math.max(1, others.length));
  // A ratio's label ("1.85") is up to 2.6 font sizes wide (a fallback font's digits are wider
  // than Helvetica's): with four or more clients the bars get narrower than that at 11 px,
  // and neighbouring labels would overlap.
  const labelSize = Math.max(8, Math.min(11, Math.floor(barWidth / 2.6)));

  const parts = [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="Helvetica, Arial, sans-serif" font-size="12">`,
    "<title>rediscluster ÷ other clients, per workload</title>",
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>`,
    `<text x="${PLOT.left}" y="26" font-size="17" font-weight="bold">rediscluster ÷ other clients: above 1× rediscluster is faster (W6: smaller)</text>`,
  ];
  others.forEach((client, index) => {
    const x = PLOT.left + index * 150;
    parts.push(
      `<rect x="${x}" y="42" width="14" height="14" fill="${COLORS[index % COLORS.length]}"/>`,
      `<text x="${x + 20}" y="53">${escapeXml(client.label)}</text>`,
    );
  });
  const legendX = PLOT.left + others.length * 150;
  parts.push(
    `<line x1="${legendX}" y1="49" x2="${legendX + 16}" y2="49" stroke="#111" stroke-width="3"/>`,
    `<text x="${legendX + 22}" y="53">issue 6 bar (vs ioredis)</text>`,
  );
  for (const value of axis.lines) {
    const lineY = y(value).toFixed(1);
    parts.push(
      `<line x1="${PLOT.left}" y1="${lineY}" x2="${WIDTH - PLOT.right}" y2="${lineY}" stroke="#e5e7eb"/>`,
      `<text x="${PLOT.left - 8}" y="${lineY}" dy="4" text-anchor="end" fill="#374151">${axisLabel(value)}</text>`,
    );
  }
  groups.forEach((group, groupIndex) => {
    const groupLeft = PLOT.left + groupIndex * groupWidth + (groupWidth - barWidth * others.length) / 2;
    group.ratios.forEach((value, clientIndex) => {
      const x = groupLeft + clientIndex * barWidth;
      const centre = (x + barWidth / 2).toFixed(1);
      const client = others[clientIndex];
      if (value === null || value <= 0) {
        parts.push(
          `<text x="${centre}" y="${(one - 6).toFixed(1)}" text-anchor="middle" fill="#6b7280">n/a</text>`,
        );
        return;
      }
      const end = y(value);
      const wins = value >= 1;
      parts.push(
        `<rect x="${(x + 2).toFixed(1)}" y="${Math.min(end, one).toFixed(1)}" width="${(barWidth - 4).toFixed(1)}" height="${Math.max(1, Math.abs(one - end)).toFixed(1)}" fill="${COLORS[clientIndex % COLORS.length]}"><title>${escapeXml(`${group.label} vs ${client?.label ?? ""}: ${value.toFixed(2)}×`)}</title></rect>`,
        `<text x="${centre}" y="${(wins ? end - 5 : end + 14).toFixed(1)}" text-anchor="middle" font-size="${labelSize}">${value.toFixed(2)}</text>`,
      );
      if (client?.id === "ioredis") {
        const markY = y(group.target).toFixed(1);
        parts.push(
          `<line x1="${(x - 2).toFixed(1)}" y1="${markY}" x2="${(x + barWidth + 2).toFixed(1)}" y2="${markY}" stroke="#111" stroke-width="3"/>`,
        );
      }
    });
    parts.push(
      `<text x="${(PLOT.left + (groupIndex + 0.5) * groupWidth).toFixed(1)}" y="${bottom + 20}" text-anchor="middle" font-weight="bold">${escapeXml(group.label)}</text>`,
    );
  });
  parts.push(
    `<line x1="${PLOT.left}" y1="${one.toFixed(1)}" x2="${WIDTH - PLOT.right}" y2="${one.toFixed(1)}" stroke="#111" stroke-dasharray="6 4"/>`,
    `<line x1="${PLOT.left}" y1="${PLOT.top}" x2="${PLOT.left}" y2="${bottom}" stroke="#111"/>`,
    `<line x1="${PLOT.left}" y1="${bottom}" x2="${WIDTH - PLOT.right}" y2="${bottom}" stroke="#111"/>`,
  );
  const { machine, settings } = report;
  const versions = [...new Set(report.clients.map((client) => `${client.packageName} ${client.version}`))];
  const caption = [
    "W1 GET ×1 · W2 GET/SET ×64 · W3 GET ×1,024 · W4 pipeline of 100 GETs · W5 MGET of 100 keys",
    `W8 MULTI…EXEC ×64 · W9 EVALSHA ×64 · W10 sharded Pub/Sub msgs · W6 RSS after ${memory?.gets.toLocaleString("en-US") ?? "?"} GETs (×64)`,
    `${versions.join(" · ")} · commit ${machine.commit} · Node ${machine.node} · Redis ${machine.redisServer}`,
    `${settings.cluster} · ${machine.cpuModel} × ${machine.cores} · medians of ${settings.rounds} interleaved round(s) × ${settings.durationMs} ms · ${report.startedAt.slice(0, 10)}`,
  ];
  caption.forEach((line, index) => {
    parts.push(
      `<text x="${PLOT.left}" y="${bottom + 48 + index * 17}" fill="#374151" font-size="11">${escapeXml(line)}</text>`,
    );
  });
  parts.push("</svg>", "");
  return parts.join("\n");
}
