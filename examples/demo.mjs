// The main job on a fresh machine: `npm run demo`.
//
// Starts a throwaway local Redis Cluster (3 primaries + 3 replicas on 127.0.0.1, from the
// redis-server on PATH) and walks through what rediscluster does against it — commands,
// binary values, pipelines, cross-slot commands, replica reads, a live reshard, a sharded
// subscription that follows its slot, and a failover under load — printing what happens.
// Everything it starts, it stops.
import { startDevCluster } from "../dist/esm/dev/index.js";
import { keySlot, RedisCluster, ReplyError } from "../dist/esm/index.js";

const started = performance.now();
const elapsed = () => `${((performance.now() - started) / 1000).toFixed(1)}s`;
const section = (title) => console.log(`\n── ${title} ${"─".repeat(Math.max(0, 70 - title.length))}`);
const say = (...parts) => console.log("  ", ...parts);

section("a local cluster");
const dev = await startDevCluster({ primaries: 3, replicasPerPrimary: 1 });
say(`6 redis-server processes ready in ${elapsed()}: seeds ${dev.seeds.join(", ")}`);

const cluster = new RedisCluster({ nodes: dev.seeds.slice(0, 2), commandTimeout: 3000 });
const replicaReader = new RedisCluster({ nodes: dev.seeds, readFrom: "replica" });
try {
  section("commands, routed by slot");
  say("set name →", await cluster.set("name", "rediscluster"));
  say("get name →", await cluster.get("name"), `(slot ${keySlot("name")})`);
  say(
    "hash tags keep keys together:",
    ["user:{42}:name", "user:{42}:visits"].map((k) => `${k}→${keySlot(k)}`).join(", "),
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
  await Promise.all(Array.from({ length: 2000 }, (_, i) => replicaReader.get(keys[i % keys.length])));
  const replicaGets = [];
  for (const node of dev.nodes) {
    const info = String(await dev.command(node.port, "INFO", "commandstats"));
    replicaGets.push(`${node.role} ${node.port}: ${/cmdstat_get:calls=(\d+)/.exec(info)?.[1] ?? 0}`);
  }
  say('readFrom: "replica" — GET calls per node:', replicaGets.join(", "));

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
      }
    }
  };
  const before = cluster.stats();
  const workers = Array.from({ length: 16 }, (_, w) => load(w));
  t = performance.now();
  await dev.migrateSlots(from.port, to.port, moving);
  const moveMs = performance.now() - t;
  await new Promise((resolve) => setTimeout(resolve, 200)); // a little more load on the new owner
  stop = true;
  await Promise.all(workers);
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
  await failoverClient.mset(...victimKeys.flatMap((key) => [key, "before"]));
  say(`kill -9 the primary ${victim.address}; its replica ${heir.address} should take over`);
  stop = false;
  let firstSuccessAfterPromotion;
  let promotedAt;
  const errors = new Map();
  const writer = async (w) => {
    for (let i = 0; !stop; i++) {
      try {
        await failoverClient.set(victimKeys[(w + i) % victimKeys.length], "after");
        if (promotedAt !== undefined) firstSuccessAfterPromotion ??= performance.now();
      } catch (e) {
        errors.set(e.name, (errors.get(e.name) ?? 0) + 1);
      }
    }
  };
  const killedAt = performance.now();
  await dev.killNode(victim.port);
  const writers = Array.from({ length: 8 }, (_, w) => writer(w));
  while (promotedAt === undefined && performance.now() - killedAt < 30000) {
    const role = await dev.command(heir.port, "ROLE");
    if (Array.isArray(role) && role[0] === "master") promotedAt = performance.now();
    else await new Promise((resolve) => setTimeout(resolve, 10));
  }
  while (firstSuccessAfterPromotion === undefined && performance.now() - killedAt < 30000) {
    await new Promise((resolve) => setTimeout(resolve, 10));
  }
  stop = true;
  await Promise.all(writers);
  say(
    `the cluster promoted ${heir.address} ${((promotedAt - killedAt) / 1000).toFixed(1)}s after the kill (cluster-node-timeout 2s)`,
  );
  say(
    `the same client wrote to those slots again ${(firstSuccessAfterPromotion - promotedAt).toFixed(0)} ms later`,
  );
  say(`errors meanwhile, all typed: ${JSON.stringify(Object.fromEntries(errors))}`);
  const readable = (await failoverClient.mget(...victimKeys)).filter((value) => value !== null).length;
  say(`mget of its ${victimKeys.length} keys through the new primary: ${readable} values`);
  await failoverClient.close();
  await dev.restartNode(victim.port);
  say(`${victim.address} restarted; it rejoins as a replica`);

  section("the client's counters");
  say(JSON.stringify(cluster.stats()));
} finally {
  await cluster.close();
  await replicaReader.close();
  await dev.stop();
  console.log(`\nall processes stopped; done in ${elapsed()}.`);
}
