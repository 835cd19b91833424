import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ProtocolError, ReplyError } from "../../src/errors.js";
import { RespDecoder } from "../../src/resp/decoder.js";
import type { RespValue } from "../../src/resp/types.js";
import {
  double,
  type EncodableReply,
  encodeReply,
  PushFrame,
  push,
  set,
  simple,
  verbatim,
  WithAttributes,
  withAttributes,
} from "../helpers/reply-encoder.js";
import { collectingDecoder, cut } from "../helpers/resp-feed.js";

/** A reply as sent, and what the decoder must make of it in string and in Buffer mode. */
interface Case {
  wire: EncodableReply;
  expected: (buffers: boolean) => RespValue;
}

const leaf = (wire: EncodableReply, value: RespValue): Case => ({ wire, expected: () => value });
const stringy = (wire: EncodableReply, text: string): Case => ({
  wire,
  expected: (buffers) => (buffers ? Buffer.from(text, "utf8") : text),
});

const text = fc.string({ unit: "binary", maxLength: 40 });
const lineText = fc.string({ unit: "binary", maxLength: 20 }).filter((s) => !/[\r\n]/.test(s));
const bytes = fc.uint8Array({ maxLength: 40 }).map((array) => Buffer.from(array));
const safeInteger = fc.oneof(
  fc.integer(),
  fc.maxSafeInteger(),
  fc.constantFrom(0, -1, 2 ** 53 - 1, -(2 ** 53) + 1),
);
/** An error message as a server writes it: a code word, then text. */
const errorMessage = fc
  .tuple(fc.constantFrom("ERR", "WRONGTYPE", "MOVED", "x"), lineText)
  .map(([code, rest]) => `${code} ${rest}`);

/** Leaves both protocols carry faithfully. */
const commonLeaves: fc.Arbitrary<Case>[] = [
  text.map((s) => stringy(s, s)),
  bytes.map((b) => ({ wire: b, expected: (buffers: boolean) => (buffers ? b : b.toString("utf8")) })),
  lineText.map((s) => stringy(simple(s), s)),
  safeInteger.map((n) => leaf(n, n)),
  fc.constant(leaf(null, null)),
  errorMessage.map((m) => leaf(new ReplyError(m), new ReplyError(m))),
];

const resp3Leaves: fc.Arbitrary<Case>[] = [
  ...commonLeaves,
  fc.double().map((n) => leaf(double(n), n)),
  fc.bigInt().map((n) => leaf(n, n)),
  fc.boolean().map((b) => leaf(b, b)),
  text.map((s) => stringy(verbatim(s), s)),
  fc.string({ maxLength: 30 }).map((m) => leaf(new ReplyError(`ERR ${m}`), new ReplyError(`ERR ${m}`))),
];

/** An object with these own enumerable fields (defineProperty keeps "__proto__" a field). */
function objectOf<T>(entries: ReadonlyArray<readonly [string, T]>): { [field: string]: T } {
  const object: { [field: string]: T } = {};
  for (const [key, value] of entries) {
    Object.defineProperty(object, key, { value, enumerable: true, writable: true, configurable: true });
  }
  return object;
}

const mapKey = fc.oneof(text, fc.constantFrom("__proto__", "constructor", "toString"));

function trees(protocol: 2 | 3): fc.Arbitrary<Case> {
  const leaves = protocol === 3 ? resp3Leaves : commonLeaves;
  const { tree } = fc.letrec<{ tree: Case }>((tie) => {
    const child = tie("tree");
    const list = fc.array(child, { maxLength: 5 });
    const aggregates: fc.Arbitrary<Case>[] = [
      list.map((items) => ({
        wire: items.map((item) => item.wire),
        expected: (buffers: boolean) => items.map((item) => item.expected(buffers)),
      })),
    ];
    if (protocol === 3) {
      aggregates.push(
        list.map((items) => ({
          wire: set(...items.map((item) => item.wire)),
          expected: (buffers: boolean) => items.map((item) => item.expected(buffers)),
        })),
        // A push inside another value is an ordinary array.
        list.map((items) => ({
          wire: push(...items.map((item) => item.wire)),
          expected: (buffers: boolean) => items.map((item) => item.expected(buffers)),
        })),
        fc
          .uniqueArray(fc.tuple(mapKey, child), { maxLength: 4, selector: ([key]) => key })
          .map((entries) => ({
            wire: objectOf(entries.map(([key, value]) => [key, value.wire] as const)),
            expected: (buffers: boolean) =>
              objectOf(entries.map(([key, value]) => [key, value.expected(buffers)] as const)),
          })),
        fc
          .tuple(fc.uniqueArray(fc.tuple(mapKey, child), { maxLength: 2, selector: ([key]) => key }), child)
          .map(([attributes, value]) => ({
            wire: withAttributes(
              objectOf(attributes.map(([key, item]) => [key, item.wire] as const)),
              value.wire,
            ),
            expected: value.expected,
          })),
      );
    }
    return {
      tree: fc.oneof({ maxDepth: 4, depthIdentifier: "tree" }, ...leaves, ...aggregates),
    };
  });
  return tree;
}

/** A reply for the top level, where a push frame would go to onPush instead. */
function replies(protocol: 2 | 3): fc.Arbitrary<Case> {
  const isPush = (wire: EncodableReply): boolean =>
    wire instanceof PushFrame || (wire instanceof WithAttributes && isPush(wire.value));
  return trees(protocol).filter((c) => protocol === 2 || !isPush(c.wire));
}

/** Split offsets into a stream of `length` bytes. */
const splits = (length: number): fc.Arbitrary<number[]> =>
  fc.array(fc.integer({ min: 1, max: Math.max(1, length - 1) }), { maxLength: 12 });

function decodeStream(wire: Buffer, buffers: boolean, offsets: number[] | "whole" | "bytes"): RespValue[] {
  const { decoder, out } = collectingDecoder(buffers);
  for (const chunk of cut(wire, offsets)) decoder.feed(chunk);
  expect(decoder.bufferedBytes).toBe(0);
  expect(out.pushes).toEqual([]);
  return out.replies;
}

describe("RESP round trip (fast-check)", () => {
  for (const protocol of [2, 3] as const) {
    it(`RESP${protocol}: any reply tree decodes to what was encoded, whole or cut anywhere`, () => {
      const stream = fc.array(replies(protocol), { minLength: 1, maxLength: 4 });
      fc.assert(
        fc.property(
          stream.chain((cases) => {
            const wire = Buffer.concat(cases.map((c) => encodeReply(c.wire, protocol)));
            return fc.tuple(fc.constant(cases), fc.constant(wire), splits(wire.length), fc.boolean());
          }),
          ([cases, wire, offsets, buffers]) => {
            const expected = cases.map((c) => c.expected(buffers));
            expect(decodeStream(wire, buffers, "whole")).toEqual(expected);
            expect(decodeStream(wire, buffers, offsets)).toEqual(expected);
          },
        ),
        { numRuns: 300 },
      );
    });
  }

  it("RESP3: long streams in Buffer mode, through the decoder's 8 KiB copy windows", () => {
    const big = fc.uint8Array({ minLength: 2000, maxLength: 20_000 }).map((array) => {
      const bytes = Buffer.from(array);
      return { wire: bytes, expected: (buffers: boolean) => (buffers ? bytes : bytes.toString("utf8")) };
    });
    const stream = fc.array(fc.oneof({ weight: 20, arbitrary: replies(3) }, { weight: 1, arbitrary: big }), {
      minLength: 50,
      maxLength: 200,
    });
    fc.assert(
      fc.property(
        stream.chain((cases) => {
          const wire = Buffer.concat(cases.map((c) => encodeReply(c.wire, 3)));
          const offsets = fc.array(fc.integer({ min: 1, max: Math.max(1, wire.length - 1) }), {
            maxLength: 4,
          });
          return fc.tuple(fc.constant(cases), fc.constant(wire), offsets);
        }),
        ([cases, wire, offsets]) => {
          const expected = cases.map((c) => c.expected(true));
          expect(decodeStream(wire, true, "whole")).toEqual(expected);
          expect(decodeStream(wire, true, offsets)).toEqual(expected);
        },
      ),
      { numRuns: 25 },
    );
  });

  it("RESP3: byte-by-byte feeding agrees with whole feeding", () => {
    fc.assert(
      fc.property(replies(3), fc.boolean(), (c, buffers) => {
        const wire = encodeReply(c.wire, 3);
        expect(decodeStream(wire, buffers, "bytes")).toEqual([c.expected(buffers)]);
      }),
      { numRuns: 100 },
    );
  });

  it("RESP3: top-level push frames reach onPush with Buffers, in order with replies", () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.boolean(), replies(3)), { minLength: 1, maxLength: 5 }), (items) => {
        const wire = Buffer.concat(
          items.map(([isPush, c]) => encodeReply(isPush ? push(c.wire) : c.wire, 3)),
        );
        const seen: Array<["push" | "reply", RespValue]> = [];
        const decoder = new RespDecoder({
          wantsBuffers: () => false,
          onReply: (value) => seen.push(["reply", value]),
          onPush: (value) => seen.push(["push", value]),
        });
        for (const chunk of cut(wire, "bytes")) decoder.feed(chunk);
        expect(seen).toEqual(
          items.map(([isPush, c]) => (isPush ? ["push", [c.expected(true)]] : ["reply", c.expected(false)])),
        );
      }),
      { numRuns: 100 },
    );
  });
});

describe("RESP decoder against garbage (fast-check)", () => {
  const limits = { maxBulkLength: 64, maxAggregateLength: 16, maxDepth: 4 };
  const maxChunk = 32;

  /**
   * Feeds `wire` cut at `offsets` and in chunks of at most `chunkLimit` bytes; checks the
   * decoder's promises.
   */
  function feedHostile(
    wire: Buffer,
    offsets: number[],
    buffers = false,
    decoderLimits: Partial<typeof limits> = limits,
    chunkLimit = maxChunk,
  ): void {
    const bounded = [...offsets];
    for (let at = chunkLimit; at < wire.length; at += chunkLimit) bounded.push(at);
    const { decoder } = collectingDecoder(buffers, decoderLimits);
    const maxBulkLength = decoderLimits.maxBulkLength ?? 512 * 1024 * 1024;
    let failed: unknown;
    for (const chunk of cut(wire, bounded)) {
      try {
        decoder.feed(chunk);
      } catch (error) {
        failed = error;
        break;
      }
      expect(decoder.bufferedBytes).toBeLessThanOrEqual(maxBulkLength + chunk.length);
    }
    if (failed !== undefined) {
      expect(failed).toBeInstanceOf(ProtocolError);
      expect(() => decoder.feed(Buffer.from("+OK\r\n"))).toThrow(ProtocolError);
    }
  }

  it("random bytes: values or a ProtocolError, never anything else, memory bounded", () => {
    const typeBytes = fc.constantFrom(..."+-:$*_#,(!=%~|>\r\n0123456789?tf".split(""));
    const resp = fc
      .array(typeBytes, { maxLength: 200 })
      .map((chars) => Buffer.from(chars.join(""), "latin1"));
    const anything = fc.uint8Array({ maxLength: 300 }).map((array) => Buffer.from(array));
    fc.assert(
      fc.property(
        fc.oneof(resp, anything),
        fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 20 }),
        fc.boolean(),
        (wire, offsets, buffers) => feedHostile(wire, offsets, buffers),
      ),
      { numRuns: 2000 },
    );
  });

  it("mutated valid frames: values or a ProtocolError, never anything else, memory bounded", () => {
    const mutation = fc.oneof(
      fc.record({ kind: fc.constant("flip" as const), at: fc.nat(), byte: fc.integer({ min: 0, max: 255 }) }),
      fc.record({
        kind: fc.constant("insert" as const),
        at: fc.nat(),
        byte: fc.integer({ min: 0, max: 255 }),
      }),
      fc.record({ kind: fc.constant("delete" as const), at: fc.nat(), byte: fc.constant(0) }),
    );
    fc.assert(
      fc.property(
        fc.array(trees(3), { minLength: 1, maxLength: 3 }),
        fc.array(mutation, { minLength: 1, maxLength: 4 }),
        fc.array(fc.integer({ min: 1, max: 300 }), { maxLength: 10 }),
        fc.boolean(),
        (cases, mutations, offsets, buffers) => {
          const bytes = [...Buffer.concat(cases.map((c) => encodeReply(c.wire, 3)))];
          for (const { kind, at, byte } of mutations) {
            const index = bytes.length === 0 ? 0 : at % bytes.length;
            if (kind === "flip") bytes[index] = byte;
            else if (kind === "insert") bytes.splice(index, 0, byte);
            else bytes.splice(index, 1);
          }
          feedHostile(Buffer.from(bytes), offsets, buffers);
        },
      ),
      { numRuns: 1000 },
    );
  });

  /**
   * Limits above anything the generated replies hold (a bulk of 40 four-byte code points is
   * 160 bytes; aggregates hold at most 5 items, nested a few deep), far below a long stream
   * (tens of KiB): a decoder that held a stream's bytes past its limits fails the bound.
   */
  const streamLimits = { maxBulkLength: 256, maxAggregateLength: 16, maxDepth: 10 };
  const streamChunk = 1024;

  it("mutated long streams in Buffer mode, in chunks: values or a ProtocolError, memory bounded by the limits", () => {
    fc.assert(
      fc.property(
        fc.array(replies(3), { minLength: 100, maxLength: 300 }),
        fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { minLength: 1, maxLength: 6 }),
        (cases, flips) => {
          const bytes = Buffer.concat(cases.map((c) => encodeReply(c.wire, 3)));
          for (const [at, byte] of flips) bytes[at % bytes.length] = byte;
          feedHostile(bytes, [], true, streamLimits, streamChunk);
        },
      ),
      { numRuns: 40 },
    );
  });

  it("a valid stream, then one frame over a limit: the replies before it, then a ProtocolError, memory bounded", () => {
    const { maxBulkLength, maxAggregateLength, maxDepth } = streamLimits;
    const overLimit = fc.oneof(
      // A bulk string (or error, or verbatim string) declaring more bytes than allowed; its
      // payload follows, as a hostile server would send it.
      fc
        .tuple(fc.constantFrom("$", "!", "="), fc.integer({ min: maxBulkLength + 1, max: 8 * maxBulkLength }))
        .map(([type, length]) => Buffer.from(`${type}${length}\r\n${"x".repeat(length)}\r\n`, "latin1")),
      // An aggregate declaring more elements than allowed.
      fc
        .tuple(
          fc.constantFrom("*", "~", "%", ">", "|"),
          fc.integer({ min: maxAggregateLength + 1, max: 2 ** 40 }),
        )
        .map(([type, length]) => Buffer.from(`${type}${length}\r\n`, "latin1")),
      // Aggregates nested one deeper than allowed.
      fc
        .constantFrom("*", "~", "%")
        .map((type) => Buffer.from(`${`${type}1\r\n`.repeat(maxDepth + 1)}:1\r\n`, "latin1")),
      // A line that never ends (a simple string or an error of many KiB without a CRLF).
      fc
        .tuple(fc.constantFrom("+", "-", ":", ","), fc.integer({ min: maxBulkLength + 1, max: 16 * 1024 }))
        .map(([type, length]) => Buffer.from(`${type}${"7".repeat(length)}`, "latin1")),
    );
    fc.assert(
      fc.property(
        fc.array(replies(3), { minLength: 1, maxLength: 100 }),
        overLimit,
        fc.boolean(),
        (cases, hostile, buffers) => {
          const valid = Buffer.concat(cases.map((c) => encodeReply(c.wire, 3)));
          const wire = Buffer.concat([valid, hostile]);
          const { decoder, out } = collectingDecoder(buffers, streamLimits);
          let failed: unknown;
          for (const chunk of cut(
            wire,
            Array.from({ length: wire.length }, (_, i) => i * streamChunk),
          )) {
            try {
              decoder.feed(chunk);
            } catch (error) {
              failed = error;
              break;
            }
            expect(decoder.bufferedBytes).toBeLessThanOrEqual(maxBulkLength + chunk.length);
          }
          expect(failed).toBeInstanceOf(ProtocolError);
          expect(out.replies).toEqual(cases.map((c) => c.expected(buffers)));
        },
      ),
      { numRuns: 200 },
    );
  });
});
