/**
 * ioredis's argument rules, applied by the facade before a call reaches the native client,
 * so that code written for ioredis sends the same bytes:
 *
 * - a trailing function is a Node-style callback (`get(key, (err, value) => ...)`);
 * - `mset`/`msetnx` take an object or a Map, `hset`/`hmset` a key and an object or a Map;
 * - arrays are spread one level: `del([a, b])` is `del(a, b)`, `evalsha(sha, 1, [k, v])`
 *   is `evalsha(sha, 1, k, v)`;
 * - `null` and `undefined` are sent as empty strings, booleans as `"true"`/`"false"`.
 *
 * Anything else (an object where a string goes) is left for the native checks, which refuse
 * it with an `ArgumentError` instead of sending `"[object Object]"` as ioredis would.
 */
import { ClosedError } from "../../errors.js";
import type { RedisArg } from "../../resp/types.js";

/** A Node-style callback, as ioredis methods accept last. */
export type Callback<T = unknown> = (error: Error | null, result?: T) => void;

/** Commands whose one argument may be an object or Map of keys and values. */
const PAIRS_ONLY = new Set(["mset", "msetnx"]);
/** Commands whose second argument may be an object or Map of fields and values. */
const KEY_THEN_PAIRS = new Set(["hset", "hmset"]);

/**
 * The arguments as ioredis would send them, and the callback if the last one was a function.
 *
 * @example
 * ioredisArgs("del", [["a", "b"]]);        // { args: ["a", "b"], callback: undefined }
 * ioredisArgs("hset", ["h", { f: 1 }]);    // { args: ["h", "f", 1], callback: undefined }
 */
export function ioredisArgs(
  command: string,
  given: readonly unknown[],
): { args: RedisArg[]; callback: Callback | undefined } {
  let values = given;
  let callback: Callback | undefined;
  const last = values[values.length - 1];
  if (typeof last === "function") {
    callback = last as Callback;
    values = values.slice(0, -1);
  }
  const lower = command.toLowerCase();
  if (PAIRS_ONLY.has(lower) && values.length === 1 && isPairs(values[0])) {
    values = pairsOf(values[0]);
  } else if (KEY_THEN_PAIRS.has(lower) && values.length === 2 && isPairs(values[1])) {
    values = [values[0], ...pairsOf(values[1])];
  }
  const args: unknown[] = [];
  for (const value of values) {
    if (Array.isArray(value)) for (const item of value) args.push(asArg(item));
    else args.push(asArg(value));
  }
  return { args: args as RedisArg[], callback };
}

/** One argument as ioredis writes it (`toArg`): null and undefined empty, booleans as text. */
function asArg(value: unknown): unknown {
  if (value === null || value === undefined) return "";
  if (typeof value === "boolean") return String(value);
  return value;
}

function isPairs(value: unknown): value is Map<unknown, unknown> | Record<string, unknown> {
  return (
    value instanceof Map ||
    (value !== null && typeof value === "object" && !Array.isArray(value) && !(value instanceof Uint8Array))
  );
}

function pairsOf(value: Map<unknown, unknown> | Record<string, unknown>): unknown[] {
  const entries = value instanceof Map ? [...value] : Object.entries(value);
  return entries.flat();
}

/**
 * Calls `callback` (when given) with the outcome of `promise`, as ioredis does, and returns
 * the promise: callers may use either. A callback that throws is not ours to report.
 */
export function withCallback<T>(promise: Promise<T>, callback: Callback<T> | undefined): Promise<T> {
  if (callback === undefined) return promise;
  promise.then(
    (result) => {
      try {
        callback(null, result);
      } catch {
        // The caller's callback threw: the command itself succeeded.
      }
    },
    (error: Error) => {
      try {
        callback(error);
      } catch {
        // As above.
      }
    },
  );
  return promise;
}

/**
 * ioredis's text for a command refused or cut short because the client was closed. Libraries
 * match on it (BullMQ's `isNotConnectionError` stays quiet about a blocking call cut short
 * by its own `close()`), so the facade's `ClosedError`s carry it; the class and code stay
 * the native ones.
 */
export const CONNECTION_CLOSED_MESSAGE = "Connection is closed.";

/** Rethrows `error`, a native `ClosedError` reworded as ioredis words it. */
export function asIoredisError(error: unknown): never {
  if (error instanceof ClosedError && error.message !== CONNECTION_CLOSED_MESSAGE) {
    throw new ClosedError(CONNECTION_CLOSED_MESSAGE);
  }
  throw error;
}
