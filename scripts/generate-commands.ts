/**
 * Regenerates the command table and the typed command methods from a real redis-server:
 *
 *   npx tsx scripts/generate-commands.ts
 *
 * It starts a throwaway redis-server (redis-server and redis-cli from PATH, or the
 * REDIS_SERVER / REDIS_CLI environment variables) on a free 127.0.0.1 port without
 * persistence, reads `COMMAND INFO` and `COMMAND DOCS` through `redis-cli --json`, stops
 * the server by PID, and writes:
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
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";
import { KeySpecFlag } from "../src/command/flags.js";
import type { CommandInfo } from "../src/command/info.js";
import { parseCommandInfoReply } from "../src/command/parse-info.js";
import { encodeRow } from "../src/command/rows.js";
import type { RespValue } from "../src/resp/types.js";

const root = join(dirname(fileURLToPath(import.meta.url)), "..");
const run = promisify(execFile);
const REDIS_SERVER = process.env.REDIS_SERVER ?? "redis-server";
const REDIS_CLI = process.env.REDIS_CLI ?? "redis-cli";

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
  lpos: "number | null | number[]",
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
  set: "Str | null",
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
  xack: "number",
  xadd: "Str | null",
  xautoclaim: `[cursor: Str, claimed: Array<${ENTRY} | Str>, deleted: Str[]]`,
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
  zadd: "number | Str | null",
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

async function cli(port: number, protocol: 2 | 3, ...args: string[]): Promise<unknown> {
  const { stdout } = await run(
    REDIS_CLI,
    ["-h", "127.0.0.1", "-p", String(port), `-${protocol}`, "--json", ...args],
    {
      maxBuffer: 64 * 1024 * 1024,
    },
  );
  return JSON.parse(stdout);
}

async function serverVersion(port: number): Promise<string> {
  const { stdout } = await run(REDIS_CLI, ["-h", "127.0.0.1", "-p", String(port), "INFO", "server"]);
  const match = /redis_version:(\S+)/.exec(stdout);
  if (!match?.[1]) throw new Error("INFO server has no redis_version");
  return match[1];
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

function tableSource(infos: readonly CommandInfo[], version: string): string {
  const rows = [...infos]
    .sort((a, b) => (a.name < b.name ? -1 : 1))
    .map((info) => `  ${JSON.stringify(encodeRow(info))},`);
  return `// Generated by scripts/generate-commands.ts from Redis ${version} (COMMAND INFO). Do not edit:
// run \`npx tsx scripts/generate-commands.ts\` against the Redis version to support.
// Row format: see src/command/rows.ts.
import type { CommandRow } from "./rows.js";

export const REDIS_VERSION = ${JSON.stringify(version)};

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

function parameterType(argument: DocArgument): string | undefined {
  switch (argument.type) {
    case "key":
      return "RedisKey";
    case "string":
      return "RedisArg";
    case "pattern":
      return "string";
    case "integer":
    case "double":
    case "unix-time":
      return "RedisNumber";
    case "oneof": {
      const alternatives = argument.arguments ?? [];
      if (alternatives.length === 0 || !alternatives.every((a) => a.type === "pure-token" && a.token))
        return undefined;
      const tokens = alternatives.flatMap((a) => [a.token!.toUpperCase(), a.token!.toLowerCase()]);
      return [...new Set(tokens)].map((token) => JSON.stringify(token)).join(" | ");
    }
    default:
      return undefined;
  }
}

/**
 * Positional parameters like redis-cli: the leading required arguments named from the
 * docs, then `...args` for whatever follows (options, tokens, repeated groups). A
 * repeated last argument becomes a rest parameter.
 */
function parameters(doc: CommandDoc, isContainer: boolean): string[] {
  if (isContainer) return ["subcommand: string", "...args: RedisArg[]"];
  const docArguments = doc.arguments ?? [];
  const params: string[] = [];
  const used = new Set<string>();
  const unique = (name: string): string => {
    let candidate = name;
    for (let n = 2; used.has(candidate); n++) candidate = `${name}${n}`;
    used.add(candidate);
    return candidate;
  };
  let index = 0;
  for (; index < docArguments.length; index++) {
    const argument = docArguments[index]!;
    if (has(argument, "optional") || argument.token !== undefined) break;
    const type = parameterType(argument);
    if (type === undefined) break;
    const name = identifier(argument.name);
    if (has(argument, "multiple")) {
      if (index === docArguments.length - 1) {
        // A rest parameter alone, so that an array spreads into it (`mget(...keys)`); the
        // server still refuses an empty list.
        params.push(`...${unique(plural(name))}: ${type.includes("|") ? `Array<${type}>` : `${type}[]`}`);
        return params;
      }
      params.push(`${unique(name)}: ${type}`);
      index++;
      break;
    }
    params.push(`${unique(name)}: ${type}`);
  }
  if (index < docArguments.length) params.push("...args: RedisArg[]");
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

function methodsSource(
  names: readonly string[],
  docs: Record<string, CommandDoc>,
  infos: Map<string, CommandInfo>,
  version: string,
): string {
  const commandLines: string[] = [];
  const pipelineLines: string[] = [];
  for (const name of names) {
    const doc = docs[name] ?? {};
    const info = infos.get(name);
    const params = parameters(doc, info?.subcommands !== undefined).join(", ");
    const returns = RETURN_TYPES[name]!;
    const deprecation = deprecationOf(doc);
    for (const [method, strType, note] of [
      [name, "string", ""],
      [`${name}Buffer`, "Buffer", " Bulk strings in the reply are Buffers."],
    ] as const) {
      const type = returns.replace(/\bStr\b/g, strType);
      const comment = deprecation
        ? `  /**\n   * ${summaryOf(doc)}${note}\n   * ${deprecation}\n   */`
        : `  /** ${summaryOf(doc)}${note} */`;
      commandLines.push(comment, `  ${method}(${params}): Promise<${type}>;`);
      pipelineLines.push(comment, `  ${method}(${params}): this;`);
    }
  }
  return `// Generated by scripts/generate-commands.ts from Redis ${version} (COMMAND DOCS). Do not edit:
// run \`npx tsx scripts/generate-commands.ts\`; return types are curated in that script.
import type { RedisArg, RedisKey, RedisNumber } from "./types.js";

/**
 * A method per Redis command, named like the command in lower case, with positional
 * arguments as redis-cli takes them. Replies are typed as RESP2 decodes them (integer →
 * number, bulk string → string, null → null); every method has a \`...Buffer\` twin whose
 * bulk strings are Buffers.
 *
 * @example
 * await cluster.set("name", "v", "EX", 60); // "OK"
 * await cluster.get("name");                // "v"
 * await cluster.getBuffer("name");          // <Buffer 76>
 */
export interface CommandMethods {
${commandLines.join("\n")}
}

/**
 * The same methods on a pipeline or a transaction: each queues its command and returns
 * the pipeline, so calls chain; \`exec()\` resolves to the replies in order.
 *
 * @example
 * const replies = await cluster.pipeline().set("a", "1").incr("b").get("a").exec();
 */
export interface PipelineMethods {
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

async function main(): Promise<void> {
  const server = await startServer();
  let infoReply: unknown;
  let docs: Record<string, CommandDoc>;
  let version: string;
  try {
    version = await serverVersion(server.port);
    // RESP2 shapes: what a client on a RESP2 connection sees, parsed by the same code.
    infoReply = await cli(server.port, 2, "COMMAND", "INFO");
    docs = (await cli(server.port, 3, "COMMAND", "DOCS")) as Record<string, CommandDoc>;
  } finally {
    await server.stop();
  }

  const infos = parseCommandInfoReply(infoReply as RespValue);
  const infoByName = new Map(infos.map((info) => [info.name, info]));
  const methodNames = infos
    .map((info) => info.name)
    .filter((name) => !LEFT_OUT.has(name))
    .sort();
  const missing = methodNames.filter((name) => RETURN_TYPES[name] === undefined);
  if (missing.length > 0) throw new Error(`no curated return type for: ${missing.join(", ")}`);
  const stale = Object.keys(RETURN_TYPES).filter((name) => !infoByName.has(name) || LEFT_OUT.has(name));
  if (stale.length > 0) console.warn(`return types of commands without a method: ${stale.join(", ")}`);

  const tablePath = join(root, "src", "command", "table.generated.ts");
  const methodsPath = join(root, "src", "command", "methods.generated.ts");
  const samplesPath = join(root, "test", "fixtures", "command-samples.json");
  writeFileSync(tablePath, tableSource(infos, version));
  writeFileSync(methodsPath, methodsSource(methodNames, docs, infoByName, version));
  mkdirSync(dirname(samplesPath), { recursive: true });
  writeFileSync(samplesPath, samplesSource(samples(infos, docs), version));
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
    {
      cwd: root,
    },
  );
  console.log(`Redis ${version}: ${infos.length} commands, ${methodNames.length} methods`);
}

await main();
