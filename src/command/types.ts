/**
 * Aliases shared by the command table, the typed methods and the client.
 */
import type { RedisArg } from "../resp/types.js";

export type { RedisArg };

/**
 * A key: text (sent as UTF-8) or raw bytes. Both hash to the same slot when their bytes
 * are equal.
 *
 * @example
 * const keys: RedisKey[] = ["user:{42}", Buffer.from([0xff, 0x00])];
 */
export type RedisKey = string | Buffer;

/**
 * A number argument (a count, an index, a score, a timeout). Strings are accepted for
 * values such as `"+inf"`, `"(1.5"` or `"-"` that Redis reads as numbers or bounds.
 *
 * @example
 * const score: RedisNumber = "+inf";
 */
export type RedisNumber = number | bigint | string;
