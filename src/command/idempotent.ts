/**
 * Our curated list of writes that may be resent after an ambiguous failure. The rule is
 * documented at `CommandFlag.IDEMPOTENT`; in short: running it twice leaves the data as
 * running it once did, and its reply reports nothing read before the write.
 */
import type { RedisArg } from "../resp/types.js";
import { argEquals } from "./args.js";
import { CommandFlag } from "./flags.js";
import type { CommandInfo } from "./info.js";

/**
 * Lower-case names of the commands that get `CommandFlag.IDEMPOTENT`. Left out, and why:
 * - counters and appends (a resend adds twice): INCR*, DECR*, HINCRBY*, ZINCRBY, APPEND,
 *   LPUSH/RPUSH(X), LINSERT, XADD;
 * - writes that reply with what they read: GETSET, GETDEL, GETEX, SETBIT (the old bit),
 *   LPOP/RPOP/SPOP/ZPOP*, LMOVE/RPOPLPUSH, *MPOP;
 * - writes whose resend fails, does more, or answers "not done" for work the lost first
 *   run did: RENAME (no such key), RESTORE (BUSYKEY), COPY, SMOVE, LREM and
 *   ZREMRANGEBYRANK (remove further elements), SETNX/HSETNX/MSETNX;
 * - anything whose effect a script or a module decides: EVAL*, FCALL*, module commands.
 *
 * @example
 * IDEMPOTENT_COMMANDS.has("del"); // true
 */
export const IDEMPOTENT_COMMANDS: ReadonlySet<string> = new Set([
  // strings
  "set", // unless GET or NX: see isIdempotentCall
  "setex",
  "psetex",
  "mset",
  "setrange",
  // keys
  "del",
  "unlink",
  "expire",
  "pexpire",
  "expireat",
  "pexpireat",
  "persist",
  // hashes
  "hset",
  "hmset",
  "hdel",
  // sets
  "sadd",
  "srem",
  "sinterstore",
  "sunionstore",
  "sdiffstore",
  // sorted sets
  "zadd", // unless INCR: see isIdempotentCall
  "zrem",
  "zremrangebyscore",
  "zremrangebylex",
  "zunionstore",
  "zinterstore",
  "zdiffstore",
  "zrangestore",
  // lists
  "lset",
  "ltrim",
  // geo, hyperloglog, bitmaps
  "geoadd",
  "pfadd",
  "pfmerge",
  "bitop",
  // streams
  "xdel",
  "xack",
  "xtrim",
  // server
  "flushall",
  "flushdb",
]);

/**
 * Whether this invocation is safe to send a second time: read-only commands always are;
 * writes when flagged `IDEMPOTENT` and not using an option that breaks the rule
 * (`SET ... GET` replies with what it read; `SET ... NX` would answer "not set" for a key
 * that the lost first run did set; `ZADD ... INCR` adds twice).
 *
 * @example
 * isIdempotentCall(findCommand("set")!, ["k", "v", "EX", 10]); // true
 * isIdempotentCall(findCommand("set")!, ["k", "v", "GET"]);    // false
 */
export function isIdempotentCall(info: CommandInfo, args: readonly RedisArg[]): boolean {
  if (info.flags & CommandFlag.READONLY) return true;
  if (!(info.flags & CommandFlag.IDEMPOTENT)) return false;
  if (info.name === "set") return !hasToken(args, 2, "GET") && !hasToken(args, 2, "NX");
  if (info.name === "zadd") return !hasToken(args, 1, "INCR");
  return true;
}

function hasToken(args: readonly RedisArg[], from: number, token: string): boolean {
  for (let i = from; i < args.length; i++) if (argEquals(args[i], token)) return true;
  return false;
}
