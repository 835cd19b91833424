/**
 * Lua scripts defined once and called by name: `cluster.defineScript({ lua, numberOfKeys })`
 * (and ioredis's `defineCommand`). A call is one `EVALSHA`/`EVAL` command routed by its keys
 * like any other; which of the two goes out is decided per node by the executor
 * (cluster/executor.ts `#chooseScriptForm`):
 *
 * ```
 *   call ─► node sent this script before? ──yes──► EVALSHA sha numkeys keys... args...
 *                     │ no (new node, promoted replica, after a reconnect)
 *                     └──► EVAL lua numkeys ...  (the node caches it: next time EVALSHA)
 *   EVALSHA answered NOSCRIPT (SCRIPT FLUSH, a restart) ──► forgotten, resent as EVAL
 * ```
 *
 * Sending EVAL the first time rather than EVALSHA-then-NOSCRIPT costs the script's bytes
 * once per node and saves a round trip; more importantly, a command queued after the script
 * (in a pipeline, or in the same tick) can never run before it, which a resend after NOSCRIPT
 * would allow. Inside `multi()` a script is always sent as EVAL: a NOSCRIPT there would be a
 * run-time error in the middle of a transaction that cannot be resent.
 */
import { createHash } from "node:crypto";
import type { ScriptSource } from "./command/command.js";
import { type CommandInfo, findCommand } from "./command/table.js";
import { ArgumentError } from "./errors.js";
import type { RedisArg } from "./resp/types.js";

/** What `defineScript()` takes. */
export interface ScriptDefinition {
  /** The Lua source. */
  lua: string | Buffer;
  /**
   * How many of a call's arguments are keys (they come first, and route the call). Omitted:
   * each call passes the number of keys as its first argument, as EVAL takes it.
   */
  numberOfKeys?: number;
  /** The script only reads: sent as EVALSHA_RO / EVAL_RO, which replicas may serve (`readFrom`). */
  readOnly?: boolean;
}

/**
 * A script defined with `cluster.defineScript()`: call it like a command method. Also
 * usable in batches: `pipeline.runScript(script, ...)`, `multi().runScript(script, ...)`.
 *
 * @example
 * const incrCapped = cluster.defineScript<number>({
 *   lua: "local v = redis.call('INCR', KEYS[1]) if v > tonumber(ARGV[1]) then redis.call('SET', KEYS[1], ARGV[1]) return tonumber(ARGV[1]) end return v",
 *   numberOfKeys: 1,
 * });
 * await incrCapped("visits", 100); // 1
 */
export interface Script<Result = unknown> {
  (...keysAndArgs: RedisArg[]): Promise<Result>;
  /** The same call, with bulk strings in the reply as Buffers. */
  buffer(...keysAndArgs: RedisArg[]): Promise<unknown>;
  /** SHA1 of the source, as `SCRIPT LOAD` answers it. */
  readonly sha: string;
  /** The Lua source, as defined. */
  readonly lua: string | Buffer;
  /** How many leading arguments of a call are keys (`undefined`: each call passes the count first). */
  readonly numberOfKeys: number | undefined;
  /** Sent as EVALSHA_RO / EVAL_RO, which replicas may serve. */
  readonly readOnly: boolean;
}

/** The command a script call is described as. */
export interface ScriptCall {
  readonly name: "EVALSHA" | "EVALSHA_RO" | "EVAL" | "EVAL_RO";
  readonly info: CommandInfo | undefined;
  /** `[sha or lua, numkeys, ...keys, ...args]`. */
  readonly args: RedisArg[];
}

const EVALSHA = findCommand("evalsha");
const EVALSHA_RO = findCommand("evalsha_ro");
const EVAL = findCommand("eval");
const EVAL_RO = findCommand("eval_ro");

/** Checks a definition; returns what the executor needs to send it. */
export function scriptSource(
  definition: ScriptDefinition,
): ScriptSource & { numberOfKeys: number | undefined } {
  if (definition === null || typeof definition !== "object") {
    throw new ArgumentError("defineScript() takes { lua, numberOfKeys?, readOnly? }");
  }
  const { lua, numberOfKeys, readOnly = false } = definition;
  if (typeof lua !== "string" && !Buffer.isBuffer(lua)) {
    throw new ArgumentError("defineScript(): lua must be the script's source, a string or a Buffer");
  }
  if (numberOfKeys !== undefined && (!Number.isSafeInteger(numberOfKeys) || numberOfKeys < 0)) {
    throw new ArgumentError("defineScript(): numberOfKeys must be a non-negative integer (or omitted)");
  }
  if (typeof readOnly !== "boolean") throw new ArgumentError("defineScript(): readOnly must be a boolean");
  const sha = createHash("sha1").update(lua).digest("hex");
  return { sha, lua, readOnly, numberOfKeys };
}

/**
 * How one call of `script` is sent: EVALSHA (the executor may turn it into EVAL for a node
 * that lacks it), or EVAL with the source when `asEval` (inside a transaction).
 */
export function scriptCall(
  script: ScriptSource & { numberOfKeys: number | undefined },
  keysAndArgs: readonly RedisArg[],
  asEval: boolean,
): ScriptCall {
  const { numberOfKeys } = script;
  if (numberOfKeys !== undefined && keysAndArgs.length < numberOfKeys) {
    throw new ArgumentError(
      `the script takes ${numberOfKeys} key(s) and got ${keysAndArgs.length} argument(s)`,
      script.readOnly ? "EVALSHA_RO" : "EVALSHA",
    );
  }
  const head: RedisArg = asEval ? script.lua : script.sha;
  const args = numberOfKeys === undefined ? [head, ...keysAndArgs] : [head, numberOfKeys, ...keysAndArgs];
  if (asEval) {
    return script.readOnly ? { name: "EVAL_RO", info: EVAL_RO, args } : { name: "EVAL", info: EVAL, args };
  }
  return script.readOnly
    ? { name: "EVALSHA_RO", info: EVALSHA_RO, args }
    : { name: "EVALSHA", info: EVALSHA, args };
}

/** The source behind a Script function. */
const SOURCES = new WeakMap<object, ScriptSource & { numberOfKeys: number | undefined }>();

/**
 * Builds the callable of `defineScript()`: `run` sends one call (through the client that
 * defined it).
 */
export function makeScript<Result>(
  source: ScriptSource & { numberOfKeys: number | undefined },
  run: (keysAndArgs: RedisArg[], wantsBuffers: boolean) => Promise<unknown>,
): Script<Result> {
  const call = (...keysAndArgs: RedisArg[]) => run(keysAndArgs, false) as Promise<Result>;
  const script = Object.assign(call, {
    buffer: (...keysAndArgs: RedisArg[]) => run(keysAndArgs, true),
    sha: source.sha,
    lua: source.lua,
    numberOfKeys: source.numberOfKeys,
    readOnly: source.readOnly,
  });
  SOURCES.set(script, source);
  return script;
}

/** The source of a Script; throws `ArgumentError` for anything else. */
export function sourceOf(script: unknown): ScriptSource & { numberOfKeys: number | undefined } {
  const source = typeof script === "function" ? SOURCES.get(script) : undefined;
  if (source === undefined) {
    throw new ArgumentError("runScript() takes a script made by cluster.defineScript() or defineCommand()");
  }
  return source;
}
