/**
 * The few replies a method reshapes, and the few argument forms a method flattens, by
 * command name. Everything else is sent and returned as is, so that types stay predictable.
 */
import type { RedisArg, RespValue } from "../resp/types.js";
import type { ReplyTransform } from "./command.js";

/** HGETALL: RESP2's `[field, value, ...]` becomes `{ field: value }` (RESP3 already sends a map). */
function pairsToObject(reply: RespValue): unknown {
  if (!Array.isArray(reply)) return reply;
  const object: Record<string, RespValue> = {};
  for (let i = 0; i + 1 < reply.length; i += 2) object[String(reply[i])] = reply[i + 1]!;
  return object;
}

/** Methods whose replies are reshaped, by method name. */
export const REPLY_TRANSFORMS: ReadonlyMap<string, ReplyTransform> = new Map([["hgetall", pairsToObject]]);

/** Rewrites a method's arguments before they are checked and sent. */
export type ArgumentShaper = (args: unknown[]) => RedisArg[];

/** HSET: `hset(key, { field: value })` and `hset(key, Map)` become `hset(key, field, value, ...)`. */
function fieldsAndValues(args: unknown[]): RedisArg[] {
  const [key, fields] = args;
  if (args.length !== 2 || fields === null || typeof fields !== "object" || fields instanceof Uint8Array)
    return args as RedisArg[];
  const pairs = fields instanceof Map ? [...fields] : Object.entries(fields);
  return [key as RedisArg, ...(pairs.flat() as RedisArg[])];
}

/** Methods whose arguments are flattened before they are checked, by method name. */
export const ARGUMENT_SHAPERS: ReadonlyMap<string, ArgumentShaper> = new Map([["hset", fieldsAndValues]]);
