/**
 * The decoder on integers past 2^53 (issue 9.14) and on the per-reply byte bound (17.5),
 * each case decoded whole, byte by byte and in random chunks, as test/unit/resp-decoder.test.ts does.
 */
import { describe, expect, it } from "vitest";
import { ProtocolError } from "../../src/errors.js";
import type { RespValue } from "../../src/resp/types.js";
import { collectingDecoder, cut, decode, randomSplits, type Split } from "../helpers/resp-feed.js";

const SPLITS: ReadonlyArray<[string, (length: number) => Split]> = [
  ["whole", () => "whole"],
  ["byte by byte", () => "bytes"],
  ["random chunks (seed 3)", (length) => randomSplits(length, 3)],
];

function expectDecodes(wire: string, expected: RespValue[]): void {
  const bytes = Buffer.from(wire, "latin1");
  for (const [name, split] of SPLITS) {
    expect(decode(bytes, { split: split(bytes.length) }).replies, name).toEqual(expected);
  }
}

describe("integers outside the safe range come back as bigint (9.14)", () => {
  it("RESP2 and RESP3 `:` past ±(2^53 - 1) are exact bigints; inside, numbers", () => {
    expectDecodes(
      ":9007199254740991\r\n:9007199254740992\r\n:9007199254740993\r\n:-9007199254740991\r\n:-9007199254740993\r\n",
      [9007199254740991, 9007199254740992n, 9007199254740993n, -9007199254740991, -9007199254740993n],
    );
    expectDecodes(":9223372036854775807\r\n:-9223372036854775808\r\n:18446744073709551615\r\n", [
      9223372036854775807n,
      -9223372036854775808n,
      18446744073709551615n,
    ]);
  });

  it("inside arrays and maps too", () => {
    expectDecodes("*2\r\n:9007199254740995\r\n:1\r\n%1\r\n+n\r\n:-12345678901234567\r\n", [
      [9007199254740995n, 1],
      { n: -12345678901234567n },
    ]);
  });

  it("16-digit integers inside the safe range stay numbers", () => {
    expectDecodes(":1234567890123456\r\n:-1234567890123456\r\n", [1234567890123456, -1234567890123456]);
  });

  it("doubles stay numbers, big numbers stay bigints", () => {
    expectDecodes(",9007199254740993\r\n(9007199254740993\r\n", [9007199254740992, 9007199254740993n]);
  });

  it("more than 20 digits is still a ProtocolError", () => {
    expect(() => decode(":123456789012345678901\r\n")).toThrow(ProtocolError);
  });
});

describe("maxReplyBytes bounds one reply, whatever its shape (17.5)", () => {
  /** An array of `count` small bulk strings: many small parts, none near the other limits. */
  function arrayOfBulks(count: number): Buffer {
    return Buffer.from(`*${count}\r\n${"$3\r\nabc\r\n".repeat(count)}`, "latin1");
  }

  it("a reply buffered past the limit is a ProtocolError, even if every part is small", () => {
    const wire = arrayOfBulks(1000); // ~9 KB
    // Checked as chunks arrive: a reply decoded within one chunk (a socket read, at most
    // 64 KiB) was never buffered, so only the cuts that spread it over chunks apply.
    for (const [name, split] of SPLITS.slice(1)) {
      const { decoder } = collectingDecoder(false, { maxReplyBytes: 4096 });
      let thrown: unknown;
      try {
        for (const chunk of cut(wire, split(wire.length))) decoder.feed(chunk);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, name).toBeInstanceOf(ProtocolError);
      expect((thrown as Error).message, name).toMatch(/maxReplyBytes/);
    }
  });

  it("many replies together past the limit, each under it, are fine (the bound is per reply)", () => {
    const one = arrayOfBulks(100); // ~900 bytes
    const wire = Buffer.concat(Array.from({ length: 50 }, () => one));
    for (const [name, split] of SPLITS) {
      const { decoder, out } = collectingDecoder(false, { maxReplyBytes: 2048 });
      for (const chunk of cut(wire, split(wire.length))) decoder.feed(chunk);
      expect(out.replies, name).toHaveLength(50);
      expect(decoder.partialReplyBytes, name).toBe(0);
    }
  });

  it("partialReplyBytes counts a reply in progress (at most one chunk over), and drops to 0 when it ends", () => {
    const { decoder } = collectingDecoder(false);
    decoder.feed(Buffer.from("*3\r\n$3\r\nabc\r\n"));
    expect(decoder.partialReplyBytes).toBe(13);
    decoder.feed(Buffer.from("$3\r\nabc\r\n"));
    expect(decoder.partialReplyBytes).toBe(22);
    decoder.feed(Buffer.from("$3\r\nabc\r\n+OK\r\n*2\r\n"));
    // The first reply ended; the next began in this chunk: counted from this chunk.
    expect(decoder.partialReplyBytes).toBe(18);
    decoder.reset();
    expect(decoder.partialReplyBytes).toBe(0);
  });
});
