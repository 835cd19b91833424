// @ts-check
/**
 * `npm run chaos`: a consistency checker in the spirit of antirez's redis-rb-cluster
 * consistency test (issue 14, item 5). Workers INCR 1,000 counters through one client and
 * keep a record of every acknowledged increment, while the cluster goes through:
 *
 *   baseline → a reshard (slots with keys move under load) → a graceful CLUSTER FAILOVER
 *     → kill -9 of a primary (its replica takes over; the node is restarted afterwards)
 *
 * After each phase the load pauses, every counter is read and compared with the record:
 *
 *   lost        acknowledged increments missing from the counter (value < acknowledged)
 *   unexpected  increments nobody could have made (value > acknowledged + in doubt)
 *   in doubt    INCRs that failed as "may have run" (ConnectionError with outcomeUnknown,
 *               or TimeoutError), and how many of them did run
 *
 * Any other failure (a refused connection, CLUSTERDOWN, ...) is, by the client's contract,
 * an INCR that did not run: one that ran anyway shows as unexpected. Then the record is
 * re-based on what was read, so that each phase is judged on its own. Graceful phases must
 * lose nothing and show nothing unexpected (exit 1 otherwise); kill -9 may lose the writes
 * the dead primary acknowledged before its replica got them (asynchronous replication), and
 * is reported only.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, relative } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { REDISCLUSTER_ENTRY } from "./clients.mjs";
import { describeMachine, redisVersionFromInfo } from "./machine.mjs";

/** @typedef {import("../src/dev/index.js").DevNode} DevNode */

const RESULTS_DIR = fileURLToPath(new URL("results/", import.meta.url));
/** Slots moved by the reshard phase. */
const RESHARD_SLOTS = 1000;

/**
 * @param {string[]} argv
 */
export function parseChaosOptions(argv) {
  const { values } = parseArgs({
    args: argv,
    options: {
      counters: { type: "string" },
      workers: { type: "string" },
      seconds: { type: "string" },
      quick: { type: "boolean" },
      json: { type: "string" },
    },
  });
  const quick = values.quick ?? false;
  const positive = (
    /** @type {string | undefined} */ text,
    /** @type {string} */ name,
    /** @type {number} */ fallback,
  ) => {
    const value = text === undefined ? fallback : Number(text);
    if (!(value > 0) || !Number.isFinite(value)) throw new Error(`--${name} must be a positive number`);
    return value;
  };
  const jsonPath =
    values.json ?? (quick ? join(tmpdir(), "rediscluster-chaos.json") : join(RESULTS_DIR, "chaos.json"));
  return {
    counters: Math.round(positive(values.counters, "counters", 1000)),
    workers: Math.round(positive(values.workers, "workers", 50)),
    /** Load before and after each phase's event. */
    phaseMs: positive(values.seconds, "seconds", quick ? 2 : 5) * 1000,
    jsonPath,
  };
}

/**
 * @typedef {object} CounterRecord
 * @property {number[]} acked acknowledged increments per counter since the last re-base
 * @property {number[]} inDoubt increments that may have run, per counter
 * @property {number[]} base each counter's value at the last re-base
 */

/**
 * @typedef {object} PhaseCheck
 * @property {number} acked acknowledged increments in the phase
 * @property {number} inDoubt increments that may or may not have run
 * @property {number} inDoubtApplied of those, how many ran
 * @property {number} lost acknowledged increments missing
 * @property {number} unexpected increments beyond acknowledged + in doubt
 * @property {number} countersLost counters with a loss
 */

/**
 * Compares the counters read with the record (pure: see bench/test/chaos.test.mjs).
 *
 * @param {CounterRecord} record
 * @param {ReadonlyArray<number>} values each counter's value now
 * @returns {PhaseCheck}
 */
export function checkCounters(record, values) {
  const check = { acked: 0, inDoubt: 0, inDoubtApplied: 0, lost: 0, unexpected: 0, countersLost: 0 };
  values.forEach((value, i) => {
    const acked = record.acked[i] ?? 0;
    const inDoubt = record.inDoubt[i] ?? 0;
    const grown = value - (record.base[i] ?? 0);
    check.acked += acked;
    check.inDoubt += inDoubt;
    if (grown < acked) {
      check.lost += acked - grown;
      check.countersLost++;
    } else if (grown > acked + inDoubt) {
      check.unexpected += grown - acked - inDoubt;
      check.inDoubtApplied += inDoubt;
    } else {
      check.inDoubtApplied += grown - acked;
    }
  });
  return check;
}

/**
 * A fresh record starting from `values`.
 *
 * @param {ReadonlyArray<number>} values
 * @returns {CounterRecord}
 */
export function rebase(values) {
  return { acked: values.map(() => 0), inDoubt: values.map(() => 0), base: [...values] };
}

const sleep = (/** @type {number} */ ms) => new Promise((resolve) => setTimeout(resolve, ms));

async function main() {
  const settings = parseChaosOptions(process.argv.slice(2));
  /** @type {typeof import("../src/dev/index.js")} */
  const devModule = await import(new URL("../dist/esm/dev/index.js", import.meta.url).href);
  /** @type {typeof import("../src/index.js")} */
  const { RedisCluster, ConnectionError, TimeoutError, RedisClusterError } = await import(
    REDISCLUSTER_ENTRY.href
  );
  const startedAt = new Date().toISOString();
  const dev = await devModule.startDevCluster({ primaries: 3, replicasPerPrimary: 1 });
  const client = new RedisCluster({ nodes: dev.seeds, commandTimeout: 2000 });
  client.on("error", () => {});
  const keys = Array.from({ length: settings.counters }, (_, i) => `chaos:counter:${i}`);
  /** @type {Array<{ name: string, graceful: boolean, check: PhaseCheck, errors: Record<string, number>, commands: number }>} */
  const phases = [];
  let redisVersion = "unknown";
  try {
    redisVersion = redisVersionFromInfo(String(await dev.command(dev.nodes[0]?.port ?? 0, "INFO", "server")));
    await client.connect();
    await client.del(...keys);
    const read = async () => (await client.mget(...keys)).map((value) => Number(value ?? 0));
    let record = rebase(await read());

    /**
     * Runs the load for phaseMs, the event, phaseMs more; then pauses and checks.
     *
     * @param {string} name
     * @param {boolean} graceful
     * @param {() => Promise<void>} event
     */
    const phase = async (name, graceful, event) => {
      let running = true;
      let commands = 0;
      /** @type {Record<string, number>} */
      const errors = {};
      const current = record;
      const workers = Array.from({ length: settings.workers }, async () => {
        while (running) {
          const i = Math.floor(Math.random() * keys.length);
          commands++;
          try {
            await client.incr(/** @type {string} */ (keys[i]));
            current.acked[i] = (current.acked[i] ?? 0) + 1;
          } catch (error) {
            const mayHaveRun =
              (error instanceof ConnectionError && error.outcomeUnknown) || error instanceof TimeoutError;
            if (mayHaveRun) current.inDoubt[i] = (current.inDoubt[i] ?? 0) + 1;
            const label =
              error instanceof RedisClusterError
                ? `${error.name}${error instanceof ConnectionError && error.outcomeUnknown ? " (outcome unknown)" : ""}`
                : `untyped: ${String(error)}`;
            errors[label] = (errors[label] ?? 0) + 1;
          }
        }
      });
      await sleep(settings.phaseMs);
      await event();
      await sleep(settings.phaseMs);
      running = false;
      await Promise.all(workers);
      const values = await read();
      const check = checkCounters(current, values);
      phases.push({ name, graceful, check, errors, commands });
      record = rebase(values);
      process.stderr.write(
        `${name.padEnd(18)} acked ${check.acked}, in doubt ${check.inDoubt} (${check.inDoubtApplied} ran), lost ${check.lost}, unexpected ${check.unexpected}\n`,
      );
    };

    await phase("baseline", true, async () => {});
    await phase("reshard", true, async () => {
      const primaries = (await dev.refresh()).filter((node) => node.role === "primary");
      const [from, to] = /** @type {[DevNode, DevNode]} */ (primaries);
      /** @type {number[]} */
      const slots = [];
      for (const [start, end] of from.slots) {
        for (let slot = start; slot <= end && slots.length < RESHARD_SLOTS; slot++) slots.push(slot);
      }
      await dev.migrateSlots(from.port, to.port, slots);
    });
    await phase("graceful failover", true, async () => {
      const replica = /** @type {DevNode} */ ((await dev.refresh()).find((node) => node.role === "replica"));
      await dev.failover(replica.port);
    });
    await phase("kill -9 of a primary", false, async () => {
      const nodes = await dev.refresh();
      const victim = /** @type {DevNode} */ (nodes.find((node) => node.role === "primary"));
      await dev.killNode(victim.port, "SIGKILL");
      await dev.waitForHealthy(); // its replica took over
      await dev.restartNode(victim.port);
      await dev.waitForHealthy();
    });
  } finally {
    await client.close().catch(() => undefined);
    await dev.stop();
  }

  const failures = phases
    .filter((phase) => phase.graceful && (phase.check.lost > 0 || phase.check.unexpected > 0))
    .map((phase) => `${phase.name}: ${phase.check.lost} lost, ${phase.check.unexpected} unexpected`);
  const untyped = phases.flatMap((phase) =>
    Object.keys(phase.errors).filter((name) => name.startsWith("untyped")),
  );
  if (untyped.length > 0) failures.push(`untyped errors: ${untyped.join(", ")}`);
  const rows = [
    ["phase", "INCRs", "acked", "in doubt (ran)", "lost", "unexpected", "errors"],
    ...phases.map((phase) => [
      phase.name,
      String(phase.commands),
      String(phase.check.acked),
      `${phase.check.inDoubt} (${phase.check.inDoubtApplied})`,
      String(phase.check.lost),
      String(phase.check.unexpected),
      Object.entries(phase.errors)
        .map(([name, n]) => `${name} ×${n}`)
        .join(", ") || "-",
    ]),
  ];
  const widths = (rows[0] ?? []).map((_, column) =>
    Math.max(...rows.map((row) => (row[column] ?? "").length)),
  );
  process.stdout.write(
    `\n${rows.map((row) => row.map((cell, column) => cell.padEnd(widths[column] ?? 0)).join("  ")).join("\n")}\n\n`,
  );
  const machine = describeMachine(redisVersion);
  mkdirSync(dirname(settings.jsonPath), { recursive: true });
  writeFileSync(
    settings.jsonPath,
    // Where the file went is this machine's business: the results name no path.
    `${JSON.stringify({ startedAt, machine, settings: { ...settings, jsonPath: undefined }, phases, ok: failures.length === 0, failures }, null, 2)}\n`,
  );
  const shown = (/** @type {string} */ path) =>
    path.startsWith(process.cwd()) ? relative(process.cwd(), path) : path;
  process.stdout.write(`results: ${shown(settings.jsonPath)}\n`);
  process.stdout.write(failures.length === 0 ? "chaos: OK\n" : `chaos: FAILED\n  ${failures.join("\n  ")}\n`);
  process.exitCode = failures.length === 0 ? 0 : 1;
}

if (process.argv[1] === fileURLToPath(import.meta.url)) await main();
