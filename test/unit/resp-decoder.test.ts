import { describe, expect, it } from "vitest";
import { ProtocolError, ReplyError } from "../../src/errors.js";
import { RespDecoder } from "../../src/resp/decoder.js";
import type { RespValue } from "../../src/resp/types.js";
import {
  DoubleValue,
  double,
  type EncodableReply,
  encodeReply,
  nullArray,
  push,
  SimpleString,
  set,
  simple,
  verbatim,
  withAttributes,
} from "../helpers/reply-encoder.js";
import { collectingDecoder, cut, decode, randomSplits, type Split } from "../helpers/resp-feed.js";

const SPLITS: ReadonlyArray<[string, (length: number) => Split]> = [
  ["whole", () => "whole"],
  ["byte by byte", () => "bytes"],
  ["random chunks (seed 1)", (length) => randomSplits(length, 1)],
  ["random chunks (seed 7)", (length) => randomSplits(length, 7)],
];

/**
 * Decodes `wire` every way it can be cut, from fresh chunks and from one reused read buffer
 * (`transient`), and expects the same replies each time.
 */
function expectDecodes(
  wire: string | Buffer,
  expected: RespValue[],
  options: { buffers?: boolean; pushes?: RespValue[][] } = {},
): void {
  const bytes = typeof wire === "string" ? Buffer.from(wire, "utf8") : wire;
  for (const transient of [false, true]) {
    for (const [name, split] of SPLITS) {
      const label = `${name}${transient ? ", reused read buffer" : ""}`;
      const out = decode(bytes, { buffers: options.buffers ?? false, split: split(bytes.length), transient });
      expect(out.replies, label).toEqual(expected);
      expect(out.pushes, label).toEqual(options.pushes ?? []);
    }
  }
}

/** Expects `wire`, however cut, to be rejected with a ProtocolError whose message matches. */
function expectRejected(
  wire: string,
  message: RegExp,
  limits?: { maxBulkLength?: number; maxAggregateLength?: number; maxDepth?: number },
): void {
  const bytes = Buffer.from(wire, "latin1");
  for (const [name, split] of SPLITS) {
    const { decoder } = collectingDecoder(false, limits);
    let thrown: unknown;
    try {
      for (const chunk of cut(bytes, split(bytes.length))) decoder.feed(chunk);
    } catch (error) {
      thrown = error;
    }
    expect(thrown, name).toBeInstanceOf(ProtocolError);
    expect((thrown as ProtocolError).message, name).toMatch(message);
    expect((thrown as ProtocolError).code).toBe("RC_PROTOCOL");
    // The stream is out of step: nothing more is accepted until reset().
    expect(() => decoder.feed(Buffer.from("+OK\r\n")), name).toThrow(ProtocolError);
  }
}

describe("RespDecoder: RESP2 types", () => {
  it("simple strings", () => {
    expectDecodes("+OK\r\n+PONG\r\n+\r\n+héllo wörld\r\n", ["OK", "PONG", "", "héllo wörld"]);
  });

  it("errors become ReplyError values, not exceptions", () => {
    const out = decode("-ERR unknown command\r\n-MOVED 3999 127.0.0.1:6381\r\n");
    expect(out.replies).toHaveLength(2);
    const [first, second] = out.replies as ReplyError[];
    expect(first).toBeInstanceOf(ReplyError);
    expect(first!.message).toBe("ERR unknown command");
    expect(first!.code).toBe("ERR");
    expect(second!.code).toBe("MOVED");
    expectDecodes("-WRONGTYPE Operation against a key\r\n", [
      new ReplyError("WRONGTYPE Operation against a key"),
    ]);
  });

  it("integers, including signs, zero and 64-bit extremes", () => {
    expectDecodes(":0\r\n:1\r\n:-1\r\n:+5\r\n:1000\r\n:9007199254740991\r\n:-9223372036854775808\r\n", [
      0,
      1,
      -1,
      5,
      1000,
      9007199254740991,
      -(2n ** 63n),
    ]);
    // Past 2^53 - 1 a number would round (issue 9.14): a bigint, exact.
    expect(decode(":9223372036854775807\r\n").replies).toEqual([9223372036854775807n]);
    expect(decode(":123456789012345678\r\n").replies).toEqual([123456789012345678n]);
  });

  it("bulk strings: plain, empty, null, binary-looking content", () => {
    expectDecodes("$5\r\nhello\r\n$0\r\n\r\n$-1\r\n$4\r\na\r\nb\r\n", ["hello", "", null, "a\r\nb"]);
    expectDecodes(encodeReply("日本語 ✓ 🐱", 2), ["日本語 ✓ 🐱"]);
  });

  it("arrays: empty, null, nested, mixed", () => {
    expectDecodes("*0\r\n*-1\r\n*3\r\n:1\r\n*2\r\n+a\r\n$-1\r\n$1\r\nz\r\n", [
      [],
      null,
      [1, ["a", null], "z"],
    ]);
    expectDecodes(encodeReply(nullArray(), 2), [null]);
  });

  it("several replies in one chunk, and a reply whose CRLF is split", () => {
    const { decoder, out } = collectingDecoder(false);
    decoder.feed(Buffer.from("+OK\r\n:1\r\n$3\r\nabc\r"));
    expect(out.replies).toEqual(["OK", 1]);
    expect(decoder.bufferedBytes).toBe(3);
    decoder.feed(Buffer.from("\n+PONG\r"));
    expect(out.replies).toEqual(["OK", 1, "abc"]);
    decoder.feed(Buffer.from("\n"));
    expect(out.replies).toEqual(["OK", 1, "abc", "PONG"]);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it("a large bulk string arriving in socket-sized chunks", () => {
    const payload = Buffer.alloc(1024 * 1024 + 7);
    for (let i = 0; i < payload.length; i++) payload[i] = (i * 31) & 0xff;
    const wire = encodeReply(payload, 2);
    const { decoder, out } = collectingDecoder(true);
    for (let at = 0; at < wire.length; at += 65536) {
      decoder.feed(Buffer.from(wire.subarray(at, at + 65536)));
      if (out.replies.length === 0) expect(decoder.bufferedBytes).toBeLessThanOrEqual(payload.length);
    }
    expect(out.replies).toHaveLength(1);
    expect((out.replies[0] as Buffer).equals(payload)).toBe(true);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it("an array of many elements split everywhere", () => {
    const items = Array.from({ length: 500 }, (_, i) => (i % 3 === 0 ? i : `value-${i}`));
    expectDecodes(encodeReply(items, 2), [items]);
  });
});

describe("RespDecoder: RESP3 types", () => {
  it("null, booleans", () => {
    expectDecodes("_\r\n#t\r\n#f\r\n", [null, true, false]);
  });

  it("doubles, including inf, -inf, nan and exponents", () => {
    const out = decode(",1.5\r\n,-0.25\r\n,inf\r\n,-inf\r\n,nan\r\n,1e+21\r\n,5e-324\r\n,10\r\n,.5\r\n");
    expect(out.replies).toEqual([
      1.5,
      -0.25,
      Number.POSITIVE_INFINITY,
      Number.NEGATIVE_INFINITY,
      Number.NaN,
      1e21,
      5e-324,
      10,
      0.5,
    ]);
    expectDecodes(encodeReply([double(3), double(-0), double(Math.PI)], 3), [[3, -0, Math.PI]]);
  });

  it("big numbers become bigints", () => {
    expectDecodes("(3492890328409238509324850943850943825024385\r\n(-12\r\n(0\r\n", [
      3492890328409238509324850943850943825024385n,
      -12n,
      0n,
    ]);
  });

  it("bulk errors become ReplyError values", () => {
    expectDecodes("!21\r\nSYNTAX invalid syntax\r\n", [new ReplyError("SYNTAX invalid syntax")]);
    expectDecodes(encodeReply(new ReplyError("ERR two\r\nlines"), 3), [new ReplyError("ERR two\r\nlines")]);
  });

  it("verbatim strings lose their format prefix", () => {
    expectDecodes("=15\r\ntxt:Some string\r\n=4\r\nmkd:\r\n", ["Some string", ""]);
    expectDecodes(encodeReply(verbatim("# Server\r\nredis_version:7.0.15"), 3), [
      "# Server\r\nredis_version:7.0.15",
    ]);
    expectDecodes("=15\r\ntxt:Some string\r\n", [Buffer.from("Some string")], { buffers: true });
  });

  it("maps become plain objects keyed by the keys' text", () => {
    expectDecodes(encodeReply({ first: 1, second: ["a", { nested: true }], clé: null }, 3), [
      { first: 1, second: ["a", { nested: true }], clé: null },
    ]);
    expectDecodes("%0\r\n", [{}]);
    // Non-string keys use their text.
    expectDecodes("%2\r\n:1\r\n+one\r\n#t\r\n+yes\r\n", [{ 1: "one", true: "yes" }]);
    // In Buffer mode the values are Buffers, the keys still text.
    expectDecodes("%1\r\n$1\r\nk\r\n$1\r\nv\r\n", [{ k: Buffer.from("v") }], { buffers: true });
  });

  it("a map key __proto__ is an ordinary field, not a prototype", () => {
    const out = decode("%2\r\n$9\r\n__proto__\r\n%1\r\n+polluted\r\n#t\r\n+a\r\n:1\r\n");
    const map = out.replies[0] as Record<string, unknown>;
    expect(Object.getPrototypeOf(map)).toBe(Object.prototype);
    expect(Object.keys(map)).toEqual(["__proto__", "a"]);
    expect(Object.getOwnPropertyDescriptor(map, "__proto__")?.value).toEqual({ polluted: true });
    expect(({} as Record<string, unknown>).polluted).toBeUndefined();
  });

  it("sets become arrays", () => {
    expectDecodes(encodeReply(set("a", "b", 3), 3), [["a", "b", 3]]);
    expectDecodes("~0\r\n", [[]]);
  });

  it("attributes are read and dropped, at the top level and inside aggregates", () => {
    expectDecodes(encodeReply(withAttributes({ "key-popularity": { a: 0.1923 } }, ["x", 2]), 3), [["x", 2]]);
    expectDecodes(encodeReply(["a", withAttributes({ ttl: 3600 }, "b"), "c"], 3), [["a", "b", "c"]]);
    expectDecodes("|0\r\n+after an empty attribute\r\n", ["after an empty attribute"]);
    expectDecodes("*1\r\n|1\r\n+k\r\n+v\r\n|1\r\n+k2\r\n*1\r\n:1\r\n+value\r\n", [["value"]]);
  });

  it("push frames at the top level go to onPush with Buffers; nested ones are arrays", () => {
    const wire = Buffer.concat([
      encodeReply(push("message", "news", "hello"), 3),
      encodeReply(simple("OK"), 3),
      encodeReply(["outer", push("inner")], 3),
      encodeReply(push("invalidate", ["k1", "k2"]), 3),
    ]);
    expectDecodes(wire, ["OK", ["outer", ["inner"]]], {
      pushes: [
        [Buffer.from("message"), Buffer.from("news"), Buffer.from("hello")],
        [Buffer.from("invalidate"), [Buffer.from("k1"), Buffer.from("k2")]],
      ],
    });
    expectDecodes(">0\r\n", [], { pushes: [[]] });
  });
});

describe("RespDecoder: Buffer mode", () => {
  it("bulk and simple strings become Buffers; other types are unchanged", () => {
    expectDecodes(
      "*6\r\n$3\r\nabc\r\n+OK\r\n:7\r\n-ERR no\r\n$-1\r\n$0\r\n\r\n",
      [[Buffer.from("abc"), Buffer.from("OK"), 7, new ReplyError("ERR no"), null, Buffer.alloc(0)]],
      { buffers: true },
    );
  });

  it("invalid UTF-8, NUL and CRLF inside payloads round-trip byte for byte", () => {
    const payloads = [
      Buffer.from([0xff, 0xfe, 0x00, 0xc3]),
      Buffer.from([0x00]),
      Buffer.from("\r\n"),
      Buffer.from("a\r\nb\0c"),
      Buffer.from([0xed, 0xa0, 0x80]), // a lone surrogate, encoded
    ];
    expectDecodes(encodeReply(payloads, 3), [payloads], { buffers: true });
    expectDecodes(encodeReply(payloads, 2), [payloads], { buffers: true });
  });

  it("asks wantsBuffers once per top-level reply, never for pushes, however the bytes are cut", () => {
    const wire = Buffer.concat([
      encodeReply(["a", ["b"]], 3),
      encodeReply(push("message", "c", "d"), 3),
      encodeReply(withAttributes({ x: 1 }, "e"), 3),
      encodeReply(simple("OK"), 3),
    ]);
    for (const split of ["whole", "bytes", randomSplits(wire.length, 3)] as const) {
      const modes = [true, false, true];
      const { decoder, out } = collectingDecoder(() => modes.shift() ?? false);
      for (const chunk of cut(wire, split)) decoder.feed(chunk);
      expect(out.asked).toBe(3);
      expect(out.replies).toEqual([[Buffer.from("a"), [Buffer.from("b")]], "e", Buffer.from("OK")]);
      expect(out.pushes).toEqual([[Buffer.from("message"), Buffer.from("c"), Buffer.from("d")]]);
    }
  });

  it("hands out copies, never views of the chunk fed", () => {
    const chunk = Buffer.from("*2\r\n$5\r\nhello\r\n+world\r\n");
    const out = decode(chunk, { buffers: true });
    const [hello, world] = out.replies[0] as Buffer[];
    chunk.fill(0x78);
    expect(hello!.toString()).toBe("hello");
    expect(world!.toString()).toBe("world");
    // Also for payloads collected over several chunks.
    const { decoder, out: split } = collectingDecoder(true);
    const first = Buffer.from("$10\r\n01234");
    const second = Buffer.from("56789\r\n");
    decoder.feed(first);
    decoder.feed(second);
    first.fill(0x78);
    second.fill(0x78);
    expect((split.replies[0] as Buffer).toString()).toBe("0123456789");
  });
});

describe("RespDecoder: Buffer values come from private copies of the chunk", () => {
  /** Replies of every size, from empty to larger than a copy window (8 KiB). */
  function mixedReplies(count: number, seed: number): { wire: Buffer; values: EncodableReply[] } {
    const offsets = randomSplits(count * 40, seed);
    const values: EncodableReply[] = [];
    for (let i = 0; i < count; i++) {
      const size = [0, 1, 10, 100, 1000, 4095, 4096, 8191, 8192, 8200, 20_000][offsets[i]! % 11]!;
      const payload = Buffer.alloc(size);
      for (let k = 0; k < size; k++) payload[k] = (k * 7 + i) & 0xff;
      const kind = i % 5;
      if (kind === 0) values.push(payload);
      else if (kind === 1) values.push([payload, i, Buffer.from(`small-${i}`)]);
      else if (kind === 2) values.push(simple(`simple-${i}`));
      else if (kind === 3) values.push(new ReplyError(`ERR number ${i}`));
      else values.push([[Buffer.from("nested"), payload], null]);
    }
    return { wire: Buffer.concat(values.map((value) => encodeReply(value, 3))), values };
  }

  /** What the decoder makes of `value` when the reply wants Buffers (or not). */
  function expected(value: EncodableReply, buffers: boolean): RespValue {
    if (Buffer.isBuffer(value)) return buffers ? value : value.toString("utf8");
    if (value instanceof SimpleString) return buffers ? Buffer.from(value.text) : value.text;
    if (Array.isArray(value)) return value.map((item) => expected(item, buffers));
    return value as RespValue;
  }

  /**
   * Buffers as `buffer:<hex>` and strings as `string:<text>`, for comparing long streams:
   * toEqual walks a Buffer byte by byte, which takes tens of seconds on a busy machine.
   */
  function comparable(value: RespValue): unknown {
    if (Buffer.isBuffer(value)) return `buffer:${value.toString("hex")}`;
    if (typeof value === "string") return `string:${value}`;
    if (Array.isArray(value)) return value.map(comparable);
    return value;
  }

  it("decodes long streams identically however they are cut, in Buffer mode and mixed modes", () => {
    const { wire, values } = mixedReplies(300, 11);
    expect(wire.length).toBeGreaterThan(200_000);
    const socketSized = Array.from({ length: Math.ceil(wire.length / 65536) }, (_, i) => (i + 1) * 65536);
    const splits: Split[] = [
      "whole",
      socketSized,
      randomSplits(wire.length, 5).filter((_, i) => i % 700 === 0),
    ];
    for (const split of splits) {
      const all = decode(wire, { buffers: true, split });
      expect(all.replies.map(comparable)).toEqual(values.map((value) => comparable(expected(value, true))));
      // Every other reply wants Buffers.
      let asked = 0;
      const { decoder, out } = collectingDecoder(() => asked++ % 2 === 0);
      for (const chunk of cut(wire, split)) decoder.feed(chunk);
      expect(out.replies.map(comparable)).toEqual(
        values.map((value, i) => comparable(expected(value, i % 2 === 0))),
      );
    }
  });

  it("cuts windows between tokens of every kind", () => {
    // Many small replies of shifting sizes, so that window ends fall in every kind of token.
    const values: EncodableReply[] = [];
    for (let i = 0; i < 6000; i++) {
      const kind = i % 6;
      if (kind === 0) values.push(i * 7919);
      else if (kind === 1) values.push(Buffer.from("x".repeat(i % 37)));
      else if (kind === 2) values.push(simple(`s${i}`));
      else if (kind === 3) values.push([Buffer.from(`a${i}`), [i, null]]);
      else if (kind === 4) values.push(double(i / 8));
      else values.push({ [`k${i}`]: Buffer.from(`v${i}`) });
    }
    const wire = Buffer.concat(values.map((value) => encodeReply(value, 3)));
    const want = (value: EncodableReply): RespValue => {
      if (value instanceof SimpleString) return Buffer.from(value.text);
      if (value instanceof DoubleValue) return value.value;
      if (Array.isArray(value)) return value.map(want);
      return value as RespValue;
    };
    for (const split of ["whole", [wire.length >> 1], [8190, 8191, 8192, 16383]] as const) {
      expect(decode(wire, { buffers: true, split }).replies).toEqual(values.map(want));
    }
  });

  it("never hands out views of the chunk, and a small value pins at most 8 KiB", () => {
    const { wire } = mixedReplies(200, 3);
    const chunk = Buffer.from(wire);
    const { decoder, out } = collectingDecoder(true);
    decoder.feed(chunk);
    const buffers: Buffer[] = [];
    const collect = (value: RespValue): void => {
      if (Buffer.isBuffer(value)) buffers.push(value);
      else if (Array.isArray(value)) value.forEach(collect);
    };
    out.replies.forEach(collect);
    expect(buffers.length).toBeGreaterThan(200);
    for (const value of buffers) {
      expect(value.buffer).not.toBe(chunk.buffer);
      expect(value.buffer.byteLength).toBeLessThanOrEqual(Math.max(8192, value.length + 64));
    }
  });
});

describe("RespDecoder: hostile input", () => {
  it("rejects an unknown type byte", () => {
    expectRejected("+OK\r\nX\r\n", /invalid RESP type byte 0x58/);
    expectRejected("\r\n", /invalid RESP type byte 0x0d/);
  });

  it("rejects non-numeric and negative lengths (other than -1 for $ and *)", () => {
    expectRejected("$abc\r\n", /bulk string length is not/);
    expectRejected("$\r\n", /bulk string length is not/);
    expectRejected("$12a\r\n", /bulk string length is not/);
    expectRejected("$-2\r\n", /bulk string length is not/);
    expectRejected("$-10\r\n", /bulk string length is not/);
    expectRejected("*x\r\n", /array length is not/);
    expectRejected("*-5\r\n", /array length is not/);
    expectRejected("%-1\r\n", /map length is not/);
    expectRejected("~-1\r\n", /set length is not/);
    expectRejected("!-1\r\n", /bulk error length is not/);
    expectRejected("*1 \r\n", /array length is not/);
    expectRejected("$3\rX", /bulk string length is not/);
  });

  it("rejects a bulk longer than maxBulkLength as soon as its header is read", () => {
    expectRejected("$1025\r\n", /bulk string length exceeds the limit of 1024 bytes/, {
      maxBulkLength: 1024,
    });
    expectRejected("$99999999999999999999999\r\n", /exceeds the limit/);
    // The header alone is enough: no need to wait for the payload.
    const { decoder } = collectingDecoder(false, { maxBulkLength: 10 });
    expect(() => decoder.feed(Buffer.from("$11\r\n"))).toThrow(ProtocolError);
    expect(decoder.bufferedBytes).toBe(0);
  });

  it("rejects an aggregate longer than maxAggregateLength", () => {
    expectRejected("*17\r\n", /array length exceeds the limit of 16 elements/, { maxAggregateLength: 16 });
    expectRejected("%17\r\n", /map length exceeds/, { maxAggregateLength: 16 });
    expectRejected("*134217729\r\n", /array length exceeds the limit of 134217728/);
  });

  it("rejects nesting deeper than maxDepth", () => {
    expectRejected("*1\r\n*1\r\n*1\r\n*1\r\n:1\r\n", /nested deeper than the limit of 3/, { maxDepth: 3 });
    expectRejected(`${"*1\r\n".repeat(65)}:1\r\n`, /nested deeper than the limit of 64/);
    expect(decode(`${"*1\r\n".repeat(64)}:1\r\n`).replies).toHaveLength(1);
  });

  it("rejects a bulk payload not followed by CRLF", () => {
    expectRejected("$3\r\nabcd\r\n", /bulk string payload not followed by CRLF/);
    expectRejected("$3\r\nabc\rX", /bulk string payload not followed by CRLF/);
    expectRejected("!3\r\nabc\n\r", /bulk error payload not followed by CRLF/);
  });

  it("rejects bad booleans, doubles, integers, big numbers and nulls", () => {
    expectRejected("#x\r\n", /boolean/);
    expectRejected("#true\r\n", /boolean/);
    expectRejected(",abc\r\n", /double is not a number/);
    expectRejected(",1.2.3\r\n", /double is not a number/);
    expectRejected(",\r\n", /double is not a number/);
    expectRejected(",0x10\r\n", /double is not a number/);
    expectRejected(":12a\r\n", /integer/);
    expectRejected(":\r\n", /integer/);
    expectRejected(":-\r\n", /integer/);
    expectRejected(":1.5\r\n", /integer/);
    expectRejected(":123456789012345678901\r\n", /integer/);
    expectRejected("(12x\r\n", /big number/);
    expectRejected("(\r\n", /big number/);
    expectRejected("_x\r\n", /null/);
  });

  it("rejects RESP3 streamed strings and aggregates, which Redis never sends", () => {
    expectRejected("$?\r\n;4\r\nHell\r\n;0\r\n", /streamed .*\$\?.*Redis never sends it/);
    expectRejected("*?\r\n:1\r\n.\r\n", /streamed .*\*\?/);
  });

  it("rejects CR without LF, and lines longer than maxBulkLength", () => {
    expectRejected("+OK\rX\r\n", /CR not followed by LF/);
    expectRejected(`+${"a".repeat(100)}`, /line longer than 64 bytes/, { maxBulkLength: 64 });
    expectRejected(`+${"a".repeat(100)}\r\n`, /line longer than 64 bytes/, { maxBulkLength: 64 });
  });

  it("rejects a verbatim string without its format prefix", () => {
    expectRejected("=3\r\ntxt\r\n", /verbatim/);
    expectRejected("=5\r\ntxt-a\r\n", /verbatim/);
  });

  it("works again after reset()", () => {
    const { decoder, out } = collectingDecoder(false);
    decoder.feed(Buffer.from("*2\r\n+a\r\n$5\r\nab"));
    expect(decoder.bufferedBytes).toBe(2);
    expect(() => decoder.feed(Buffer.from("cdeXX"))).toThrow(ProtocolError);
    expect(() => decoder.feed(Buffer.from("+OK\r\n"))).toThrow(/reset/);
    decoder.reset();
    expect(decoder.bufferedBytes).toBe(0);
    decoder.feed(Buffer.from("+OK\r\n*1\r\n:1\r\n"));
    expect(out.replies).toEqual(["OK", [1]]);
  });
});

describe("RespDecoder: state and the handler", () => {
  it("bufferedBytes counts what waits for the rest of a reply", () => {
    const { decoder } = collectingDecoder(false);
    decoder.feed(Buffer.from("$10\r\n0123"));
    expect(decoder.bufferedBytes).toBe(4);
    decoder.feed(Buffer.from("456"));
    expect(decoder.bufferedBytes).toBe(7);
    decoder.feed(Buffer.from("789\r\n+PO"));
    expect(decoder.bufferedBytes).toBe(3);
    decoder.feed(Buffer.from("NG\r\n"));
    expect(decoder.bufferedBytes).toBe(0);
  });

  it("reset() from inside the handler drops the rest of the chunk", () => {
    const replies: RespValue[] = [];
    const decoder: RespDecoder = new RespDecoder({
      wantsBuffers: () => false,
      onReply: (value) => {
        replies.push(value);
        if (value === "reset") decoder.reset();
      },
      onPush: () => {},
    });
    decoder.feed(Buffer.from("+a\r\n+reset\r\n+dropped\r\n*1\r\n"));
    expect(replies).toEqual(["a", "reset"]);
    expect(decoder.bufferedBytes).toBe(0);
    decoder.feed(Buffer.from("+b\r\n"));
    expect(replies).toEqual(["a", "reset", "b"]);
  });

  it("reset() from inside the handler drops the rest of the chunk in Buffer mode too", () => {
    const replies: RespValue[] = [];
    const decoder: RespDecoder = new RespDecoder({
      wantsBuffers: () => true,
      onReply: (value) => {
        replies.push(value);
        if (replies.length === 300) decoder.reset();
      },
      onPush: () => {},
    });
    // Long enough for several copy windows; the reset comes in the middle of them.
    const wire = Buffer.concat(Array.from({ length: 1000 }, (_, i) => encodeReply(`value-${i}`, 3)));
    decoder.feed(wire);
    expect(replies).toHaveLength(300);
    expect(decoder.bufferedBytes).toBe(0);
    decoder.feed(Buffer.from("$1\r\nz\r\n"));
    expect(replies).toHaveLength(301);
    expect(replies[300]).toEqual(Buffer.from("z"));
  });

  it("an exception from the handler propagates and stops the decoder", () => {
    const decoder = new RespDecoder({
      wantsBuffers: () => false,
      onReply: () => {
        throw new RangeError("handler bug");
      },
      onPush: () => {},
    });
    expect(() => decoder.feed(Buffer.from("+a\r\n+b\r\n"))).toThrow(RangeError);
    expect(() => decoder.feed(Buffer.from("+c\r\n"))).toThrow(ProtocolError);
  });

  it("ignores empty chunks", () => {
    const { decoder, out } = collectingDecoder(false);
    decoder.feed(Buffer.alloc(0));
    decoder.feed(Buffer.from("+O"));
    decoder.feed(Buffer.alloc(0));
    decoder.feed(Buffer.from("K\r\n"));
    expect(out.replies).toEqual(["OK"]);
  });
});
