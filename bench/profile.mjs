// @ts-check
/**
 * `npm run bench:profile -- --workload W3`: a CPU profile of rediscluster on one workload
 * (issue 18). Starts a throwaway 3+3 dev cluster (or uses `--seeds`), writes the bench's
 * 10,000 keys, warms up, then profiles the measured window with the inspector's sampling
 * profiler (what `node --cpu-prof` uses) and writes, under `bench/results/profiles/`:
 *
 *   <workload>.cpuprofile   open in Chrome DevTools (Performance tab) or speedscope.app
 *   <workload>.svg          a flame graph of the same samples (root at the bottom)
 *   <workload>.txt          self time by area (encode, parse, route, settle, socket, GC...)
 *                           and the 25 heaviest functions
 *
 * The profile is of the built package (`dist/esm`), like the bench.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { Session } from "node:inspector/promises";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { CLIENTS, REDISCLUSTER_ENTRY } from "./clients.mjs";
import { renderFlameGraph, summarizeProfile } from "./flame.mjs";
import { buildBenchData, KEY_COUNT } from "./keys.mjs";
import { drive, verifyReplies, WORKLOADS } from "./workloads.mjs";

const USAGE = `usage: npm run bench:profile -- [--workload W3] [--duration 5000] [--seeds host:port,...] [--out dir]

  --workload <id>    one of ${WORKLOADS.map((workload) => workload.id).join(", ")} (default W3)
  --duration <ms>    profiled time (default 5000), after a 1 s warm-up
  --seeds <list>     an existing cluster (default: a local 3+3 dev cluster)
  --out <dir>        where the files go (default bench/results/profiles)`;

async function main() {
  const { values } = parseArgs({
    options: {
      workload: { type: "string", default: "W3" },
      duration: { type: "string", default: "5000" },
      seeds: { type: "string" },
      out: { type: "string", default: new URL("./results/profiles", import.meta.url).pathname },
      help: { type: "boolean" },
    },
  });
  if (values.help) {
    process.stdout.write(`${USAGE}\n`);
    return;
  }
  const workload = WORKLOADS.find((candidate) => candidate.id === values.workload?.toUpperCase());
  if (workload === undefined) throw new Error(`unknown workload ${values.workload}\n${USAGE}`);
  const durationMs = Number(values.duration);
  if (!Number.isInteger(durationMs) || durationMs < 100) throw new Error("--duration: an integer ≥ 100 (ms)");

  /** @type {typeof import("../src/index.js")} */
  const { RedisCluster } = await import(REDISCLUSTER_ENTRY.href);
  /** @type {import("../src/dev/index.js").DevCluster | undefined} */
  let dev;
  let seeds = values.seeds?.split(",").map((seed) => seed.trim());
  if (seeds === undefined) {
    /** @type {typeof import("../src/dev/index.js")} */
    const devModule = await import(new URL("../dist/esm/dev/index.js", import.meta.url).href);
    dev = await devModule.startDevCluster({ primaries: 3, replicasPerPrimary: 1 });
    seeds = [...dev.seeds];
  }
  const spec = CLIENTS.find((candidate) => candidate.id === "rediscluster");
  if (spec === undefined) throw new Error("the bench has no rediscluster client");
  const session = new Session();
  try {
    const data = buildBenchData();
    const admin = new RedisCluster({ nodes: seeds });
    try {
      for (let start = 0; start < KEY_COUNT; start += 1_000) {
        const pairs = [];
        for (let index = start; index < Math.min(KEY_COUNT, start + 1_000); index++) {
          pairs.push(data.keys[index] ?? "", data.values[index] ?? "");
        }
        await admin.mset(...pairs);
      }
    } finally {
      await admin.close();
    }
    const client = await spec.connect(seeds);
    try {
      const operation = workload.operation(client, data);
      await verifyReplies(workload, operation, data);
      await drive(operation, workload.inFlight, 1_000, false);
      globalThis.gc?.();
      session.connect();
      await session.post("Profiler.enable");
      // 100 µs between samples: a command costs a few µs, so this still sees the small frames.
      await session.post("Profiler.setSamplingInterval", { interval: 100 });
      await session.post("Profiler.start");
      const result = await drive(operation, workload.inFlight, durationMs, false);
      const { profile } = await session.post("Profiler.stop");
      const commands = result.operations * workload.keysPerOperation;
      mkdirSync(values.out, { recursive: true });
      const base = join(values.out, workload.id);
      // Script URLs relative to the project: the file carries no path of this machine.
      const root = new URL("..", import.meta.url).href;
      for (const node of profile.nodes) node.callFrame.url = node.callFrame.url.replace(root, "");
      writeFileSync(`${base}.cpuprofile`, JSON.stringify(profile));
      const title = `rediscluster ${workload.id} (${workload.title}), ${durationMs} ms, ${commands.toLocaleString("en-US")} commands`;
      writeFileSync(`${base}.svg`, renderFlameGraph(profile, title));
      const summary = summarizeProfile(profile, commands);
      writeFileSync(`${base}.txt`, `${title}\n\n${summary}\n`);
      process.stdout.write(`${title}\n\n${summary}\n\nwritten: ${base}.{cpuprofile,svg,txt}\n`);
    } finally {
      await client.close();
    }
  } finally {
    session.disconnect();
    await dev?.stop();
  }
}

main().catch((error) => {
  process.stderr.write(
    `profile failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`,
  );
  process.exitCode = 1;
});
