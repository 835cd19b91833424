/**
 * The few replies a method reshapes, by command name. Everything else is returned as the
 * protocol decodes it, so that types stay predictable.
 */
import type { RespValue } from "../resp/types.js";
import type { ReplyTransform } from "./command.js";

/** HGETALL: RESP2's `[field, value, ...]` becomes `{ field: value }` (RESP3 already sends a map). */
function pairsToObject(reply: RespValue): unknown {
  if (!Array.isArray(reply)) return reply;
  const object: Record<string, RespValue> = {};
  for (let i = 0; i + 1 < reply.length; i += 2) object[String(reply[i])] = reply[i + 1]!;
  return object;
}

export const REPLY_TRANSFORMS: ReadonlyMap<string, ReplyTransform> = new Map([["hgetall", pairsToObject]]);
