/**
 * Feeds bytes to a RespDecoder in the ways a socket may cut them, and collects what comes out.
 */
import { RespDecoder } from "../../src/resp/decoder.js";
import type { DecoderLimits, RespValue } from "../../src/resp/types.js";

/** How to cut a byte stream: in one piece, one byte at a time, or at the given offsets. */
export type Split = "whole" | "bytes" | readonly number[];

export interface Decoded {
  replies: RespValue[];
  pushes: RespValue[][];
  /** How often `wantsBuffers()` was asked. */
  asked: number;
}

/** Cuts `bytes` into the chunks a `Split` describes (fresh Buffers, like socket reads). */
export function cut(bytes: Buffer, split: Split): Buffer[] {
  if (split === "whole") return [Buffer.from(bytes)];
  const offsets: number[] = [];
  if (split === "bytes") for (let i = 1; i < bytes.length; i++) offsets.push(i);
  else offsets.push(...[...new Set(split)].filter((o) => o > 0 && o < bytes.length).sort((a, b) => a - b));
  const chunks: Buffer[] = [];
  let from = 0;
  for (const offset of [...offsets, bytes.length]) {
    chunks.push(Buffer.from(bytes.subarray(from, offset)));
    from = offset;
  }
  return chunks;
}

/** A decoder wired to arrays, answering `wantsBuffers()` with `buffers`. */
export function collectingDecoder(
  buffers: boolean | (() => boolean),
  limits?: Partial<DecoderLimits>,
): { decoder: RespDecoder; out: Decoded } {
  const out: Decoded = { replies: [], pushes: [], asked: 0 };
  const decoder = new RespDecoder(
    {
      wantsBuffers: () => {
        out.asked++;
        return typeof buffers === "function" ? buffers() : buffers;
      },
      onReply: (value) => out.replies.push(value),
      onPush: (value) => out.pushes.push(value),
    },
    limits,
  );
  return { decoder, out };
}

/**
 * Decodes `bytes` cut by `split` with a fresh decoder. With `transient`, every chunk goes
 * through one scratch buffer that is overwritten with garbage after each feed, as a
 * socket's shared `onread` buffer is by the next read: a decoder keeping a view of it would
 * return the garbage.
 */
export function decode(
  bytes: Buffer | string,
  options: { buffers?: boolean; split?: Split; limits?: Partial<DecoderLimits>; transient?: boolean } = {},
): Decoded {
  const { decoder, out } = collectingDecoder(options.buffers ?? false, options.limits);
  const data = typeof bytes === "string" ? Buffer.from(bytes, "latin1") : bytes;
  const chunks = cut(data, options.split ?? "whole");
  if (options.transient) {
    const scratch = Buffer.alloc(Math.max(1, ...chunks.map((chunk) => chunk.length)));
    for (const chunk of chunks) {
      chunk.copy(scratch);
      decoder.feed(scratch.subarray(0, chunk.length), true);
      scratch.fill(0xee);
    }
  } else {
    for (const chunk of chunks) decoder.feed(chunk);
  }
  if (decoder.bufferedBytes !== 0) throw new Error(`${decoder.bufferedBytes} bytes left undecoded`);
  return out;
}

/** A small deterministic generator of split offsets (tests must not depend on luck). */
export function randomSplits(length: number, seed: number): number[] {
  let state = seed >>> 0 || 1;
  const next = (): number => {
    state ^= state << 13;
    state ^= state >>> 17;
    state ^= state << 5;
    return (state >>> 0) / 2 ** 32;
  };
  const offsets: number[] = [];
  let at = 0;
  while (at < length) {
    at += 1 + Math.floor(next() * 12);
    offsets.push(at);
  }
  return offsets;
}
