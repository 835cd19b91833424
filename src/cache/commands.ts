/**
 * Which reads the client-side cache may answer: read-only commands on one key whose reply
 * depends only on that key's value, so that the server's invalidation of the key is the
 * one event that can make a cached reply wrong.
 *
 * Left out on purpose: replies that change without a write (`TTL`, `PTTL`, `OBJECT`:
 * time passes, the key is not written), random ones (`SRANDMEMBER`, `HRANDFIELD`, `ZRANDMEMBER`,
 * `RANDOMKEY`), reads of several keys (`SINTER`, `LCS`, `SORT_RO` with patterns — `MGET` is
 * the exception, cached key by key), scans (their cursors belong to one process), and every
 * module command (the client cannot know what a module's reply depends on).
 *
 * Every command here has its key first (`args[0]`); a test checks that against the table.
 */
import type { RedisArg } from "../resp/types.js";

/**
 * The cacheable commands (lower case, as the command table names them), for the README and
 * tests. `EXISTS` is cached with one key only; `MGET` per key (see cache.ts).
 */
export const CACHEABLE_COMMANDS: readonly string[] = [
  // strings and bits
  "get",
  "getrange",
  "substr",
  "strlen",
  "getbit",
  "bitcount",
  "bitpos",
  "bitfield_ro",
  "mget",
  // any type
  "exists",
  "type",
  // hashes
  "hget",
  "hmget",
  "hgetall",
  "hexists",
  "hlen",
  "hstrlen",
  "hkeys",
  "hvals",
  // sets
  "smembers",
  "sismember",
  "smismember",
  "scard",
  // sorted sets
  "zrange",
  "zrangebyscore",
  "zrangebylex",
  "zrevrange",
  "zrevrangebyscore",
  "zrevrangebylex",
  "zscore",
  "zmscore",
  "zcard",
  "zcount",
  "zlexcount",
  "zrank",
  "zrevrank",
  // lists
  "lrange",
  "llen",
  "lindex",
  "lpos",
  // streams
  "xlen",
  "xrange",
  "xrevrange",
];

const CACHEABLE = new Set(CACHEABLE_COMMANDS);

/** How a read is cached: whole (one entry for the reply), per key (MGET), or not at all. */
export type CacheableForm = "whole" | "perKey" | undefined;

/**
 * Whether `name` (the table's lower-case name) with `args` is a read the cache answers.
 *
 * @example
 * cacheableForm("get", ["k"]);        // "whole"
 * cacheableForm("exists", ["a", "b"]); // undefined: several keys
 * cacheableForm("mget", ["a", "b"]);  // "perKey"
 */
export function cacheableForm(name: string, args: readonly RedisArg[]): CacheableForm {
  if (!CACHEABLE.has(name) || args.length === 0) return undefined;
  if (name === "mget") return "perKey";
  if (name === "exists" && args.length !== 1) return undefined;
  return "whole";
}
