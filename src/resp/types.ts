/**
 * The values that travel over RESP, as this package sees them. No I/O here.
 */
import type { ReplyError } from "../errors.js";

/**
 * What a command argument may be. Strings are sent as UTF-8; Buffers and Uint8Arrays byte
 * for byte (never through a string); numbers and bigints as their decimal text.
 */
export type RedisArg = string | Buffer | Uint8Array | number | bigint;

/**
 * A decoded reply. RESP2 and RESP3 map onto it as follows:
 * - simple string, bulk string, verbatim string → `string` (or `Buffer` in Buffer mode;
 *   a verbatim string loses its `txt:` format prefix);
 * - integer → `number`, or `bigint` when outside the safe range (beyond ±(2^53 - 1), where a
 *   `number` would silently round); double → `number` (`inf`, `-inf`, `nan` included);
 *   big number → `bigint`; boolean → `boolean`; null bulk / null array / RESP3 null → `null`;
 * - error and bulk error → a `ReplyError` value (not thrown: the caller decides);
 * - array, set, push → array; map → plain object keyed by the UTF-8 text of each key;
 * - an attribute frame is read and dropped; the value that follows it is returned.
 */
export type RespValue =
  | string
  | Buffer
  | number
  | bigint
  | boolean
  | null
  | ReplyError
  | RespValue[]
  | { [field: string]: RespValue };

/** Limits that keep a hostile or broken server from exhausting memory. */
export interface DecoderLimits {
  /**
   * Longest bulk string accepted, in bytes; also bounds a line (`+`, `-`, `,`, `(`) waiting
   * for its CRLF. Default 512 MiB (Redis's own proto-max-bulk-len).
   */
  maxBulkLength: number;
  /** Most elements in one array/set/map/push/attribute (a map's pairs count once). Default 2^27. */
  maxAggregateLength: number;
  /** Deepest nesting of aggregates. Default 64. */
  maxDepth: number;
  /**
   * Most bytes of one reply the decoder buffers while the rest has not arrived, whatever its
   * shape (the other limits bound one value or one aggregate, not a reply of many). Checked
   * as chunks arrive, so it may be passed by one chunk (a socket read, at most 64 KiB).
   * Default 1 GiB.
   */
  maxReplyBytes: number;
}

/** Receives what a decoder reads off one connection, in order. */
export interface ReplyHandler {
  /**
   * Asked once at the start of each top-level reply that is not a push: true makes that
   * reply's bulk strings `Buffer`s (the command at the head of the connection's queue
   * wants binary replies), false makes them UTF-8 strings.
   */
  wantsBuffers(): boolean;
  /** A whole top-level reply. */
  onReply(value: RespValue): void;
  /** A whole RESP3 push frame (`>`); its bulk strings are always Buffers. */
  onPush(value: RespValue[]): void;
}
