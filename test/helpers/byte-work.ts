/**
 * Counts the bytes that Buffer operations touch while a function runs: copied (`copy`,
 * `Buffer.concat`, `Uint8Array#set`), decoded into strings (`utf8Slice`, `latin1Slice`,
 * which `toString` calls too) and encoded from strings (`write`). A count, not a timing: it tells
 * linear work from quadratic work (4× the input costs 4× the bytes, or 16×) however
 * loaded the machine is.
 *
 * Where the decoder or the encoder would do quadratic work, this is where it shows: a
 * stream decoder re-joining or re-reading what it buffered on every chunk, an encoder
 * re-copying what it wrote. Loops over single bytes (`buf[i]`) are not counted; they only
 * ever look at new bytes in this code base, and copying is where a regression would come in.
 */
import { vi } from "vitest";

export interface ByteWork {
  copied: number;
  decoded: number;
  encoded: number;
}

/** The sum of the three counts. */
export function totalBytes(work: ByteWork): number {
  return work.copied + work.decoded + work.encoded;
}

interface BufferSlices {
  utf8Slice(start?: number, end?: number): string;
  latin1Slice(start?: number, end?: number): string;
}

/**
 * Runs `run` (and awaits it) with the Buffer operations counted; restores them afterwards.
 *
 * @example
 * const work = await countByteWork(() => { decoder.feed(chunk); });
 * work.copied; // bytes copied by the decoder
 */
export async function countByteWork(run: () => unknown): Promise<ByteWork> {
  const work: ByteWork = { copied: 0, decoded: 0, encoded: 0 };
  const proto = Buffer.prototype as Buffer & BufferSlices;
  const { copy, write, utf8Slice, latin1Slice } = proto;
  const { set } = Uint8Array.prototype;
  const { concat } = Buffer;
  const sliceLength = (buf: Uint8Array, start = 0, end = buf.length) =>
    Math.max(0, Math.min(end, buf.length) - Math.max(0, start));
  const spies = [
    vi.spyOn(proto, "copy").mockImplementation(function (this: Buffer, ...args: Parameters<Buffer["copy"]>) {
      const copiedBytes = copy.apply(this, args);
      work.copied += copiedBytes;
      return copiedBytes;
    }),
    vi.spyOn(Buffer, "concat").mockImplementation((...args: Parameters<typeof Buffer.concat>) => {
      const joined = concat(...args);
      work.copied += joined.length;
      return joined;
    }),
    vi.spyOn(Uint8Array.prototype, "set").mockImplementation(function (
      this: Uint8Array,
      ...args: Parameters<Uint8Array["set"]>
    ) {
      work.copied += (args[0] as ArrayLike<number>).length;
      return set.apply(this, args);
    }),
    vi.spyOn(proto, "utf8Slice").mockImplementation(function (this: Buffer, start?: number, end?: number) {
      work.decoded += sliceLength(this, start, end);
      return utf8Slice.call(this, start, end);
    }),
    vi.spyOn(proto, "latin1Slice").mockImplementation(function (this: Buffer, start?: number, end?: number) {
      work.decoded += sliceLength(this, start, end);
      return latin1Slice.call(this, start, end);
    }),
    vi.spyOn(proto, "write").mockImplementation(function (this: Buffer, ...args: unknown[]) {
      const written = (write as (...a: unknown[]) => number).apply(this, args);
      work.encoded += written;
      return written;
    } as Buffer["write"]),
  ];
  try {
    await run();
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
  return work;
}
