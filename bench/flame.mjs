// @ts-check
/**
 * Reads a V8 CPU profile (`.cpuprofile`, what `node --cpu-prof` and the inspector write):
 * self time per area of the client (encode, parse, route, ...) and per function, and a
 * flame graph as SVG. Used by bench/profile.mjs (issue 18).
 *
 * The profiler samples wall time: a native frame such as `writeBuffer` (the socket write)
 * also holds the time the thread was descheduled inside the system call — on a machine
 * whose cores the servers share, a write that wakes a server can cost a context switch.
 */
import { escapeXml } from "./chart.mjs";

/**
 * @typedef {object} ProfileNode
 * @property {number} id
 * @property {{ functionName: string, url: string, lineNumber: number, columnNumber: number }} callFrame
 * @property {number[]} [children]
 */

/**
 * @typedef {object} CpuProfile
 * @property {ProfileNode[]} nodes
 * @property {number} startTime µs
 * @property {number} endTime µs
 * @property {number[]} [samples] node id per sample
 * @property {number[]} [timeDeltas] µs before each sample
 */

/**
 * Where a frame's time goes, by the file it runs in. The order matters: the first match wins.
 * @type {ReadonlyArray<readonly [area: string, test: (url: string, name: string) => boolean]>}
 */
const AREAS = [
  ["GC", (_url, name) => name === "(garbage collector)"],
  ["idle", (_url, name) => name === "(idle)"],
  ["V8/native (program)", (_url, name) => name === "(program)"],
  ["encode (resp/encode)", (url) => /\/resp\/(encode|writer)/.test(url)],
  ["parse (resp/parse)", (url) => /\/resp\//.test(url)],
  ["route (slot, router)", (url) => /\/(command\/slot|cluster\/router|cluster\/topology)\./.test(url)],
  ["command record (command/)", (url) => /\/command\//.test(url)],
  ["executor (send, retry, settle)", (url) => /\/cluster\//.test(url)],
  ["connection (queue, write, read)", (url) => /\/connection\//.test(url)],
  ["client API (client, batch)", (url) => /(^|\/)dist\/esm\//.test(url)],
  ["bench harness", (url) => /(^|\/)bench\//.test(url)],
  [
    "node: sockets and streams",
    (url) => /^node:(net|stream|internal\/(stream|net|streams)|_stream)/.test(url),
  ],
  ["node: promises, timers, other", (url) => url.startsWith("node:")],
  ["builtins (no url)", (url) => url === ""],
];

/**
 * @param {ProfileNode["callFrame"]} frame
 * @returns {string}
 */
export function areaOf(frame) {
  for (const [area, test] of AREAS) if (test(frame.url, frame.functionName)) return area;
  return "other";
}

/**
 * Self time (µs) per node id, from the samples and their time deltas.
 *
 * @param {CpuProfile} profile
 * @returns {Map<number, number>}
 */
function selfTimes(profile) {
  /** @type {Map<number, number>} */
  const self = new Map();
  const samples = profile.samples ?? [];
  const deltas = profile.timeDeltas ?? [];
  for (let index = 0; index < samples.length; index++) {
    const id = /** @type {number} */ (samples[index]);
    // A delta is the time since the previous sample: it belongs to the next one's frame.
    const delta = deltas[index + 1] ?? 0;
    self.set(id, (self.get(id) ?? 0) + Math.max(0, delta));
  }
  return self;
}

/** @param {ProfileNode["callFrame"]} frame */
function frameLabel(frame) {
  const file =
    frame.url === ""
      ? ""
      : frame.url.replace(/^(.*\/)?(dist\/esm|bench)\//, "$2/").replace(/^file:\/\/.*\//, "");
  return `${frame.functionName || "(anonymous)"}${file === "" ? "" : ` ${file}:${frame.lineNumber + 1}`}`;
}

/**
 * A text summary: self time per area and the heaviest functions, with µs per command.
 *
 * @param {CpuProfile} profile
 * @param {number} commands commands completed in the profiled window
 * @returns {string}
 */
export function summarizeProfile(profile, commands) {
  const self = selfTimes(profile);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  /** @type {Map<string, number>} */
  const areas = new Map();
  /** @type {Map<string, number>} */
  const functions = new Map();
  let total = 0;
  for (const [id, micros] of self) {
    const node = byId.get(id);
    if (node === undefined) continue;
    total += micros;
    const area = areaOf(node.callFrame);
    areas.set(area, (areas.get(area) ?? 0) + micros);
    const label = frameLabel(node.callFrame);
    functions.set(label, (functions.get(label) ?? 0) + micros);
  }
  const busy = total - (areas.get("idle") ?? 0);
  const line = (/** @type {string} */ name, /** @type {number} */ micros) =>
    `  ${name.padEnd(64)}${(micros / 1000).toFixed(1).padStart(9)} ms${((micros / Math.max(1, busy)) * 100).toFixed(1).padStart(7)}%${(commands > 0 ? micros / commands : Number.NaN).toFixed(3).padStart(9)} µs/cmd`;
  const out = [
    `busy ${(busy / 1000).toFixed(0)} ms of ${(total / 1000).toFixed(0)} ms sampled; ${commands > 0 ? (busy / commands).toFixed(3) : "—"} µs of CPU per command`,
    "",
    "self time by area (of busy time):",
  ];
  for (const [area, micros] of [...areas].sort((a, b) => b[1] - a[1])) {
    if (area !== "idle") out.push(line(area, micros));
  }
  out.push("", "heaviest functions (self time):");
  functions.delete("(idle)");
  for (const [label, micros] of [...functions].sort((a, b) => b[1] - a[1]).slice(0, 25)) {
    out.push(line(label.length > 62 ? `${label.slice(0, 61)}…` : label, micros));
  }
  return out.join("\n");
}

/** Colour per area: warm for the client's own code, grey for node and V8. */
const COLOURS = /** @type {Record<string, string>} */ ({
  "encode (resp/encode)": "#e6550d",
  "parse (resp/parse)": "#fd8d3c",
  "route (slot, router)": "#fdae6b",
  "command record (command/)": "#d94801",
  "executor (send, retry, settle)": "#f16913",
  "connection (queue, write, read)": "#fdd0a2",
  "client API (client, batch)": "#a63603",
  "bench harness": "#9ecae1",
  GC: "#de2d26",
});

/**
 * A flame graph (root at the bottom, callees above, width = total time) as an SVG string.
 *
 * @param {CpuProfile} profile
 * @param {string} title
 * @returns {string}
 */
export function renderFlameGraph(profile, title) {
  const self = selfTimes(profile);
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  /** @type {Map<number, number>} */
  const totals = new Map();
  /** @param {ProfileNode} node @returns {number} */
  const totalOf = (node) => {
    let sum = self.get(node.id) ?? 0;
    for (const child of node.children ?? []) {
      const childNode = byId.get(child);
      if (childNode !== undefined) sum += totalOf(childNode);
    }
    totals.set(node.id, sum);
    return sum;
  };
  const root = profile.nodes[0];
  if (root === undefined) return "<svg xmlns='http://www.w3.org/2000/svg'/>";
  // The idle frame is time the process waited: leave it out, so that width is CPU time.
  const idle = profile.nodes.filter((node) => node.callFrame.functionName === "(idle)");
  for (const node of idle) self.set(node.id, 0);
  const rootTotal = Math.max(1, totalOf(root));
  const width = 1200;
  const rowHeight = 16;
  /** @type {string[]} */
  const rects = [];
  let maxDepth = 0;
  /**
   * @param {ProfileNode} node
   * @param {number} x
   * @param {number} depth
   */
  const place = (node, x, depth) => {
    const nodeWidth = ((totals.get(node.id) ?? 0) / rootTotal) * width;
    if (nodeWidth < 0.3) return;
    maxDepth = Math.max(maxDepth, depth);
    if (depth > 0) {
      const label = frameLabel(node.callFrame);
      const share = (((totals.get(node.id) ?? 0) / rootTotal) * 100).toFixed(1);
      const fill = COLOURS[areaOf(node.callFrame)] ?? "#c7c7c7";
      const text = nodeWidth > 40 ? label.slice(0, Math.floor(nodeWidth / 6.5)) : "";
      rects.push(
        `<g><title>${escapeXml(`${label} — ${share}%`)}</title><rect x="${x.toFixed(1)}" y="DEPTH${depth}" width="${nodeWidth.toFixed(1)}" height="${rowHeight - 1}" fill="${fill}"/>` +
          (text === "" ? "" : `<text x="${(x + 3).toFixed(1)}" y="TEXT${depth}">${escapeXml(text)}</text>`) +
          "</g>",
      );
    }
    let childX = x;
    for (const child of node.children ?? []) {
      const childNode = byId.get(child);
      if (childNode === undefined) continue;
      place(childNode, childX, depth + 1);
      childX += ((totals.get(child) ?? 0) / rootTotal) * width;
    }
  };
  place(root, 0, 0);
  const top = 40;
  const height = top + maxDepth * rowHeight + 10;
  const body = rects
    .join("\n")
    .replace(/y="DEPTH(\d+)"/g, (_, depth) => `y="${height - 10 - Number(depth) * rowHeight}"`)
    .replace(/y="TEXT(\d+)"/g, (_, depth) => `y="${height - 10 - Number(depth) * rowHeight + 11}"`);
  return [
    `<svg xmlns="http://www.w3.org/2000/svg" width="${width}" height="${height}" font-family="monospace" font-size="10">`,
    `<title>${escapeXml(`Flame graph: ${title}`)}</title>`,
    `<rect width="100%" height="100%" fill="#fff"/>`,
    `<text x="4" y="16" font-size="13">${escapeXml(title)}</text>`,
    `<text x="4" y="32" fill="#555">width = CPU time (idle left out); orange = rediscluster (darker: API and command record), red = GC, blue = bench loop, grey = node and V8. Hover for names.</text>`,
    body,
    "</svg>",
  ].join("\n");
}
