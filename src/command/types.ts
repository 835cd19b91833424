/**
 * Aliases shared by the command table, the typed methods and the client.
 */
import type { RedisArg } from "../resp/types.js";

export type { RedisArg };

/**
 * A key: text (sent as UTF-8), raw bytes, or a number (sent as its decimal text). Keys
 * whose bytes are equal hash to the same slot, whatever their type (`42` and `"42"`).
 *
 * @example
 * const keys: RedisKey[] = ["user:{42}", Buffer.from([0xff, 0x00]), 42];
 */
export type RedisKey = string | Buffer | number;

/**
 * A number argument (a count, an index, a score, a timeout): a number, a bigint, or a
 * string that reads as a number. Strings are accepted for the bounds Redis reads as
 * numbers too: `"+inf"`, `"-inf"`, and exclusive bounds such as `"(1.5"`. A string that is
 * no number (`"ten"`) does not compile.
 *
 * @example
 * const score: RedisNumber = "+inf";
 * const bound: RedisNumber = "(1.5";
 */
export type RedisNumber =
  | number
  | bigint
  | `${number}`
  | `(${number}`
  | "+inf"
  | "-inf"
  | "inf"
  | "(+inf"
  | "(-inf";

/**
 * The RESP protocol version a client speaks (its `protocol` option): replies are typed
 * for it.
 *
 * @example
 * const cluster = new RedisCluster({ nodes: ["127.0.0.1:7001"], protocol: 3 }); // RedisCluster<3>
 */
export type RespVersion = 2 | 3;

/**
 * A command token as Redis spells it in its docs, or in lower case: `Token<"EX">` is
 * `"EX" | "ex"`.
 *
 * @example
 * const condition: Token<"NX" | "XX"> = "nx";
 */
export type Token<T extends string> = T | Lowercase<T>;

/**
 * The reply type `Resp2` on a RESP2 connection, `Resp3` on a RESP3 one (both when the
 * protocol is not known statically).
 *
 * @example
 * type Score = ByProtocol<3, string | null, number | null>; // number | null
 */
export type ByProtocol<R extends RespVersion, Resp2, Resp3> = RepliesByProtocol<Resp2, Resp3>[R];

/** A command's reply type under each RESP version (what `ByProtocol` picks from). */
export interface RepliesByProtocol<Resp2, Resp3> {
  /** The reply as RESP2 decodes it (`protocol: 2`, the default). */
  2: Resp2;
  /** The reply as RESP3 decodes it (`protocol: 3`). */
  3: Resp3;
}
