/**
 * Reading command arguments the way the server reads them, without converting them:
 * keyword comparison (ASCII case-insensitive, like `strcasecmp`) and integer parsing
 * (like `string2ll`). These run while locating keys, so they allocate nothing.
 */
import type { RedisArg } from "../resp/types.js";

/**
 * True when `arg` spells `keyword` ignoring ASCII case. `keyword` must be ASCII (every
 * Redis keyword is); bytes are compared, so a Buffer `STORE` matches too.
 *
 * @example
 * argEquals("streams", "STREAMS"); // true
 */
export function argEquals(arg: RedisArg | undefined, keyword: string): boolean {
  if (typeof arg === "string") {
    if (arg.length !== keyword.length) return false;
    for (let i = 0; i < arg.length; i++) {
      if (foldAscii(arg.charCodeAt(i)) !== foldAscii(keyword.charCodeAt(i))) return false;
    }
    return true;
  }
  if (arg instanceof Uint8Array) {
    if (arg.length !== keyword.length) return false;
    for (let i = 0; i < arg.length; i++) {
      if (foldAscii(arg[i]!) !== foldAscii(keyword.charCodeAt(i))) return false;
    }
    return true;
  }
  // A number is sent as its decimal text; only a keyword made of digits can match it.
  return arg !== undefined && String(arg) === keyword;
}

/** Lower-cases an ASCII letter code, leaves anything else alone. */
function foldAscii(code: number): number {
  return code >= 0x41 && code <= 0x5a ? code | 0x20 : code;
}

/**
 * The integer an argument denotes, as the server's `string2ll` reads it (optional `-`,
 * digits, no leading zeros, no spaces, within the safe integer range), or `undefined`.
 *
 * @example
 * parseIntegerArg("2");  // 2
 * parseIntegerArg("02"); // undefined: the server rejects it too
 */
export function parseIntegerArg(arg: RedisArg | undefined): number | undefined {
  if (typeof arg === "number") return Number.isSafeInteger(arg) ? arg : undefined;
  if (typeof arg === "bigint") {
    return arg >= BigInt(Number.MIN_SAFE_INTEGER) && arg <= BigInt(Number.MAX_SAFE_INTEGER)
      ? Number(arg)
      : undefined;
  }
  if (typeof arg === "string" || arg instanceof Uint8Array) return parseDigits(arg);
  return undefined;
}

const DIGIT_0 = 0x30;
const DIGIT_9 = 0x39;
const MINUS = 0x2d;

/** Parses text or bytes with one loop: `codeAt` reads a UTF-16 unit or a byte, both ASCII here. */
function parseDigits(text: string | Uint8Array): number | undefined {
  const length = text.length;
  if (length === 0 || length > 17) return undefined;
  let i = 0;
  const negative = codeAt(text, 0) === MINUS;
  if (negative) i = 1;
  if (i === length) return undefined;
  // "0" alone is fine; "-0", "01" are not (string2ll's rule).
  if (codeAt(text, i) === DIGIT_0) return length === 1 ? 0 : undefined;
  let value = 0;
  for (; i < length; i++) {
    const code = codeAt(text, i);
    if (code < DIGIT_0 || code > DIGIT_9) return undefined;
    value = value * 10 + (code - DIGIT_0);
  }
  return negative ? -value : value;
}

function codeAt(text: string | Uint8Array, index: number): number {
  return typeof text === "string" ? text.charCodeAt(index) : text[index]!;
}
