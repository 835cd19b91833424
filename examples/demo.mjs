// The main job on a fresh machine: `npm run demo`.
//
// Starts a throwaway local Redis Cluster (3 primaries + 3 replicas on 127.0.0.1, from the
// redis-server on PATH) and walks through what rediscluster does against it — commands,
// binary values, pipelines, cross-slot commands, replica reads, a transaction, a script,
// client-side caching, a live reshard, a sharded subscription that follows its slot, and a failover under load
// (the script keeps running through it) — printing what happens. Everything it starts, it
// stops.
//
//   npm run demo -- --seeds 127.0.0.1:7000,127.0.0.1:7001
//
// runs only the part that changes nothing but keys of its own (all under the prefix
// "rediscluster-demo:", deleted at the end) against an existing cluster: no reshard, no
// failover.
import { writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { parseArgs } from "node:util";
import { renderLineChart } from "../bench/line-chart.mjs";
import { startDevCluster } from "../dist/esm/dev/index.js";
import { keySlot, RedisCluster, ReplyError } from "../dist/esm/index.js";

const { values: flags } = parseArgs({ options: { seeds: { type: "string" } } });
const existingSeeds = flags.seeds
  ?.split(",")
  .map((seed) => seed.trim())
  .filter(Boolean);
// Against someone's cluster, every key of the demo gets this prefix (and is deleted at the end).
const keyPrefix = existingSeeds === undefined ? undefined : "rediscluster-demo:";
const slotOf = (key) => keySlot((keyPrefix ?? "") + key);

const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)}s`;
const section = (title) => console.log(`\n── ${title} ${"─".repeat(Math.max(0, 70 - title.length))}`);
const say = (...parts) => console.log("  ", ...parts);

/**
 * A progress line while a load phase runs: `describe()` is shown every 100 ms, rewritten in
 * place with \r on a terminal, or printed as a plain line every second otherwise (a log, CI).
 * The returned function stops it, leaving the last state on its own line.
 */
function progress(describe) {
  const tty = process.stdout.isTTY === true;
  let width = 0;
  const draw = () => {
    const text = `   … ${describe()}`;
    process.stdout.write(`\r${text.padEnd(width)}`);
    width = text.length;
  };
  const timer = setInterval(tty ? draw : () => console.log(`   … ${describe()}`), tty ? 100 : 1000);
  return () => {
    clearInterval(timer);
    if (tty) {
      draw();
      process.stdout.write("\n");
    }
  };
}

/**
 * The load phases over time, for a picture next to the text: every 100 ms, the completed
 * commands, failed operations and MOVED/ASK redirections (per second) of the clients in
 * `sources`, and markers where something happened.
 */
const timeline = {
  startedAt: 0,
  sources: [],
  failed: 0,
  samples: [],
  markers: [],
  timer: undefined,
  start() {
    this.startedAt = performance.now();
    this.timer = setInterval(() => this.sample(), 100);
  },
  totals() {
    const sum = { commands: 0, moved: 0, ask: 0 };
    for (const client of this.sources) {
      const stats = client.stats();
      sum.commands += stats.commands;
      sum.moved += stats.moved;
      sum.ask += stats.ask;
    }
    return { ...sum, failed: this.failed };
  },
  sample() {
    this.samples.push({ at: (performance.now() - this.startedAt) / 1000, ...this.totals() });
  },
  mark(label) {
    this.markers.push({ x: (performance.now() - this.startedAt) / 1000, label });
  },
  /** Markers closer than an eighth of the run share one label (theirs would overlap). */
  mergedMarkers() {
    const span = Math.max(1, this.samples.at(-1)?.at ?? 1);
    const merged = [];
    for (const marker of this.markers) {
      const last = merged.at(-1);
      if (last !== undefined && marker.x - last.x < span / 8) last.label += ` · ${marker.label}`;
      else merged.push({ ...marker });
    }
    return merged;
  },
  /** Stops sampling and writes the SVG; returns its path. */
  write() {
    clearInterval(this.timer);
    const rate = (field) =>
      this.samples.slice(1).map((sample, i) => {
        const previous = this.samples[i];
        return [sample.at, (sample[field] - previous[field]) / (sample.at - previous.at)];
      });
    const file = join(tmpdir(), "rediscluster-demo-timeline.svg");
    writeFileSync(
      file,
      renderLineChart({
        title: "rediscluster demo: a live reshard and a failover under load",
        xLabel: "s since the reshard began",
        yLabel: "per second",
        series: [
          { label: "commands completed", points: rate("commands") },
          { label: "failed operations", points: rate("failed") },
          { label: "MOVED", points: rate("moved") },
          { label: "ASK", points: rate("ask") },
        ],
        markers: this.mergedMarkers(),
        caption: ["sampled every 100 ms from cluster.stats() of the demo's clients"],
      }),
    );
    return file;
  },
};

let dev;
let seeds = existingSeeds;
if (seeds === undefined) {
  section("a local cluster");
  dev = await startDevCluster({ primaries: 3, replicasPerPrimary: 1 });
  seeds = dev.seeds;
  say(`6 redis-server processes ready in ${elapsed()}: seeds ${seeds.join(", ")}`);
} else {
  section("an existing cluster");
  say(`seeds ${seeds.join(", ")}; keys under "${keyPrefix}", deleted at the end; no reshard, no failover`);
}

const cluster = new RedisCluster({ nodes: seeds.slice(0, 2), commandTimeout: 3000, keyPrefix });
const replicaReader = new RedisCluster({ nodes: seeds, readFrom: "replica", keyPrefix });
try {
  section("commands, routed by slot");
  say("set name →", await cluster.set("name", "rediscluster"));
  say("get name →", await cluster.get("name"), `(slot ${slotOf("name")})`);
  say(
    "hash tags keep keys together:",
    ["user:{42}:name", "user:{42}:visits"].map((k) => `${k}→${slotOf(k)}`).join(", "),
  );
  say("incr user:{42}:visits →", await cluster.incr("user:{42}:visits"));
  const binary = Buffer.from([0x00, 0xff, 0x0d, 0x0a, 0xc3, 0x28]);
  await cluster.set("binary", binary);
  say("binary-safe: getBuffer('binary') →", await cluster.getBuffer("binary"));
  const error = await cluster.incr("name").catch((e) => e);
  say(
    `a server error is typed: ${error.name} (code ${error.code}, command ${error.command})`,
    error instanceof ReplyError,
  );

  section("pipelines, split per node, results in order");
  const results = await cluster.pipeline().set("a", "1").get("a").incr("counter").get("missing").exec();
  say("pipeline().set().get().incr().get() →", JSON.stringify(results));
  const keys = Array.from({ length: 1000 }, (_, i) => `bulk:${i}`);
  const pipeline = cluster.pipeline();
  for (const key of keys) pipeline.set(key, key.toUpperCase());
  let t = performance.now();
  await pipeline.exec();
  say(`1,000 SETs over every primary in one pipeline: ${(performance.now() - t).toFixed(1)} ms`);

  section("cross-slot multi-key commands (the Lua client could not)");
  say("mset({ a: 'x', b: 'y', c: 'z' }) →", await cluster.mset({ a: "x", b: "y", c: "z" }));
  say("mget(a, b, c, nope) →", JSON.stringify(await cluster.mget("a", "b", "c", "nope")));
  t = performance.now();
  const values = await cluster.mget(...keys);
  say(`mget of 1,000 keys across slots: ${values.length} values in ${(performance.now() - t).toFixed(1)} ms`);
  say("del(a, b, c, nope) →", await cluster.del("a", "b", "c", "nope"));
  say("dbsize (summed over primaries) →", await cluster.dbsize());

  section("reads from replicas");
  const getCalls = async () => {
    const calls = new Map();
    for (const node of replicaReader.nodes("all")) {
      const info = String(await node.info("commandstats"));
      calls.set(node.address, {
        role: node.nodeRole,
        calls: Number(/cmdstat_get:calls=(\d+)/.exec(info)?.[1] ?? 0),
      });
    }
    return calls;
  };
  await replicaReader.connect();
  const getsBefore = await getCalls();
  await Promise.all(Array.from({ length: 2000 }, (_, i) => replicaReader.get(keys[i % keys.length])));
  const replicaGets = [];
  for (const [address, { role, calls }] of await getCalls()) {
    replicaGets.push(`${role} ${address}: ${calls - (getsBefore.get(address)?.calls ?? 0)}`);
  }
  say('readFrom: "replica" — 2,000 GETs, calls per node:', replicaGets.join(", "));

  section("a transaction: MULTI … EXEC on the slot's primary, as one unit");
  const [, visits, ttl] = await cluster
    .multi()
    .set("user:{42}:name", "ann")
    .incr("user:{42}:visits")
    .expire("user:{42}:visits", 3600)
    .exec();
  say(`multi().set().incr().expire().exec() → visits ${visits}, expire ${ttl}`);
  const spent = await cluster.optimistic("stock:{7}", async (tx) => {
    const stock = Number((await tx.get("stock:{7}")) ?? 10);
    return tx.multi().set("stock:{7}", stock - 1);
  });
  say(`optimistic(): WATCH, read, MULTI … EXEC, retried on a conflict → ${JSON.stringify(spent)}`);

  section("a script: EVALSHA, EVAL where the node lacks it");
  const stamp = cluster.defineScript({
    lua: "redis.call('SET', KEYS[1], ARGV[1]) return redis.call('STRLEN', KEYS[1])",
    numberOfKeys: 1,
  });
  say(`stamp("stamped", "hello") → ${await stamp("stamped", "hello")} (the length it wrote)`);

  section("client-side caching: reads from memory until the server says the key changed");
  const cachedReader = new RedisCluster({
    nodes: seeds,
    keyPrefix,
    protocol: 3,
    clientCache: { maxEntries: 10_000 },
  });
  try {
    await cluster.set("config:flags", "v1");
    for (let i = 0; i < 1000; i++) await cachedReader.get("config:flags");
    const before = cachedReader.stats().cache;
    say(
      `1,000 GETs of one key: ${before.hits} from memory, ${before.misses} from the server (hit ratio ${((before.hits / 1000) * 100).toFixed(1)}%)`,
    );
    await cluster.set("config:flags", "v2"); // another client's write: the server pushes an invalidation
    const wroteAt = performance.now();
    let seen = await cachedReader.get("config:flags");
    while (seen !== "v2" && performance.now() - wroteAt < 5000) seen = await cachedReader.get("config:flags");
    say(
      `another client wrote "v2": the server's invalidation dropped the entry, the next reads got "${seen}" (invalidations: ${cachedReader.stats().cache.invalidations})`,
    );
  } finally {
    await cachedReader.close();
  }

  // What follows changes the cluster: only on the demo's own.
  if (dev !== undefined) await reshardAndFailover();

  section("the client's counters");
  say(JSON.stringify(cluster.stats()));

  if (keyPrefix !== undefined) {
    const demoKeys = [];
    for await (const key of cluster.scanIterator({ count: 1000 })) demoKeys.push(key);
    if (demoKeys.length > 0) await cluster.del(...demoKeys);
    say(`deleted the demo's ${demoKeys.length} keys (prefix "${keyPrefix}")`);
  }
} finally {
  await cluster.close();
  await replicaReader.close();
  if (dev !== undefined) {
    await dev.stop();
    console.log(`\nall processes stopped; done in ${elapsed()}.`);
  } else console.log(`\ndone in ${elapsed()}.`);
}

/** The reshard (with a sharded subscription following its slot) and the failover. */
async function reshardAndFailover() {
  timeline.sources.push(cluster);
  timeline.start();
  try {
    await reshardAndFailoverSteps();
  } finally {
    say(`timeline picture (ops/s, failures, MOVED/ASK): ${timeline.write()}`);
  }
}

async function reshardAndFailoverSteps() {
  section("live resharding under load");
  const [from, to] = dev.nodes.filter((node) => node.role === "primary");
  const [start] = from.slots[0];
  const moving = Array.from({ length: 400 }, (_, i) => start + i);
  // Keys that live in the slots about to move, written to and read back all along.
  const hot = [];
  for (let i = 0; hot.length < 200; i++) {
    const slot = keySlot(`hot:${i}`);
    if (slot >= start && slot < start + moving.length) hot.push(`hot:${i}`);
  }
  const written = new Map();
  let stop = false;
  let failed = 0;
  const load = async (worker) => {
    for (let i = 0; !stop; i++) {
      const key = hot[(worker * 7 + i) % hot.length];
      try {
        await cluster.set(key, `${worker}:${i}`);
        written.set(key, `${worker}:${i}`);
      } catch {
        failed++;
        timeline.failed++;
      }
    }
  };
  const before = cluster.stats();
  const workers = Array.from({ length: 16 }, (_, w) => load(w));
  const stopProgress = progress(() => {
    const now = cluster.stats();
    return `${now.commands - before.commands} commands, MOVED ${now.moved - before.moved}, ASK ${now.ask - before.ask}, ${failed} failed`;
  });
  const t = performance.now();
  timeline.mark("reshard starts");
  await dev.migrateSlots(from.port, to.port, moving);
  const moveMs = performance.now() - t;
  timeline.mark("reshard done");
  await new Promise((resolve) => setTimeout(resolve, 200)); // a little more load on the new owner
  stop = true;
  await Promise.all(workers);
  stopProgress();
  const after = cluster.stats();
  const lost = (await cluster.mget(...written.keys())).filter(
    (value, i) => value !== [...written.values()][i],
  ).length;
  say(
    `moved ${moving.length} slots and their keys from ${from.address} to ${to.address} in ${(moveMs / 1000).toFixed(1)}s, under 16 writers`,
  );
  say(
    `client saw MOVED ${after.moved - before.moved}, ASK ${after.ask - before.ask}, ` +
      `${after.refreshes - before.refreshes} refreshes; ${failed} writes failed; ${lost} acknowledged writes lost`,
  );

  section("sharded Pub/Sub through a reshard");
  // A channel in a slot that just moved; it moves back while subscribed.
  let channel = "orders:0";
  for (let i = 1; !moving.includes(keySlot(channel)); i++) channel = `orders:${i}`;
  const received = [];
  const subscription = await cluster.ssubscribe(channel, (message) => received.push(message));
  subscription.on("down", ({ reason, address }) => say(`  event down: ${reason} at ${address}`));
  subscription.on("up", ({ address, downMs }) =>
    say(`  event up: subscribed on ${address}, ${downMs} ms without`),
  );
  await cluster.spublish(channel, "before the reshard");
  say(
    `ssubscribe ${channel} (slot ${keySlot(channel)}, on ${to.address}); moving its slot to ${from.address}`,
  );
  const back = new Promise((resolve) => subscription.once("up", resolve));
  await dev.migrateSlots(to.port, from.port, [keySlot(channel)]);
  await back;
  await cluster.spublish(channel, "after the reshard");
  while (received.length < 2 && performance.now() - t < 60000) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  say(`received: ${JSON.stringify(received)}`);
  await subscription.unsubscribe();

  section("failover under load");
  await dev.refresh();
  const victim = dev.nodes.find((node) => node.role === "primary" && node.address !== to.address);
  const heir = dev.nodes.find((node) => node.primaryId === victim.id);
  const victimKeys = [];
  for (let i = 0; victimKeys.length < 50; i++) {
    const slot = keySlot(`fo:${i}`);
    if (victim.slots.some(([a, b]) => slot >= a && slot <= b)) victimKeys.push(`fo:${i}`);
  }
  const failoverClient = new RedisCluster({ nodes: dev.seeds, commandTimeout: 1000 });
  timeline.sources.push(failoverClient);
  await failoverClient.mset(...victimKeys.flatMap((key) => [key, "before"]));
  // Half the writers run a script: the new primary has never seen it (scripts are cached
  // per node), so its first EVALSHA there gets NOSCRIPT and the client sends EVAL instead.
  const stampAfter = failoverClient.defineScript({
    lua: "return redis.call('SET', KEYS[1], ARGV[1])",
    numberOfKeys: 1,
  });
  say(`kill -9 the primary ${victim.address}; its replica ${heir.address} should take over`);
  stop = false;
  let firstSuccessAfterPromotion;
  let promotedAt;
  let writes = 0;
  let scriptRunsAfterPromotion = 0;
  const errors = new Map();
  const writer = async (w) => {
    for (let i = 0; !stop; i++) {
      try {
        const key = victimKeys[(w + i) % victimKeys.length];
        if (w % 2 === 0) await failoverClient.set(key, "after");
        else {
          await stampAfter(key, "after");
          if (promotedAt !== undefined) scriptRunsAfterPromotion++;
        }
        writes++;
        if (promotedAt !== undefined) firstSuccessAfterPromotion ??= performance.now();
      } catch (e) {
        errors.set(e.name, (errors.get(e.name) ?? 0) + 1);
        timeline.failed++;
      }
    }
  };
  const killedAt = performance.now();
  timeline.mark("kill -9 primary");
  await dev.killNode(victim.port);
  const writers = Array.from({ length: 8 }, (_, w) => writer(w));
  const stopFailoverProgress = progress(() => {
    const failures = [...errors.values()].reduce((sum, n) => sum + n, 0);
    const phase = promotedAt === undefined ? "waiting for the promotion" : `${heir.address} promoted`;
    return `${((performance.now() - killedAt) / 1000).toFixed(1)}s: ${writes} writes, ${failures} failed; ${phase}`;
  });
  while (promotedAt === undefined && performance.now() - killedAt < 30000) {
    const role = await dev.command(heir.port, "ROLE");
    if (Array.isArray(role) && role[0] === "master") {
      promotedAt = performance.now();
      timeline.mark("replica promoted");
    } else await new Promise((resolve) => setTimeout(resolve, 10));
  }
  while (firstSuccessAfterPromotion === undefined && performance.now() - killedAt < 30000) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  // A little more load on the new primary, so the script runs there too.
  const scriptRunsBefore = scriptRunsAfterPromotion;
  while (scriptRunsAfterPromotion < scriptRunsBefore + 20 && performance.now() - killedAt < 30000) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  stop = true;
  await Promise.all(writers);
  stopFailoverProgress();
  say(
    `the cluster promoted ${heir.address} ${((promotedAt - killedAt) / 1000).toFixed(1)}s after the kill (cluster-node-timeout 2s)`,
  );
  say(
    `the same client wrote to those slots again ${(firstSuccessAfterPromotion - promotedAt).toFixed(0)} ms later`,
  );
  say(`errors meanwhile, all typed: ${JSON.stringify(Object.fromEntries(errors))}`);
  say(
    `the script ran ${scriptRunsAfterPromotion} times on the new primary, which had not cached it: EVAL there first, then EVALSHA`,
  );
  const readable = (await failoverClient.mget(...victimKeys)).filter((value) => value !== null).length;
  say(`mget of its ${victimKeys.length} keys through the new primary: ${readable} values`);
  await failoverClient.close();
  await dev.restartNode(victim.port);
  say(`${victim.address} restarted; it rejoins as a replica`);
}
