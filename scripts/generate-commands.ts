/**
 * Regenerates the command table and the typed command methods from recorded servers.
 *
 *   REDIS_SERVER=/path/to/redis-server npx tsx scripts/generate-commands.ts record
 *   npx tsx scripts/generate-commands.ts
 *
 * `record` starts a throwaway server (redis-server from PATH, or the REDIS_SERVER
 * environment variable; a valkey-server works too) on a free 127.0.0.1 port without
 * persistence, reads `COMMAND INFO` (RESP2), `COMMAND DOCS` (RESP3) and `COMMAND GETKEYS`
 * of a sample of every command with keys, stops the server by PID, and writes
 * test/fixtures/commands/<server>-<version>.json.
 *
 * Without an argument it reads every fixture there, needs no server, and writes:
 *
 * - src/command/table.generated.ts    every command: arity, flags, key specs, policy tips
 * - src/command/methods.generated.ts  `CommandMethods` / `PipelineMethods` interfaces
 * - test/fixtures/command-samples.json sample invocations of every command with keys, for
 *                                      test/integration/command-getkeys.test.ts
 *
 * The curated parts (return types, commands left out of the interfaces, hand-written
 * samples) are below, in this file, one line per command.
 */
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { KeySpecFlag } from "../src/command/flags.js";
import { type CommandInfo, makeCommandInfo } from "../src/command/info.js";
import { parseCommandInfoReply } from "../src/command/parse-info.js";
import { encodeRow } from "../src/command/rows.js";
import { AdminConnection } from "../src/dev/admin.js";
import type { RespValue } from "../src/resp/types.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const run = promisify(execFile);
const REDIS_SERVER = process.env.REDIS_SERVER ?? "redis-server";

// ---------------------------------------------------------------------------------------
// Curated data
// ---------------------------------------------------------------------------------------

/**
 * Commands without a generated method. The client defines the first group by hand (they
 * need connection pinning, a subscriber mode or an object form) or they make no sense on
 * a cluster handle (connection state that a pool of connections cannot honour, replication
 * internals).
 */
const LEFT_OUT = new Set([
  // transactions: multi() / watch() on the client pin one connection
  "multi",
  "exec",
  "discard",
  "watch",
  "unwatch",
  // pub/sub: subscribe(), ssubscribe(), psubscribe() return subscription handles
  "subscribe",
  "ssubscribe",
  "psubscribe",
  "unsubscribe",
  "sunsubscribe",
  "punsubscribe",
  // connection state, set up by the client itself on every connection
  "monitor",
  "quit",
  "reset",
  "hello",
  "auth",
  "select",
  "readonly",
  "readwrite",
  "asking",
  // replication internals
  "sync",
  "psync",
  "replconf",
  // mset() is written by hand to accept an object too
  "mset",
  // an internal command of MIGRATE, and not a valid method name
  "restore-asking",
]);

/**
 * The reply type of every command as RESP2 decodes it: integer → number, simple and bulk
 * strings → `Str` (string, or Buffer in the `...Buffer` variant), null → null, arrays →
 * arrays. HGETALL is the one reply the client reshapes (into an object). `unknown` only
 * where the reply is free-form (containers, scripts, debugging). A command missing here
 * fails the generator, so a new Redis version gets its return types curated.
 */
const ENTRY = "[id: Str, fields: Str[]]";
const GEO_ITEMS = "Array<Str | Array<Str | number | Str[]>>";
const RETURN_TYPES: Record<string, string> = {
  acl: "unknown",
  append: "number",
  bgrewriteaof: "Str",
  bgsave: "Str",
  bitcount: "number",
  bitfield: "Array<number | null>",
  bitfield_ro: "number[]",
  bitop: "number",
  bitpos: "number",
  blmove: "Str | null",
  blmpop: "[key: Str, elements: Str[]] | null",
  blpop: "[key: Str, element: Str] | null",
  brpop: "[key: Str, element: Str] | null",
  brpoplpush: "Str | null",
  bzmpop: "[key: Str, members: Array<[member: Str, score: Str]>] | null",
  bzpopmax: "[key: Str, member: Str, score: Str] | null",
  bzpopmin: "[key: Str, member: Str, score: Str] | null",
  client: "unknown",
  cluster: "unknown",
  command: "unknown",
  config: "unknown",
  copy: "number",
  dbsize: "number",
  debug: "unknown",
  decr: "number",
  decrby: "number",
  del: "number",
  dump: "Str | null",
  echo: "Str",
  eval: "unknown",
  eval_ro: "unknown",
  evalsha: "unknown",
  evalsha_ro: "unknown",
  exists: "number",
  expire: "number",
  expireat: "number",
  expiretime: "number",
  failover: "Str",
  fcall: "unknown",
  fcall_ro: "unknown",
  flushall: "Str",
  flushdb: "Str",
  function: "unknown",
  geoadd: "number",
  geodist: "Str | null",
  geohash: "Array<Str | null>",
  geopos: "Array<[longitude: Str, latitude: Str] | null>",
  georadius: `number | ${GEO_ITEMS}`,
  georadius_ro: GEO_ITEMS,
  georadiusbymember: `number | ${GEO_ITEMS}`,
  georadiusbymember_ro: GEO_ITEMS,
  geosearch: GEO_ITEMS,
  geosearchstore: "number",
  get: "Str | null",
  getbit: "number",
  getdel: "Str | null",
  getex: "Str | null",
  getrange: "Str",
  getset: "Str | null",
  hdel: "number",
  hexpire: "number[]",
  hexpireat: "number[]",
  hexpiretime: "number[]",
  hpersist: "number[]",
  hpexpire: "number[]",
  hpexpireat: "number[]",
  hpexpiretime: "number[]",
  hpttl: "number[]",
  httl: "number[]",
  hexists: "number",
  hget: "Str | null",
  hgetall: "Record<string, Str>",
  hincrby: "number",
  hincrbyfloat: "Str",
  hkeys: "Str[]",
  hlen: "number",
  hmget: "Array<Str | null>",
  hmset: "Str",
  hrandfield: "Str | null | Str[]",
  hscan: "[cursor: Str, fieldsAndValues: Str[]]",
  hset: "number",
  hsetnx: "number",
  hstrlen: "number",
  hvals: "Str[]",
  incr: "number",
  incrby: "number",
  incrbyfloat: "Str",
  info: "Str",
  keys: "Str[]",
  lastsave: "number",
  latency: "unknown",
  lcs: "Str | number | Array<Str | number | unknown[]>",
  lindex: "Str | null",
  linsert: "number",
  llen: "number",
  lmove: "Str | null",
  lmpop: "[key: Str, elements: Str[]] | null",
  lolwut: "Str",
  lpop: "Str | null | Str[]",
  lpos: "number | null",
  lpush: "number",
  lpushx: "number",
  lrange: "Str[]",
  lrem: "number",
  lset: "Str",
  ltrim: "Str",
  memory: "unknown",
  mget: "Array<Str | null>",
  migrate: "Str",
  module: "unknown",
  move: "number",
  msetnx: "number",
  object: "unknown",
  persist: "number",
  pexpire: "number",
  pexpireat: "number",
  pexpiretime: "number",
  pfadd: "number",
  pfcount: "number",
  pfdebug: "unknown",
  pfmerge: "Str",
  pfselftest: "Str",
  ping: "Str",
  psetex: "Str",
  pttl: "number",
  publish: "number",
  pubsub: "unknown",
  randomkey: "Str | null",
  rename: "Str",
  renamenx: "number",
  replicaof: "Str",
  restore: "Str",
  role: "Array<Str | number | unknown[]>",
  rpop: "Str | null | Str[]",
  rpoplpush: "Str | null",
  rpush: "number",
  rpushx: "number",
  sadd: "number",
  save: "Str",
  scan: "[cursor: Str, keys: Str[]]",
  scard: "number",
  script: "unknown",
  sdiff: "Str[]",
  sdiffstore: "number",
  set: "OK",
  setbit: "number",
  setex: "Str",
  setnx: "number",
  setrange: "number",
  shutdown: "Str",
  sinter: "Str[]",
  sintercard: "number",
  sinterstore: "number",
  sismember: "number",
  slaveof: "Str",
  slowlog: "unknown",
  smembers: "Str[]",
  smismember: "number[]",
  smove: "number",
  sort: "number | Array<Str | null>",
  sort_ro: "Array<Str | null>",
  spop: "Str | null | Str[]",
  spublish: "number",
  srandmember: "Str | null | Str[]",
  srem: "number",
  sscan: "[cursor: Str, members: Str[]]",
  strlen: "number",
  substr: "Str",
  sunion: "Str[]",
  sunionstore: "number",
  swapdb: "Str",
  time: "[seconds: Str, microseconds: Str]",
  touch: "number",
  ttl: "number",
  type: "Str",
  unlink: "number",
  wait: "number",
  waitaof: "[local: number, replicas: number]",
  xack: "number",
  xadd: "Str",
  xautoclaim: `[cursor: Str, claimed: Array<${ENTRY}>, deleted: Str[]]`,
  xclaim: `Array<${ENTRY} | Str>`,
  xdel: "number",
  xgroup: "unknown",
  xinfo: "unknown",
  xlen: "number",
  xpending: "Array<Str | number | null | unknown[]>",
  xrange: `Array<${ENTRY}>`,
  xread: `Array<[stream: Str, entries: Array<${ENTRY}>]> | null`,
  xreadgroup: "Array<[stream: Str, entries: Array<[id: Str, fields: Str[] | null]>]> | null",
  xrevrange: `Array<${ENTRY}>`,
  xsetid: "Str",
  xtrim: "number",
  zadd: "number",
  zcard: "number",
  zcount: "number",
  zdiff: "Str[]",
  zdiffstore: "number",
  zincrby: "Str",
  zinter: "Str[]",
  zintercard: "number",
  zinterstore: "number",
  zlexcount: "number",
  zmpop: "[key: Str, members: Array<[member: Str, score: Str]>] | null",
  zmscore: "Array<Str | null>",
  zpopmax: "Str[]",
  zpopmin: "Str[]",
  zrandmember: "Str | null | Str[]",
  zrange: "Str[]",
  zrangebylex: "Str[]",
  zrangebyscore: "Str[]",
  zrangestore: "number",
  zrank: "number | null",
  zrem: "number",
  zremrangebylex: "number",
  zremrangebyrank: "number",
  zremrangebyscore: "number",
  zrevrange: "Str[]",
  zrevrangebylex: "Str[]",
  zrevrangebyscore: "Str[]",
  zrevrank: "number | null",
  zscan: "[cursor: Str, membersAndScores: Str[]]",
  zscore: "Str | null",
  zunion: "Str[]",
  zunionstore: "number",
  // Subcommands of the typed containers (TYPED_CONTAINERS); those missing here are unknown.
  "client|caching": "OK",
  "client|getname": "Str | null",
  "client|getredir": "number",
  "client|help": "Str[]",
  "client|id": "number",
  "client|info": "Str",
  "client|kill": "OK | number",
  "client|list": "Str",
  "client|no-evict": "OK",
  "client|no-touch": "OK",
  "client|pause": "OK",
  "client|reply": "OK",
  "client|setinfo": "OK",
  "client|setname": "OK",
  "client|tracking": "OK",
  "client|unblock": "number",
  "client|unpause": "OK",
  "cluster|addslots": "OK",
  "cluster|addslotsrange": "OK",
  "cluster|bumpepoch": "Str",
  "cluster|count-failure-reports": "number",
  "cluster|countkeysinslot": "number",
  "cluster|delslots": "OK",
  "cluster|delslotsrange": "OK",
  "cluster|failover": "OK",
  "cluster|flushslots": "OK",
  "cluster|forget": "OK",
  "cluster|getkeysinslot": "Str[]",
  "cluster|help": "Str[]",
  "cluster|info": "Str",
  "cluster|keyslot": "number",
  "cluster|meet": "OK",
  "cluster|myid": "Str",
  "cluster|myshardid": "Str",
  "cluster|nodes": "Str",
  "cluster|replicas": "Str[]",
  "cluster|replicate": "OK",
  "cluster|reset": "OK",
  "cluster|saveconfig": "OK",
  "cluster|set-config-epoch": "OK",
  "cluster|setslot": "OK",
  "cluster|slaves": "Str[]",
  "config|get": "Str[]",
  "config|help": "Str[]",
  "config|resetstat": "OK",
  "config|rewrite": "OK",
  "config|set": "OK",
};

/**
 * Commands whose arguments after the leading ones are typed from the docs' argument tree
 * (tokens, one-ofs, optional groups), in the docs' order. The others take `...args:
 * RedisArg[]` after their leading arguments.
 */
const TYPED_TAILS = new Set([
  "set",
  "getex",
  "expire",
  "pexpire",
  "expireat",
  "pexpireat",
  "zadd",
  "zrange",
  "zrangestore",
  "zrangebyscore",
  "zrevrangebyscore",
  "zrangebylex",
  "zrevrangebylex",
  "zrevrange",
  "zunion",
  "zinter",
  "zdiff",
  "zunionstore",
  "zinterstore",
  "zpopmin",
  "zpopmax",
  "zrank",
  "zrevrank",
  "zrandmember",
  "zmpop",
  "bzmpop",
  "lmpop",
  "blmpop",
  "xadd",
  "xread",
  "xreadgroup",
  "xautoclaim",
  "xclaim",
  "xrange",
  "xrevrange",
  "xtrim",
  "xpending",
  "scan",
  "hscan",
  "sscan",
  "zscan",
  "hset",
  "hrandfield",
  "lpos",
  "geoadd",
  "geosearch",
  "geosearchstore",
  "bitfield",
  "bitfield_ro",
  "bitcount",
  "bitpos",
  "copy",
  "hexpire",
  "hpexpire",
  "hexpireat",
  "hpexpireat",
  "httl",
  "hpttl",
  "hexpiretime",
  "hpexpiretime",
  "hpersist",
]);

/** Containers whose subcommands get one typed overload each (`client("LIST")`, `config("GET", p)`). */
const TYPED_CONTAINERS = new Set(["client", "cluster", "config"]);

const SCORE_PAIRS = "Array<[member: Str, score: number]>";
const GEO_ITEMS_RESP3 = "Array<Str | Array<Str | number | [longitude: number, latitude: number]>>";

/**
 * Reply types under RESP3 where they differ from RESP2 (as this package's decoder gives
 * them: doubles are numbers, maps are objects), checked against a live server.
 */
const RESP3_RETURN_TYPES: Record<string, string> = {
  zscore: "number | null",
  zincrby: "number",
  zmscore: "Array<number | null>",
  bzpopmin: "[key: Str, member: Str, score: number] | null",
  bzpopmax: "[key: Str, member: Str, score: number] | null",
  zmpop: `[key: Str, members: ${SCORE_PAIRS}] | null`,
  bzmpop: `[key: Str, members: ${SCORE_PAIRS}] | null`,
  zpopmin: "[] | [member: Str, score: number]",
  zpopmax: "[] | [member: Str, score: number]",
  zrandmember: `Str | null | Str[] | ${SCORE_PAIRS}`,
  hrandfield: "Str | null | Str[] | Array<[field: Str, value: Str]>",
  xread: `Record<string, Array<${ENTRY}>> | null`,
  xreadgroup: "Record<string, Array<[id: Str, fields: Str[] | null]>> | null",
  geopos: "Array<[longitude: number, latitude: number] | null>",
  geosearch: GEO_ITEMS_RESP3,
  georadius: `number | ${GEO_ITEMS_RESP3}`,
  georadius_ro: GEO_ITEMS_RESP3,
  georadiusbymember: `number | ${GEO_ITEMS_RESP3}`,
  georadiusbymember_ro: GEO_ITEMS_RESP3,
  lcs: "Str | number | Record<string, unknown>",
  "config|get": "Record<string, Str>",
};

interface ReplyOverload {
  /** What the overload requires of the named top-level arguments of the docs. */
  when: Record<string, ArgumentRule>;
  returns: string;
  /** Under RESP3, when it differs. */
  resp3?: string;
}

const WITH_SCORES: ReplyOverload[] = [
  { when: { withscores: "present" }, returns: "Str[]", resp3: SCORE_PAIRS },
];

/**
 * Overloads whose reply type follows the options, tried in order before the command's own
 * signature (which then types what none of them matched).
 */
const REPLY_OVERLOADS: Record<string, ReplyOverload[]> = {
  set: [
    { when: { get: "present" }, returns: "Str | null" },
    { when: { condition: "present" }, returns: "OK | null" },
  ],
  zadd: [{ when: { increment: "present" }, returns: "Str | null", resp3: "number | null" }],
  zrange: WITH_SCORES,
  zrangebyscore: WITH_SCORES,
  zrevrangebyscore: WITH_SCORES,
  zrevrange: WITH_SCORES,
  zunion: WITH_SCORES,
  zinter: WITH_SCORES,
  zdiff: WITH_SCORES,
  zpopmin: [{ when: { count: "present" }, returns: "Str[]", resp3: SCORE_PAIRS }],
  zpopmax: [{ when: { count: "present" }, returns: "Str[]", resp3: SCORE_PAIRS }],
  zrank: [
    {
      when: { withscore: "present" },
      returns: "[rank: number, score: Str] | null",
      resp3: "[rank: number, score: number] | null",
    },
  ],
  zrevrank: [
    {
      when: { withscore: "present" },
      returns: "[rank: number, score: Str] | null",
      resp3: "[rank: number, score: number] | null",
    },
  ],
  xadd: [{ when: { nomkstream: "present" }, returns: "Str | null" }],
  xautoclaim: [{ when: { justid: "present" }, returns: "[cursor: Str, claimed: Str[], deleted: Str[]]" }],
  lpos: [{ when: { "num-matches": "present" }, returns: "number[]" }],
  geosearch: [{ when: { withcoord: "absent", withdist: "absent", withhash: "absent" }, returns: "Str[]" }],
};

/** Hand-written signatures tried first (forms the docs do not describe). */
const EXTRA_SIGNATURES: Record<string, Array<{ params: string; returns: string; resp3?: string }>> = {
  // The runtime flattens the object or Map (command/transforms.ts), like mset.
  hset: [
    {
      params: "key: RedisKey, fieldsAndValues: Record<string, RedisArg> | Map<RedisArg, RedisArg>",
      returns: "number",
    },
  ],
};

/**
 * Invocations the docs alone do not produce, for the key-position test: the edges of the
 * hand-written rules (SORT, MIGRATE), movable keys, negative and stepped ranges.
 */
const HAND_WRITTEN_SAMPLES: readonly (readonly string[])[] = [
  ["SORT", "src", "BY", "w_*", "GET", "#", "STORE", "dst"],
  ["SORT", "src", "LIMIT", "0", "10", "STORE", "d1", "STORE", "d2"],
  ["SORT", "src", "GET", "STORE", "ALPHA"],
  ["SORT", "src", "STORE"],
  ["SORT_RO", "src", "BY", "w_*", "GET", "#"],
  ["MIGRATE", "127.0.0.1", "6379", "one", "0", "1000"],
  ["MIGRATE", "127.0.0.1", "6379", "", "0", "1000", "KEYS", "k1", "k2"],
  ["MIGRATE", "127.0.0.1", "6379", "", "0", "1000", "COPY", "AUTH", "KEYS", "KEYS", "k1"],
  ["MIGRATE", "127.0.0.1", "6379", "", "0", "1000", "AUTH2", "KEYS", "KEYS", "KEYS", "k1", "k2"],
  ["EVAL", "return 1", "0"],
  ["EVAL", "return 1", "2", "k1", "k2", "arg1"],
  ["EVALSHA_RO", "abc", "1", "k1", "arg1", "arg2"],
  ["FCALL", "f", "3", "k1", "k2", "k3"],
  ["ZUNIONSTORE", "dst", "2", "a", "b", "WEIGHTS", "1", "2"],
  ["ZINTER", "3", "a", "b", "c", "WITHSCORES"],
  ["ZDIFFSTORE", "dst", "1", "a"],
  ["SINTERCARD", "2", "a", "b", "LIMIT", "1"],
  ["LMPOP", "2", "a", "b", "LEFT", "COUNT", "2"],
  ["BZMPOP", "0", "1", "a", "MIN"],
  ["XREAD", "COUNT", "2", "STREAMS", "s1", "s2", "0", "0"],
  ["XREAD", "STREAMS", "streams", "0"],
  ["XREADGROUP", "GROUP", "g", "STREAMS", "NOACK", "STREAMS", "s1", ">"],
  ["GEORADIUS", "src", "0", "0", "1", "km", "STORE", "dst"],
  ["GEORADIUS", "src", "0", "0", "1", "km", "STOREDIST", "dst"],
  ["GEORADIUSBYMEMBER", "src", "m", "1", "km", "COUNT", "1", "STORE", "d1", "STOREDIST", "d2"],
  ["MSET", "a", "1", "b", "2", "c", "3"],
  ["MSETNX", "a", "1", "b", "2"],
  ["DEL", "a", "b", "c"],
  ["SET", "k", "v", "GET"],
  ["LCS", "a", "b", "LEN"],
  ["BITOP", "AND", "dst", "a", "b"],
  ["OBJECT", "encoding", "k"],
  ["MEMORY", "USAGE", "k", "SAMPLES", "5"],
  ["XINFO", "STREAM", "s", "FULL"],
  ["XGROUP", "CREATE", "s", "g", "$", "MKSTREAM"],
];

// ---------------------------------------------------------------------------------------
// The throwaway server
// ---------------------------------------------------------------------------------------

interface Server {
  port: number;
  stop(): Promise<void>;
}

async function freePort(): Promise<number> {
  const probe = createServer();
  await new Promise<void>((resolve, reject) => {
    probe.once("error", reject);
    probe.listen(0, "127.0.0.1", resolve);
  });
  const address = probe.address();
  await new Promise<void>((resolve) => probe.close(() => resolve()));
  if (address === null || typeof address === "string") throw new Error("could not pick a free port");
  return address.port;
}

async function startServer(): Promise<Server> {
  const port = await freePort();
  const dir = mkdtempSync(join(tmpdir(), "rediscluster-generate-"));
  const child = spawn(
    REDIS_SERVER,
    ["--port", String(port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", dir],
    { stdio: ["ignore", "pipe", "pipe"] },
  );
  try {
    await waitUntilReady(child);
  } catch (error) {
    child.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
    throw error;
  }
  return {
    port,
    async stop() {
      if (child.exitCode === null && child.pid !== undefined) {
        const exited = new Promise((resolve) => child.once("exit", resolve));
        process.kill(child.pid, "SIGTERM");
        await exited;
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Resolves when the server logs that it accepts connections; rejects if it exits first. */
function waitUntilReady(child: ChildProcess): Promise<void> {
  return new Promise((resolve, reject) => {
    let log = "";
    const timer = setTimeout(() => reject(new Error(`redis-server did not start:\n${log}`)), 10_000);
    child.stdout?.on("data", (chunk: Buffer) => {
      log += chunk.toString();
      if (log.includes("Ready to accept connections")) {
        clearTimeout(timer);
        child.stdout?.removeAllListeners("data");
        child.stdout?.resume();
        resolve();
      }
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      log += chunk.toString();
    });
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("exit", (code) => {
      clearTimeout(timer);
      reject(new Error(`redis-server exited with code ${code}:\n${log}`));
    });
  });
}

/** What one server says about its commands: the fixture `record` writes and generation reads. */
interface Fixture {
  server: "redis" | "valkey";
  version: string;
  /** `COMMAND INFO` as a RESP2 connection decodes it. */
  info: RespValue;
  /** `COMMAND DOCS` as a RESP3 connection decodes it (maps are objects). */
  docs: Record<string, CommandDoc>;
  /** `COMMAND GETKEYS` of a sample invocation of every command with keys, as the server answered. */
  getKeys: Array<{ argv: string[]; keys?: string[]; error?: string }>;
}

async function recordFixture(port: number): Promise<Fixture> {
  const resp2 = await AdminConnection.open(port, { host: "127.0.0.1" }, 30_000);
  const resp3 = await AdminConnection.open(port, { host: "127.0.0.1" }, 30_000);
  try {
    const serverInfo = String(await resp2.call(["INFO", "server"]));
    const valkey = /valkey_version:(\S+)/.exec(serverInfo)?.[1];
    const redis = /redis_version:(\S+)/.exec(serverInfo)?.[1];
    const version = valkey ?? redis;
    if (version === undefined) throw new Error("INFO server names no version");
    const info = await resp2.call(["COMMAND", "INFO"]);
    await resp3.call(["HELLO", "3"]);
    const docs = (await resp3.call(["COMMAND", "DOCS"])) as unknown as Record<string, CommandDoc>;
    const infos = parseCommandInfoReply(info);
    const argvs = samples(infos, docs).map((sample) => sample.argv);
    const replies = await resp2.pipeline(argvs.map((argv) => ["COMMAND", "GETKEYS", ...argv]));
    const getKeys = argvs.map((argv, i) => {
      const reply = replies[i];
      return reply instanceof Error ? { argv, error: reply.message } : { argv, keys: reply as string[] };
    });
    return { server: valkey === undefined ? "redis" : "valkey", version, info, docs, getKeys };
  } finally {
    resp2.close();
    resp3.close();
  }
}

// ---------------------------------------------------------------------------------------
// COMMAND DOCS
// ---------------------------------------------------------------------------------------

interface DocArgument {
  name: string;
  type: "key" | "string" | "integer" | "double" | "pattern" | "unix-time" | "pure-token" | "oneof" | "block";
  token?: string;
  flags?: string[];
  arguments?: DocArgument[];
}

interface CommandDoc {
  summary?: string;
  doc_flags?: string[];
  replaced_by?: string;
  arguments?: DocArgument[];
  subcommands?: Record<string, CommandDoc>;
}

const has = (argument: DocArgument, flag: string): boolean => argument.flags?.includes(flag) ?? false;

// ---------------------------------------------------------------------------------------
// table.generated.ts
// ---------------------------------------------------------------------------------------

function tableSource(merged: Map<string, MergedCommand>, base: Fixture, sources: readonly string[]): string {
  const baseLabel = fixtureLabel(base);
  const additions: Array<[string, string]> = [];
  for (const { info, source, addedSubcommands } of merged.values()) {
    if (source !== baseLabel) additions.push([info.name, source]);
    for (const sub of addedSubcommands) additions.push([sub.name, sub.source]);
  }
  additions.sort(([a], [b]) => (a < b ? -1 : 1));
  const rows = [...merged.values()]
    .sort((a, b) => (a.info.name < b.info.name ? -1 : 1))
    .map(({ info, source, addedSubcommands }) => {
      const notes: string[] = [];
      if (source !== baseLabel) notes.push(`from ${source}`);
      for (const sub of addedSubcommands) notes.push(`${sub.name} from ${sub.source}`);
      return `  ${JSON.stringify(encodeRow(info))},${notes.length > 0 ? ` // ${notes.join("; ")}` : ""}`;
    });
  return `// Generated by scripts/generate-commands.ts from the COMMAND INFO of ${sources.join(", ")}
// (test/fixtures/commands). Do not edit: record a server with
// \`REDIS_SERVER=... npx tsx scripts/generate-commands.ts record\`, then run
// \`npx tsx scripts/generate-commands.ts\`.
// Every ${baseLabel} command as that server describes it; a command (or a container's
// subcommand) it lacks as the newest server that has it describes it (noted on its row).
// Row format: see src/command/rows.ts.
import type { CommandRow } from "./rows.js";

/** The base server version: every command it has is described as it describes it. */
export const REDIS_VERSION = ${JSON.stringify(base.version)};

/** The servers the table was generated from, the base first, then in order of precedence. */
export const TABLE_SOURCES: readonly string[] = ${JSON.stringify(sources)};

/** Commands and subcommands the base lacks, with the server each row comes from. */
export const TABLE_ADDITIONS: Readonly<Record<string, string>> = {
${additions.map(([name, source]) => `  ${JSON.stringify(name)}: ${JSON.stringify(source)},`).join("\n")}
};

export const COMMAND_ROWS: readonly CommandRow[] = [
${rows.join("\n")}
];
`;
}

// ---------------------------------------------------------------------------------------
// methods.generated.ts
// ---------------------------------------------------------------------------------------

const RESERVED = new Set([
  "arguments",
  "break",
  "case",
  "catch",
  "class",
  "const",
  "continue",
  "default",
  "delete",
  "do",
  "else",
  "enum",
  "eval",
  "export",
  "extends",
  "false",
  "finally",
  "for",
  "function",
  "if",
  "import",
  "in",
  "instanceof",
  "new",
  "null",
  "return",
  "super",
  "switch",
  "this",
  "throw",
  "true",
  "try",
  "typeof",
  "var",
  "void",
  "while",
  "with",
  "yield",
]);

function identifier(docName: string): string {
  const camel = docName.replace(/[-_ ]+([a-z0-9])/gi, (_, letter: string) => letter.toUpperCase());
  return RESERVED.has(camel) ? `${camel}Name` : camel;
}

function plural(name: string): string {
  return name.endsWith("s") ? `${name}List` : `${name}s`;
}

/** The TypeScript type of one value argument of the docs. */
function valueType(argument: DocArgument): string | undefined {
  switch (argument.type) {
    case "key":
      return "RedisKey";
    case "string":
    case "pattern":
      return "RedisArg";
    case "integer":
    case "double":
    case "unix-time":
      return "RedisNumber";
    default:
      return undefined;
  }
}

const token = (text: string): string => `Token<${JSON.stringify(text.toUpperCase())}>`;

/** A tuple type as text: one or more tuple alternatives (a union), and how many. */
interface TupleType {
  text: string;
  alternatives: number;
  /** Holds a rest element: nothing may be spread after it but a loose rest. */
  open: boolean;
}

/** Past this many alternatives, a tail is typed loosely (`...args: RedisArg[]`): checking stays fast. */
const MAX_ALTERNATIVES = 300;

/** Every value one occurrence of `argument` may put on the command line, as one union. */
function looseElements(argument: DocArgument, into: Set<string>): void {
  if (argument.token !== undefined) into.add(token(argument.token));
  if (argument.type === "oneof" || argument.type === "block") {
    for (const inner of argument.arguments ?? []) looseElements(inner, into);
    return;
  }
  const type = valueType(argument);
  if (type !== undefined) into.add(type);
}

function looseUnion(argumentsOf: readonly DocArgument[]): string {
  const elements = new Set<string>();
  for (const argument of argumentsOf) looseElements(argument, elements);
  // RedisArg covers every other element type.
  if (elements.has("RedisArg") || elements.size === 0) return "RedisArg";
  return [...elements].sort().join(" | ");
}

/** The elements of a single tuple type (`[A, B]` → `A, B`), or undefined for a union of tuples. */
function elementsOf(text: string): string | undefined {
  if (!text.startsWith("[") || !text.endsWith("]")) return undefined;
  let depth = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (c === "[" || c === "(" || c === "<") depth++;
    else if (c === "]" || c === ")" || c === ">") depth--;
    if (depth === 0 && i < text.length - 1) return undefined;
  }
  return text.slice(1, -1);
}

/** `...(X)` as a tuple element, written plainly when X is one tuple. */
function spread(text: string): string {
  const elements = elementsOf(text);
  return elements === undefined ? `...(${text})` : elements;
}

/** One occurrence of an argument (its `optional` and `multiple` flags aside). */
function occurrence(argument: DocArgument): TupleType | undefined {
  let inner: TupleType | undefined;
  switch (argument.type) {
    case "pure-token":
      return argument.token === undefined
        ? undefined
        : { text: `[${token(argument.token)}]`, alternatives: 1, open: false };
    case "oneof": {
      const choices = argument.arguments ?? [];
      if (
        choices.length > 0 &&
        choices.every((c) => c.type === "pure-token" && c.token && !c.flags?.length)
      ) {
        // One element whose type is the union of the tokens: exact, and one alternative, not n.
        const tokens = choices.map((c) => JSON.stringify(c.token!.toUpperCase())).join(" | ");
        inner = { text: `[Token<${tokens}>]`, alternatives: 1, open: false };
        break;
      }
      const alternatives = choices.map((alternative) => sequence([alternative]));
      if (alternatives.length === 0 || alternatives.some((a) => a === undefined)) return undefined;
      inner = {
        text: alternatives.map((a) => a!.text).join(" | "),
        alternatives: alternatives.reduce((sum, a) => sum + a!.alternatives, 0),
        open: alternatives.some((a) => a!.open),
      };
      break;
    }
    case "block":
      inner = sequence(argument.arguments ?? []);
      break;
    default: {
      const type = valueType(argument);
      if (type === undefined) return undefined;
      inner = { text: `[${type}]`, alternatives: 1, open: false };
    }
  }
  if (inner === undefined) return undefined;
  if (argument.token === undefined) return inner;
  return { ...inner, text: joinTuple([token(argument.token), spread(inner.text)]) };
}

/**
 * The arguments of the docs, in order, as a tuple type: an optional argument is `[] | X`, a
 * one-of a union, a repeated argument its first occurrence then a loose rest (TypeScript
 * cannot repeat a group of elements). Undefined when an argument has a type we do not map.
 */
function sequence(argumentsOf: readonly DocArgument[]): TupleType | undefined {
  const parts: string[] = [];
  let alternatives = 1;
  for (let index = 0; index < argumentsOf.length; index++) {
    const argument = argumentsOf[index]!;
    const one = occurrence(argument);
    if (one === undefined) return undefined;
    const optional = has(argument, "optional");
    if (has(argument, "multiple") || one.open) {
      // A rest element, which must come last: it takes this argument's later occurrences
      // and everything after it, loosely.
      const rest = `...Array<${looseUnion(argumentsOf.slice(index))}>`;
      const last = index === argumentsOf.length - 1;
      if (optional || (one.open && !last)) parts.push(rest);
      else if (one.open) parts.push(spread(one.text));
      else parts.push(spread(one.text), rest);
      // Required arguments after the rest (an overload's "present") stay required: they
      // end the tuple. Only when each is a simple closed occurrence, and nothing optional
      // comes after them (BLMPOP's direction is followed by an optional COUNT).
      const after = argumentsOf.slice(index + 1);
      const required = after.filter((a) => !has(a, "optional"));
      const trailing = required.map((a) => (has(a, "multiple") ? undefined : occurrence(a)));
      const endsRequired = after.length === 0 || !has(after[after.length - 1]!, "optional");
      if (
        parts[parts.length - 1] === rest &&
        endsRequired &&
        trailing.every((t) => t !== undefined && !t.open)
      ) {
        for (const t of trailing) parts.push(spread(t!.text));
        for (const t of trailing) alternatives *= t!.alternatives;
      }
      return { text: joinTuple(parts), alternatives: alternatives * one.alternatives, open: true };
    }
    parts.push(optional ? `...([] | ${one.text})` : spread(one.text));
    alternatives *= optional ? one.alternatives + 1 : one.alternatives;
  }
  return { text: joinTuple(parts), alternatives, open: false };
}

function joinTuple(parts: readonly string[]): string {
  return `[${parts.filter((part) => part !== "").join(", ")}]`;
}

/** What an overload requires of the named top-level arguments. */
type ArgumentRule = "present" | "absent" | readonly string[];

function applyRules(argumentsOf: readonly DocArgument[], when: Record<string, ArgumentRule>): DocArgument[] {
  const result: DocArgument[] = [];
  for (const argument of argumentsOf) {
    const rule = when[argument.name];
    if (rule === undefined) result.push(argument);
    else if (rule === "absent") continue;
    else {
      const flags = (argument.flags ?? []).filter((flag) => flag !== "optional");
      if (rule === "present") result.push({ ...argument, flags });
      else {
        const tokens = new Set(rule.map((t) => t.toUpperCase()));
        const kept = (argument.arguments ?? []).filter((a) => tokens.has((a.token ?? "").toUpperCase()));
        result.push({ ...argument, flags, arguments: kept });
      }
    }
  }
  const unknownRules = Object.keys(when).filter((name) => !argumentsOf.some((a) => a.name === name));
  if (unknownRules.length > 0) throw new Error(`overload rule names no argument: ${unknownRules.join(", ")}`);
  return result;
}

/**
 * Positional parameters like redis-cli: the leading required arguments named from the
 * docs, then the rest. For a command with a typed tail the rest is a tuple type from the
 * docs' argument tree; otherwise `...args: RedisArg[]`. A repeated last argument becomes a
 * rest parameter alone, so that an array spreads into it (`mget(...keys)`).
 */
function parameters(docArguments: readonly DocArgument[], typedTail: boolean, arity: number): string[] {
  const params: string[] = [];
  const used = new Set<string>();
  const unique = (name: string): string => {
    let candidate = name;
    for (let n = 2; used.has(candidate); n++) candidate = `${name}${n}`;
    used.add(candidate);
    return candidate;
  };
  if (docArguments.length === 0) {
    // Undocumented arguments (DEBUG, PFDEBUG): anything the arity allows.
    return arity === 1 ? [] : ["...args: RedisArg[]"];
  }
  let index = 0;
  for (; index < docArguments.length; index++) {
    const argument = docArguments[index]!;
    if (has(argument, "optional") || argument.token !== undefined) break;
    const type = valueType(argument);
    if (type === undefined) break;
    const name = identifier(argument.name);
    if (has(argument, "multiple")) {
      if (index === docArguments.length - 1) {
        params.push(`...${unique(plural(name))}: ${type}[]`);
        return params;
      }
      if (typedTail) break;
      params.push(`${unique(name)}: ${type}`);
      index++;
      break;
    }
    params.push(`${unique(name)}: ${type}`);
  }
  const rest = docArguments.slice(index);
  if (rest.length === 0) return params;
  const tail = typedTail ? sequence(rest) : undefined;
  if (tail !== undefined && tail.alternatives <= MAX_ALTERNATIVES) params.push(`...options: ${tail.text}`);
  else params.push("...args: RedisArg[]");
  return params;
}

function summaryOf(doc: CommandDoc): string {
  const summary = (doc.summary ?? "").trim().replace(/\s+/g, " ").replace(/\*\//g, "* /");
  return summary.endsWith(".") ? summary : `${summary}.`;
}

function deprecationOf(doc: CommandDoc): string | undefined {
  if (!doc.doc_flags?.includes("deprecated")) return undefined;
  const replacement = doc.replaced_by?.replace(/!/g, "");
  return replacement ? `@deprecated Use ${replacement}.` : "@deprecated";
}

/** One signature of a method, before it is written for strings, Buffers and pipelines. */
interface Signature {
  params: string;
  resp2: string;
  resp3: string;
}

/** The reply type of a signature for one protocol, with `Str`/`OK` spelled for strings or Buffers. */
function spell(type: string, strType: "string" | "Buffer"): string {
  return type.replace(/\bStr\b/g, strType).replace(/\bOK\b/g, strType === "string" ? '"OK"' : "Buffer");
}

function replyType(signature: Signature, strType: "string" | "Buffer"): string {
  const resp2 = spell(signature.resp2, strType);
  const resp3 = spell(signature.resp3, strType);
  return resp2 === resp3 ? resp2 : `ByProtocol<R, ${resp2}, ${resp3}>`;
}

/** The arity of a subcommand's own arguments, as `parameters` reads it (1: none). */
function subcommandArity(arity: number): number {
  return arity > 0 ? arity - 1 : arity + 1;
}

function signaturesOf(name: string, doc: CommandDoc, info: CommandInfo | undefined): Signature[] {
  const resp2 = RETURN_TYPES[name]!;
  const resp3 = RESP3_RETURN_TYPES[name] ?? resp2;
  const isContainer = info?.subcommands !== undefined;
  if (isContainer && TYPED_CONTAINERS.has(name)) {
    const signatures: Signature[] = [];
    for (const [fullName, subDoc] of Object.entries(doc.subcommands ?? {}).sort(([a], [b]) =>
      a < b ? -1 : 1,
    )) {
      const sub = fullName.split("|")[1]!;
      const subInfo = info?.subcommands?.get(sub);
      const params = [
        `subcommand: ${token(sub)}`,
        ...parameters(subDoc.arguments ?? [], true, subcommandArity(subInfo?.arity ?? -2)),
      ];
      const subResp2 = RETURN_TYPES[fullName] ?? "unknown";
      signatures.push({
        params: params.join(", "),
        resp2: subResp2,
        resp3: RESP3_RETURN_TYPES[fullName] ?? subResp2,
      });
    }
    return signatures;
  }
  if (isContainer) return [{ params: "subcommand: string, ...args: RedisArg[]", resp2, resp3 }];
  const docArguments = doc.arguments ?? [];
  const typed = TYPED_TAILS.has(name);
  const signatures: Signature[] = (EXTRA_SIGNATURES[name] ?? []).map((extra) => ({
    params: extra.params,
    resp2: extra.returns,
    resp3: extra.resp3 ?? extra.returns,
  }));
  for (const overload of REPLY_OVERLOADS[name] ?? []) {
    signatures.push({
      params: parameters(applyRules(docArguments, overload.when), true, info?.arity ?? -1).join(", "),
      resp2: overload.returns,
      resp3: overload.resp3 ?? overload.returns,
    });
  }
  signatures.push({ params: parameters(docArguments, typed, info?.arity ?? -1).join(", "), resp2, resp3 });
  return signatures;
}

function methodsSource(
  names: readonly string[],
  docs: Record<string, CommandDoc>,
  infos: Map<string, CommandInfo>,
  sources: readonly string[],
): string {
  const commandLines: string[] = [];
  const pipelineLines: string[] = [];
  for (const name of names) {
    const doc = docs[name] ?? {};
    const signatures = signaturesOf(name, doc, infos.get(name));
    const deprecation = deprecationOf(doc);
    for (const [method, strType, note] of [
      [name, "string", ""],
      [`${name}Buffer`, "Buffer", " Bulk and simple strings in the reply are Buffers."],
    ] as const) {
      const comment = deprecation
        ? `  /**\n   * ${summaryOf(doc)}${note}\n   * ${deprecation}\n   */`
        : `  /** ${summaryOf(doc)}${note} */`;
      for (const signature of signatures) {
        const reply = replyType(signature, strType);
        commandLines.push(comment, `  ${method}(${signature.params}): Promise<${reply}>;`);
        pipelineLines.push(
          comment,
          `  ${method}(${signature.params}): Pipeline<R, [...T, ${reply} | Error]>;`,
        );
      }
    }
  }
  return `// Generated by scripts/generate-commands.ts from the COMMAND DOCS of ${sources.join(", ")}
// (test/fixtures/commands). Do not edit: run \`npx tsx scripts/generate-commands.ts\`; return
// types, typed option tails and overloads are curated in that script.
import type { Pipeline } from "../batch/pipeline.js";
import type { ByProtocol, RedisArg, RedisKey, RedisNumber, RespVersion, Token } from "./types.js";

/**
 * A method per Redis command, named like the command in lower case, with positional
 * arguments as redis-cli takes them. The options of the most used commands are typed from
 * the server's docs, in the order the docs give them (\`set(k, v, "NX", "EX", 60)\`), and
 * their reply type follows them (\`set(k, v)\` is \`"OK"\`, \`set(k, v, "NX")\` is
 * \`"OK" | null\`, \`set(k, v, "GET")\` is \`string | null\`). Replies are typed as the
 * connection's protocol decodes them: \`R\` is 2 (RESP2, the default) or 3 (\`protocol: 3\`:
 * doubles are numbers, maps are objects). Every method has a \`...Buffer\` twin whose bulk and
 * simple strings are Buffers.
 *
 * @example
 * await cluster.set("name", "v", "EX", 60); // "OK"
 * await cluster.get("name");                // "v"
 * await cluster.getBuffer("name");          // <Buffer 76>
 */
export interface CommandMethods<R extends RespVersion = 2> {
${commandLines.join("\n")}
}

/**
 * The same methods on a pipeline: each queues its command and returns the pipeline, whose
 * type remembers the reply type of every command queued so far, so that \`exec()\` resolves
 * to a tuple in queue order (each entry the reply or the \`Error\` of that command).
 *
 * @example
 * const [a, b] = await cluster.pipeline().get("a").incr("b").exec();
 * // a: string | null | Error, b: number | Error
 */
export interface PipelineMethods<R extends RespVersion = 2, T extends unknown[] = []> {
${pipelineLines.join("\n")}
}

/**
 * Lower-case names of the commands that get a method (and a \`...Buffer\` twin) in
 * \`CommandMethods\` and \`PipelineMethods\`.
 *
 * @example
 * COMMAND_METHOD_NAMES.includes("get"); // true
 */
export const COMMAND_METHOD_NAMES: readonly string[] = [
${names.map((name) => `  ${JSON.stringify(name)},`).join("\n")}
];
`;
}

// ---------------------------------------------------------------------------------------
// Sample invocations (test fixture)
// ---------------------------------------------------------------------------------------

interface SampleBuilder {
  argv: string[];
  nextKey: number;
}

const SAMPLE_VALUES: Record<string, string> = {
  string: "s",
  integer: "1",
  double: "1.5",
  "unix-time": "1700000000",
  pattern: "*",
};

/**
 * A sample invocation from the docs' argument tree. "min" leaves every optional argument
 * out; "full" puts every one in, twice where repeatable, and prefers the alternative of a
 * one-of that holds a key. A numkeys argument is set to the number of keys that follow it.
 */
function sampleArguments(
  argumentsOf: readonly DocArgument[],
  mode: "min" | "full",
  builder: SampleBuilder,
): void {
  for (let index = 0; index < argumentsOf.length; index++) {
    const argument = argumentsOf[index]!;
    if (has(argument, "optional") && mode === "min") continue;
    if (argument.name === "numkeys" && argument.type === "integer") {
      const countAt = builder.argv.length;
      builder.argv.push("0");
      const keysBefore = builder.nextKey;
      const next = argumentsOf[index + 1];
      if (next) sampleArguments([next], mode, builder);
      builder.argv[countAt] = String(builder.nextKey - keysBefore);
      index++;
      continue;
    }
    const repeat = has(argument, "multiple") ? (mode === "full" ? 2 : 1) : 1;
    for (let r = 0; r < repeat; r++) {
      if (argument.token !== undefined && (r === 0 || has(argument, "multiple_token")))
        builder.argv.push(argument.token);
      sampleValue(argument, mode, builder);
    }
  }
}

function sampleValue(argument: DocArgument, mode: "min" | "full", builder: SampleBuilder): void {
  switch (argument.type) {
    case "pure-token":
      // The token was written already (pure tokens are their token).
      if (argument.token === undefined) builder.argv.push("");
      return;
    case "key":
      builder.argv.push(`key:${builder.nextKey++}`);
      return;
    case "block":
      sampleArguments(argument.arguments ?? [], mode, builder);
      return;
    case "oneof": {
      const alternatives = argument.arguments ?? [];
      const withKey = alternatives.find(containsKey);
      const choice = mode === "full" && withKey ? withKey : alternatives[0];
      if (choice) sampleArguments([{ ...choice, flags: [] }], mode, builder);
      return;
    }
    default:
      builder.argv.push(SAMPLE_VALUES[argument.type] ?? "s");
  }
}

function containsKey(argument: DocArgument): boolean {
  return argument.type === "key" || (argument.arguments ?? []).some(containsKey);
}

function hasKeys(info: CommandInfo): boolean {
  return info.keySpecs.some((spec) => !(spec.flags & KeySpecFlag.NOT_KEY));
}

interface Sample {
  command: string;
  argv: string[];
}

function samples(infos: readonly CommandInfo[], docs: Record<string, CommandDoc>): Sample[] {
  const result: Sample[] = [];
  const seen = new Set<string>();
  const add = (command: string, argv: string[]): void => {
    const id = JSON.stringify(argv);
    if (seen.has(id)) return;
    seen.add(id);
    result.push({ command, argv });
  };
  const visit = (info: CommandInfo, doc: CommandDoc | undefined, prefix: string[]): void => {
    if (hasKeys(info) && doc) {
      for (const mode of ["min", "full"] as const) {
        const builder: SampleBuilder = { argv: [...prefix], nextKey: 1 };
        sampleArguments(doc.arguments ?? [], mode, builder);
        add(info.name, builder.argv);
      }
    }
    const subcommands = [...(info.subcommands ?? [])].sort(([a], [b]) => (a < b ? -1 : 1));
    for (const [subName, sub] of subcommands) {
      visit(sub, doc?.subcommands?.[sub.name], [...prefix, subName.toUpperCase()]);
    }
  };
  for (const info of [...infos].sort((a, b) => (a.name < b.name ? -1 : 1))) {
    visit(info, docs[info.name], [info.name.toUpperCase()]);
  }
  for (const argv of HAND_WRITTEN_SAMPLES) {
    const top = argv[0]!.toLowerCase();
    const container = infos.find((info) => info.name === top);
    const sub = container?.subcommands?.get(argv[1]?.toLowerCase() ?? "");
    add(sub?.name ?? top, [...argv]);
  }
  return result;
}

function samplesSource(list: readonly Sample[], version: string): string {
  const lines = list.map((sample) => `    ${JSON.stringify(sample)}`);
  return `{
  "generatedBy": "scripts/generate-commands.ts",
  "redisVersion": ${JSON.stringify(version)},
  "samples": [
${lines.join(",\n")}
  ]
}
`;
}

// ---------------------------------------------------------------------------------------

const FIXTURES_DIR = join(root, "test", "fixtures", "commands");

function fixtureLabel(fixture: Pick<Fixture, "server" | "version">): string {
  return `${fixture.server} ${fixture.version}`;
}

function compareVersions(a: string, b: string): number {
  const parts = (version: string) => version.split(/[.-]/).map((part) => Number.parseInt(part, 10) || 0);
  const [x, y] = [parts(a), parts(b)];
  for (let i = 0; i < Math.max(x.length, y.length); i++) {
    const difference = (x[i] ?? 0) - (y[i] ?? 0);
    if (difference !== 0) return difference;
  }
  return 0;
}

/**
 * The recorded fixtures, the base first (the oldest Redis: its rows are the table as it
 * always was), then the others in the order they are asked for what the base lacks: the
 * newest Redis first, then the newest Valkey.
 */
function loadFixtures(): { base: Fixture; newer: Fixture[] } {
  const fixtures = readdirSync(FIXTURES_DIR)
    .filter((file) => file.endsWith(".json"))
    .map((file) => JSON.parse(readFileSync(join(FIXTURES_DIR, file), "utf8")) as Fixture);
  const redis = fixtures
    .filter((f) => f.server === "redis")
    .sort((a, b) => compareVersions(a.version, b.version));
  const valkey = fixtures
    .filter((f) => f.server === "valkey")
    .sort((a, b) => compareVersions(b.version, a.version));
  const base = redis.shift();
  if (base === undefined) throw new Error(`no Redis fixture in ${FIXTURES_DIR}: run the record step first`);
  return { base, newer: [...redis.reverse(), ...valkey] };
}

interface MergedCommand {
  info: CommandInfo;
  /** The fixture the row comes from. */
  source: string;
  /** Subcommands added to a base container from newer servers, with their source. */
  addedSubcommands: Array<{ name: string; source: string }>;
}

/**
 * The union of every fixture's commands: every base row as it is; a command the base lacks
 * from the newest server that has it; likewise for the subcommands of a container.
 */
function mergeInfos(base: Fixture, newer: readonly Fixture[]): Map<string, MergedCommand> {
  const merged = new Map<string, MergedCommand>();
  for (const info of parseCommandInfoReply(base.info))
    merged.set(info.name, { info, source: fixtureLabel(base), addedSubcommands: [] });
  for (const fixture of newer) {
    const source = fixtureLabel(fixture);
    for (const info of parseCommandInfoReply(fixture.info)) {
      const existing = merged.get(info.name);
      if (existing === undefined) {
        merged.set(info.name, { info, source, addedSubcommands: [] });
        continue;
      }
      const known = existing.info.subcommands;
      if (known === undefined || info.subcommands === undefined) continue;
      const added = [...info.subcommands.values()].filter((sub) => !known.has(sub.name.split("|")[1]!));
      if (added.length === 0) continue;
      existing.info = makeCommandInfo({ ...existing.info, subcommands: [...known.values(), ...added] });
      for (const sub of added) existing.addedSubcommands.push({ name: sub.name, source });
    }
  }
  return merged;
}

/** Every command's docs from the newest server that documents it (subcommands likewise). */
function mergeDocs(base: Fixture, newer: readonly Fixture[]): Record<string, CommandDoc> {
  const merged: Record<string, CommandDoc> = {};
  for (const fixture of [...newer, base]) {
    for (const [name, doc] of Object.entries(fixture.docs)) {
      const existing = merged[name];
      if (existing === undefined) merged[name] = doc;
      else if (existing.subcommands && doc.subcommands)
        merged[name] = { ...existing, subcommands: { ...doc.subcommands, ...existing.subcommands } };
    }
  }
  return merged;
}

/** `record`: asks a throwaway server (REDIS_SERVER) and writes its fixture. */
async function record(): Promise<void> {
  const server = await startServer();
  let fixture: Fixture;
  try {
    fixture = await recordFixture(server.port);
  } finally {
    await server.stop();
  }
  mkdirSync(FIXTURES_DIR, { recursive: true });
  const path = join(FIXTURES_DIR, `${fixture.server}-${fixture.version}.json`);
  // One line per top-level entry keeps diffs between recordings readable.
  const body = [
    "{",
    `"server": ${JSON.stringify(fixture.server)},`,
    `"version": ${JSON.stringify(fixture.version)},`,
    `"recordedBy": "scripts/generate-commands.ts record",`,
    `"info": [\n${(fixture.info as RespValue[]).map((entry) => JSON.stringify(entry)).join(",\n")}\n],`,
    `"docs": {\n${Object.entries(fixture.docs)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([name, doc]) => `${JSON.stringify(name)}: ${JSON.stringify(doc)}`)
      .join(",\n")}\n},`,
    `"getKeys": [\n${fixture.getKeys.map((entry) => JSON.stringify(entry)).join(",\n")}\n]`,
    "}",
  ];
  writeFileSync(path, `${body.join("\n")}\n`);
  console.log(`${fixtureLabel(fixture)}: ${fixture.getKeys.length} GETKEYS samples -> ${path}`);
}

async function generate(): Promise<void> {
  const { base, newer } = loadFixtures();
  const merged = mergeInfos(base, newer);
  const docs = mergeDocs(base, newer);
  const infos = [...merged.values()].map((entry) => entry.info);
  const infoByName = new Map(infos.map((info) => [info.name, info]));
  const methodNames = infos
    .map((info) => info.name)
    .filter((name) => !LEFT_OUT.has(name))
    .sort();
  const missing = methodNames.filter((name) => RETURN_TYPES[name] === undefined);
  if (missing.length > 0) throw new Error(`no curated return type for: ${missing.join(", ")}`);
  const stale = Object.keys(RETURN_TYPES).filter((name) => {
    const [command, sub] = name.split("|");
    const info = infoByName.get(command!);
    return info === undefined || LEFT_OUT.has(name) || (sub !== undefined && !info.subcommands?.has(sub));
  });
  if (stale.length > 0) console.warn(`return types of commands without a method: ${stale.join(", ")}`);

  const sources = [base, ...newer].map(fixtureLabel);
  const tablePath = join(root, "src", "command", "table.generated.ts");
  const methodsPath = join(root, "src", "command", "methods.generated.ts");
  const samplesPath = join(root, "test", "fixtures", "command-samples.json");
  writeFileSync(tablePath, tableSource(merged, base, sources));
  writeFileSync(methodsPath, methodsSource(methodNames, docs, infoByName, sources));
  // The samples are checked against the dev cluster's server, which is the base version.
  const baseInfos = parseCommandInfoReply(base.info);
  writeFileSync(samplesPath, samplesSource(samples(baseInfos, base.docs), base.version));
  // The methods file is checked by Biome like hand-written code; let Biome lay it out.
  await run(
    process.execPath,
    [
      join(root, "node_modules", "@biomejs", "biome", "bin", "biome"),
      "format",
      "--write",
      methodsPath,
      samplesPath,
    ],
    { cwd: root },
  );
  const added = [...merged.values()].filter((entry) => entry.source !== fixtureLabel(base)).length;
  console.log(
    `${sources.join(", ")}: ${infos.length} commands (${added} beyond ${fixtureLabel(base)}), ${methodNames.length} methods`,
  );
}

if (process.argv[2] === "record") await record();
else if (process.argv[2] === undefined) await generate();
else throw new Error("usage: generate-commands.ts [record]");
