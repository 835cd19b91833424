/**
 * No quadratic work in the codec, measured as a count instead of a timing: the bytes that
 * Buffer operations copy, decode and encode (test/helpers/byte-work.ts) for an input and
 * for the same input four times as long. Linear work gives a ratio of about 4, quadratic
 * work about 16; the bound in between is checked against a decoder that is quadratic on
 * purpose, so that the measure is shown to tell them apart.
 */
import { describe, expect, it } from "vitest";
import { RespDecoder } from "../../src/resp/decoder.js";
import { CommandWriter } from "../../src/resp/encoder.js";
import { countByteWork, totalBytes } from "../helpers/byte-work.js";
import { encodeReply } from "../helpers/reply-encoder.js";
import { collectingDecoder } from "../helpers/resp-feed.js";

/** 4× the input may cost up to this many times the work: linear is 4, quadratic 16. */
const MAX_GROWTH = 6;

/** Cuts `wire` into chunks of `size` bytes (fresh Buffers, as a socket hands them out). */
function chunksOf(wire: Buffer, size: number): Buffer[] {
  const chunks: Buffer[] = [];
  for (let at = 0; at < wire.length; at += size) chunks.push(Buffer.from(wire.subarray(at, at + size)));
  return chunks;
}

interface Shape {
  name: string;
  /** The bytes of an input of scale `n`. */
  wire: (n: number) => Buffer;
  chunkBytes: number;
  buffers: boolean;
  /** What the decoder must produce for scale `n` (checked, so that the work counted is real). */
  replies: (n: number) => number;
}

const shapes: Shape[] = [
  {
    name: "one bulk string of n × 64 KiB in 1 KiB chunks (Buffer mode)",
    wire: (n) => encodeReply(Buffer.alloc(n * 65536, 120), 2),
    chunkBytes: 1024,
    buffers: true,
    replies: () => 1,
  },
  {
    name: "one bulk string of n × 64 KiB in 1 KiB chunks (string mode)",
    wire: (n) => encodeReply(Buffer.alloc(n * 65536, 120), 2),
    chunkBytes: 1024,
    buffers: false,
    replies: () => 1,
  },
  {
    name: "a simple-string line of n × 16 KiB in 64-byte chunks",
    wire: (n) => Buffer.from(`+${"y".repeat(n * 16384)}\r\n`, "latin1"),
    chunkBytes: 64,
    buffers: false,
    replies: () => 1,
  },
  {
    name: "an array of n × 2,000 short bulk strings in 4 KiB chunks (Buffer mode, through windows)",
    wire: (n) =>
      encodeReply(
        Array.from({ length: n * 2000 }, (_, i) => `item-${i}`),
        2,
      ),
    chunkBytes: 4096,
    buffers: true,
    replies: () => 1,
  },
  {
    name: "n × 5,000 replies of mixed kinds in 64 KiB chunks (Buffer mode)",
    wire: (n) =>
      Buffer.concat(
        Array.from({ length: n * 5000 }, (_, i) =>
          encodeReply(i % 3 === 0 ? `value-${i}` : i % 3 === 1 ? i : [`k${i}`, i], 3),
        ),
      ),
    chunkBytes: 65536,
    buffers: true,
    replies: (n) => n * 5000,
  },
  {
    name: "n × 5,000 replies of mixed kinds in 7-byte chunks (string mode)",
    wire: (n) =>
      Buffer.concat(
        Array.from({ length: n * 5000 }, (_, i) =>
          encodeReply(i % 3 === 0 ? `value-${i}` : i % 3 === 1 ? i : [`k${i}`, i], 3),
        ),
      ),
    chunkBytes: 7,
    buffers: false,
    replies: (n) => n * 5000,
  },
];

/** Feeds `chunks` to a fresh decoder; resolves with the work done and the replies. */
async function decodeWork(chunks: Buffer[], buffers: boolean): Promise<{ work: number; replies: number }> {
  const { decoder, out } = collectingDecoder(buffers);
  const work = await countByteWork(() => {
    for (const chunk of chunks) decoder.feed(chunk);
  });
  expect(decoder.bufferedBytes).toBe(0);
  return { work: totalBytes(work), replies: out.replies.length };
}

/**
 * A decoder that is quadratic on purpose: on every chunk it joins all it holds and decodes
 * from the start (what a naive stream parser does). The measure must flag it.
 */
class RejoiningDecoder {
  #held = Buffer.alloc(0);
  replies = 0;

  feed(chunk: Buffer): void {
    this.#held = Buffer.concat([this.#held, chunk]);
    const attempt = new RespDecoder({
      wantsBuffers: () => false,
      onReply: () => this.replies++,
      onPush: () => {},
    });
    const before = this.replies;
    attempt.feed(this.#held);
    // Keep only what the attempt could not finish (a shortcut: a real one would track offsets).
    if (attempt.bufferedBytes === 0) this.#held = Buffer.alloc(0);
    else if (this.replies > before)
      this.#held = this.#held.subarray(this.#held.length - attempt.bufferedBytes);
  }
}

describe("no quadratic work in the decoder (bytes copied and decoded, 4× the input)", () => {
  for (const shape of shapes) {
    it(shape.name, async () => {
      const small = await decodeWork(chunksOf(shape.wire(1), shape.chunkBytes), shape.buffers);
      const large = await decodeWork(chunksOf(shape.wire(4), shape.chunkBytes), shape.buffers);
      expect([small.replies, large.replies]).toEqual([shape.replies(1), shape.replies(4)]);
      expect(small.work).toBeGreaterThan(0);
      expect(large.work / small.work).toBeLessThanOrEqual(MAX_GROWTH);
    });
  }

  it("the measure flags a decoder that re-joins what it holds on every chunk", async () => {
    const workOf = async (n: number) => {
      const decoder = new RejoiningDecoder();
      const chunks = chunksOf(encodeReply(Buffer.alloc(n * 65536, 120), 2), 1024);
      const work = await countByteWork(() => {
        for (const chunk of chunks) decoder.feed(chunk);
      });
      expect(decoder.replies).toBe(1);
      return totalBytes(work);
    };
    const small = await workOf(1);
    const large = await workOf(4);
    expect(large / small).toBeGreaterThan(MAX_GROWTH * 2);
  });
});

describe("no quadratic work in the encoder", () => {
  it("n × 5,000 commands with non-ASCII and binary arguments, taken once per 100 commands", async () => {
    const workOf = async (n: number) => {
      const writer = new CommandWriter();
      let taken = 0;
      const work = await countByteWork(() => {
        for (let i = 0; i < n * 5000; i++) {
          writer.write("SET", [`clé:${i}`, Buffer.alloc(100 + (i % 50), 7), "välue"]);
          if (i % 100 === 99) for (const part of writer.take()) taken += part.length;
        }
        for (const part of writer.take()) taken += part.length;
      });
      expect(taken).toBeGreaterThan(n * 5000 * 100);
      return totalBytes(work);
    };
    const small = await workOf(1);
    const large = await workOf(4);
    expect(small).toBeGreaterThan(0);
    expect(large / small).toBeLessThanOrEqual(MAX_GROWTH);
  });
});
