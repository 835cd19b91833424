/**
 * Encodes server replies, for decoder tests and the fake RESP server.
 *
 * Plain values map onto the frame a Redis server would send for them:
 *
 * | value                   | RESP3                    | RESP2                           |
 * | ----------------------- | ------------------------ | ------------------------------- |
 * | string, Buffer          | `$` bulk string          | `$` bulk string                 |
 * | safe integer (not -0)   | `:` integer              | `:` integer                     |
 * | other number            | `,` double               | `$` bulk string of its text     |
 * | bigint                  | `(` big number           | `$` bulk string of its digits   |
 * | boolean                 | `#t` / `#f`              | `:1` / `:0`                     |
 * | null                    | `_`                      | `$-1`                           |
 * | ReplyError              | `-` (`!` if multi-line)  | `-` (CR/LF become spaces)       |
 * | array                   | `*`                      | `*`                             |
 * | plain object            | `%` map                  | `*` of keys and values          |
 *
 * The wrappers below ask for a specific frame: {@link simple} (`+OK`), {@link verbatim},
 * {@link push}, {@link set}, {@link double}, {@link withAttributes}, {@link nullArray}, {@link raw}.
 */
import { ReplyError } from "../../src/errors.js";

/** A simple string (`+`). Its text must not contain CR or LF. */
export class SimpleString {
  constructor(readonly text: string) {}
}
/** A RESP3 verbatim string (`=`), e.g. the `txt` reply of `INFO`. RESP2 gets a bulk string. */
export class VerbatimString {
  constructor(
    readonly text: string | Buffer,
    readonly format = "txt",
  ) {}
}
/** A RESP3 push frame (`>`). RESP2 gets an array (the way pub/sub messages arrive there). */
export class PushFrame {
  constructor(readonly items: readonly EncodableReply[]) {}
}
/** A RESP3 set (`~`). RESP2 gets an array. */
export class SetFrame {
  constructor(readonly items: readonly EncodableReply[]) {}
}
/** A RESP3 double (`,`) even for an integral value. RESP2 gets a bulk string. */
export class DoubleValue {
  constructor(readonly value: number) {}
}
/** A value preceded by a RESP3 attribute frame (`|`). RESP2 gets the value alone. */
export class WithAttributes {
  constructor(
    readonly attributes: { readonly [field: string]: EncodableReply },
    readonly value: EncodableReply,
  ) {}
}
/** The RESP2 null array (`*-1`); RESP3 gets `_`. */
export class NullArray {}
/** Bytes sent as they are, for malformed or hand-made frames. */
export class RawFrame {
  constructor(readonly bytes: Buffer) {}
}

/** What {@link encodeReply} accepts. */
export type EncodableReply =
  | string
  | Buffer
  | number
  | bigint
  | boolean
  | null
  | ReplyError
  | SimpleString
  | VerbatimString
  | PushFrame
  | SetFrame
  | DoubleValue
  | WithAttributes
  | NullArray
  | RawFrame
  | readonly EncodableReply[]
  | { readonly [field: string]: EncodableReply };

export const simple = (text: string): SimpleString => new SimpleString(text);
export const verbatim = (text: string | Buffer, format = "txt"): VerbatimString =>
  new VerbatimString(text, format);
export const push = (...items: EncodableReply[]): PushFrame => new PushFrame(items);
export const set = (...items: EncodableReply[]): SetFrame => new SetFrame(items);
export const double = (value: number): DoubleValue => new DoubleValue(value);
export const withAttributes = (
  attributes: { readonly [field: string]: EncodableReply },
  value: EncodableReply,
): WithAttributes => new WithAttributes(attributes, value);
export const nullArray = (): NullArray => new NullArray();
export const raw = (bytes: string | Buffer): RawFrame =>
  new RawFrame(typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes);

/**
 * Encodes one reply as a server speaking `protocol` would send it.
 *
 * @example
 * encodeReply(["a", 1, null], 3).toString(); // "*3\r\n$1\r\na\r\n:1\r\n_\r\n"
 * encodeReply(simple("OK"), 2).toString();   // "+OK\r\n"
 */
export function encodeReply(value: EncodableReply, protocol: 2 | 3): Buffer {
  const parts: Buffer[] = [];
  encodeInto(value, protocol, parts);
  return Buffer.concat(parts);
}

function encodeInto(value: EncodableReply, protocol: 2 | 3, out: Buffer[]): void {
  const text = (s: string): void => {
    out.push(Buffer.from(s, "utf8"));
  };
  const bulk = (prefix: string, payload: string | Buffer): void => {
    const bytes = typeof payload === "string" ? Buffer.from(payload, "utf8") : payload;
    text(`${prefix}${bytes.length}\r\n`);
    out.push(bytes);
    text("\r\n");
  };
  const aggregate = (prefix: string, items: readonly EncodableReply[]): void => {
    text(`${prefix}${items.length}\r\n`);
    for (const item of items) encodeInto(item, protocol, out);
  };

  if (value === null) {
    text(protocol === 3 ? "_\r\n" : "$-1\r\n");
  } else if (typeof value === "string" || Buffer.isBuffer(value)) {
    bulk("$", value);
  } else if (typeof value === "number") {
    if (Number.isSafeInteger(value) && !Object.is(value, -0)) text(`:${value}\r\n`);
    else encodeInto(new DoubleValue(value), protocol, out);
  } else if (typeof value === "bigint") {
    if (protocol === 3) text(`(${value}\r\n`);
    else bulk("$", value.toString());
  } else if (typeof value === "boolean") {
    text(protocol === 3 ? (value ? "#t\r\n" : "#f\r\n") : value ? ":1\r\n" : ":0\r\n");
  } else if (value instanceof ReplyError) {
    if (!/[\r\n]/.test(value.message)) text(`-${value.message}\r\n`);
    else if (protocol === 3) bulk("!", value.message);
    else text(`-${value.message.replace(/[\r\n]/g, " ")}\r\n`);
  } else if (value instanceof SimpleString) {
    text(`+${value.text}\r\n`);
  } else if (value instanceof VerbatimString) {
    if (protocol === 2) {
      bulk("$", value.text);
    } else {
      const payload = typeof value.text === "string" ? Buffer.from(value.text, "utf8") : value.text;
      bulk("=", Buffer.concat([Buffer.from(`${value.format}:`, "latin1"), payload]));
    }
  } else if (value instanceof DoubleValue) {
    const n = value.value;
    const rendered = Number.isNaN(n)
      ? "nan"
      : n === Number.POSITIVE_INFINITY
        ? "inf"
        : n === Number.NEGATIVE_INFINITY
          ? "-inf"
          : Object.is(n, -0)
            ? "-0"
            : String(n);
    if (protocol === 3) text(`,${rendered}\r\n`);
    else bulk("$", rendered);
  } else if (value instanceof PushFrame) {
    aggregate(protocol === 3 ? ">" : "*", value.items);
  } else if (value instanceof SetFrame) {
    aggregate(protocol === 3 ? "~" : "*", value.items);
  } else if (value instanceof WithAttributes) {
    if (protocol === 3) encodeMap("|", value.attributes, protocol, out);
    encodeInto(value.value, protocol, out);
  } else if (value instanceof NullArray) {
    text(protocol === 3 ? "_\r\n" : "*-1\r\n");
  } else if (value instanceof RawFrame) {
    out.push(value.bytes);
  } else if (Array.isArray(value)) {
    aggregate("*", value);
  } else {
    const map = value as { readonly [field: string]: EncodableReply };
    if (protocol === 3) encodeMap("%", map, protocol, out);
    else aggregate("*", Object.entries(map).flat());
  }
}

function encodeMap(
  prefix: string,
  map: { readonly [field: string]: EncodableReply },
  protocol: 2 | 3,
  out: Buffer[],
): void {
  const entries = Object.entries(map);
  out.push(Buffer.from(`${prefix}${entries.length}\r\n`, "latin1"));
  for (const [key, field] of entries) {
    encodeInto(key, protocol, out);
    encodeInto(field, protocol, out);
  }
}
