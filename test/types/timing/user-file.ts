/**
 * A 200-line application file, as a user of the package writes one: the input of
 * `node test/types/timing/measure.mjs`, which times `tsc` on it (typed, and with the client
 * as `any` for the baseline). Type-checked with the rest of test/ by `npm run typecheck`.
 */
import {
  ClusterDownError,
  ConnectionError,
  RedisCluster,
  ReplyError,
  TimeoutError,
} from "../../../src/index.js";

interface User {
  id: number;
  name: string;
  email: string;
  visits: number;
}

const cluster = new RedisCluster({
  nodes: ["127.0.0.1:7000", "127.0.0.1:7001"],
  commandTimeout: 2000,
  readFrom: "preferReplica",
});

cluster.on("ready", () => console.log("ready"));
cluster.on("moved", ({ slot, from, to }) => console.log(`slot ${slot}: ${from} -> ${to}`));
cluster.on("nodeError", ({ address, error }) => console.warn(address, error.code));
cluster.on("error", (error) => console.error(error.message));

export async function saveUser(user: User): Promise<void> {
  const key = `user:{${user.id}}`;
  await cluster.hset(key, { name: user.name, email: user.email, visits: user.visits });
  await cluster.expire(key, 3600, "NX");
  await cluster.sadd("users", String(user.id));
  await cluster.zadd("users:by-visits", user.visits, String(user.id));
}

export async function loadUser(id: number): Promise<User | null> {
  const fields = await cluster.hgetall(`user:{${id}}`);
  if (fields.name === undefined) return null;
  return {
    id,
    name: fields.name,
    email: fields.email ?? "",
    visits: Number(fields.visits ?? 0),
  };
}

export async function touch(id: number): Promise<number> {
  const key = `user:{${id}}`;
  const visits = await cluster.hincrby(key, "visits", 1);
  await cluster.zincrby("users:by-visits", 1, String(id));
  return visits;
}

export async function topUsers(count: number): Promise<Array<[string, number]>> {
  const flat = await cluster.zrange("users:by-visits", 0, count - 1, "REV", "WITHSCORES");
  const pairs: Array<[string, number]> = [];
  for (let i = 0; i + 1 < flat.length; i += 2) pairs.push([flat[i]!, Number(flat[i + 1])]);
  return pairs;
}

export async function rangeByScore(min: number, max: number): Promise<string[]> {
  return cluster.zrange("users:by-visits", min, max, "BYSCORE", "LIMIT", 0, 100);
}

export async function session(token: string, userId: number): Promise<boolean> {
  const stored = await cluster.set(`session:${token}`, String(userId), "NX", "EX", 1800);
  return stored === "OK";
}

export async function refreshSession(token: string): Promise<string | null> {
  return cluster.getex(`session:${token}`, "EX", 1800);
}

export async function swapSession(token: string, userId: number): Promise<string | null> {
  return cluster.set(`session:${token}`, String(userId), "GET", "KEEPTTL");
}

export async function rateLimit(ip: string, limit: number): Promise<boolean> {
  const key = `rate:${ip}:${Math.floor(Date.now() / 60_000)}`;
  const [count] = await cluster.multi().incr(key).expire(key, 60).exec();
  return typeof count === "number" && count <= limit;
}

export async function recordEvent(stream: string, kind: string, payload: string): Promise<string> {
  return cluster.xadd(stream, "MAXLEN", "~", 10_000, "*", "kind", kind, "payload", payload);
}

export async function readEvents(stream: string, from: string): Promise<number> {
  const reply = await cluster.xread("COUNT", 100, "BLOCK", 1000, "STREAMS", stream, from);
  if (reply === null) return 0;
  let total = 0;
  for (const [, entries] of reply) total += entries.length;
  return total;
}

export async function consume(stream: string, group: string, consumer: string): Promise<string[]> {
  const reply = await cluster.xreadgroup("GROUP", group, consumer, "COUNT", 10, "STREAMS", stream, ">");
  const ids: string[] = [];
  for (const [, entries] of reply ?? []) for (const [id] of entries) ids.push(id);
  if (ids.length > 0) await cluster.xack(stream, group, ...ids);
  return ids;
}

export async function claimStale(stream: string, group: string, consumer: string): Promise<string[]> {
  const [, claimed] = await cluster.xautoclaim(stream, group, consumer, 60_000, "0-0", "COUNT", 50, "JUSTID");
  return claimed;
}

export async function queuePush(queue: string, jobs: string[]): Promise<number> {
  return cluster.rpush(queue, ...jobs);
}

export async function queuePop(queue: string): Promise<string | null> {
  const popped = await cluster.blpop(queue, 1);
  return popped === null ? null : popped[1];
}

export async function position(list: string, value: string): Promise<number | null> {
  return cluster.lpos(list, value, "RANK", 1);
}

export async function nearby(lon: number, lat: number): Promise<string[]> {
  await cluster.geoadd("places", lon, lat, "here");
  return cluster.geosearch("places", "FROMLONLAT", lon, lat, "BYRADIUS", 5, "km", "ASC", "COUNT", 10);
}

export async function bitmap(day: string, userId: number): Promise<number> {
  await cluster.setbit(`active:${day}`, userId, 1);
  return cluster.bitcount(`active:${day}`);
}

export async function counters(names: string[]): Promise<Array<string | null>> {
  return cluster.mget(...names.map((name) => `counter:${name}`));
}

export async function resetCounters(names: string[]): Promise<number> {
  await cluster.mset(Object.fromEntries(names.map((name) => [`counter:${name}`, 0])));
  return cluster.del(...names.map((name) => `counter:${name}`));
}

export async function warmCache(keys: string[]): Promise<number> {
  const pipeline = cluster.pipeline();
  for (const key of keys) pipeline.get(key);
  const results = await pipeline.exec();
  return results.filter((result) => result !== null && !(result instanceof Error)).length;
}

export async function profile(id: number): Promise<[string | null, number]> {
  const [name, visits] = await cluster.pipeline().hget(`user:{${id}}`, "name").hlen(`user:{${id}}`).exec();
  if (name instanceof Error) throw name;
  if (visits instanceof Error) throw visits;
  return [name, visits];
}

export async function transfer(from: string, to: string, amount: number): Promise<boolean> {
  const outcome = await cluster.watch([from, to], async (tx) => {
    const balance = Number(await tx.get(from));
    if (balance < amount) return null;
    return tx.multi().decrby(from, amount).incrby(to, amount).exec();
  });
  return outcome !== null;
}

const addCapped = cluster.defineScript<number>({
  lua: "local v = redis.call('INCRBY', KEYS[1], ARGV[1]) return v",
  numberOfKeys: 1,
});

export async function addToCounter(name: string, by: number): Promise<number> {
  return addCapped(`counter:${name}`, by);
}

export async function allUserKeys(): Promise<string[]> {
  const keys: string[] = [];
  for await (const key of cluster.scanIterator({ match: "user:*", count: 500 })) keys.push(key);
  return keys;
}

export async function hashFields(key: string): Promise<number> {
  const [, flat] = await cluster.hscan(key, 0, "MATCH", "f*", "COUNT", 100);
  return flat.length / 2;
}

export async function safely<T>(work: () => Promise<T>): Promise<T | undefined> {
  try {
    return await work();
  } catch (error) {
    if (error instanceof TimeoutError) console.warn("timed out after", error.timeoutMs, "ms");
    else if (error instanceof ClusterDownError) console.warn("slot", error.slot, "not served");
    else if (error instanceof ConnectionError) console.warn("lost", error.address, error.outcomeUnknown);
    else if (error instanceof ReplyError) console.warn("server said", error.code);
    else throw error;
    return undefined;
  }
}

export async function health(): Promise<string> {
  const info = await cluster.cluster("INFO");
  const nodes = cluster.nodes("primary");
  const pings = await Promise.all(nodes.map((node) => node.call("PING")));
  return `${info.split("\r\n")[0]} (${pings.length} primaries)`;
}

export async function shutdown(): Promise<void> {
  await cluster.close();
}
