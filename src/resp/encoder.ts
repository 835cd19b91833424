/**
 * Command encoding: a command and its arguments as a RESP array of bulk strings.
 *
 * A {@link CommandWriter} writes every command of one connection into a pooled chunk and
 * hands out the bytes written since the last `take()` as views of that chunk:
 *
 * ```
 *   chunk (64 KiB, Buffer.allocUnsafe)
 *   ┌───────────────┬──────────────────────┬─────────────────────────┐
 *   │ handed out    │ pending              │ free                    │
 *   │ (socket may   │ (next take() returns │ (next write() goes here)│
 *   │  still hold)  │  it as a subarray)   │                         │
 *   └───────────────┴──────────────────────┴─────────────────────────┘
 *   0           #sealedAt               #offset               chunk.length
 * ```
 *
 * Bytes left of `#offset` are never written again, so views handed out stay valid while
 * the socket drains them. When the free part is too small a new chunk is started; the
 * pending part of the old one is sealed into the list `take()` returns. Large binary
 * arguments are not copied at all: they join that list as they are, between their header
 * and their trailing CRLF.
 */
import { ArgumentError } from "../errors.js";
import type { RedisArg } from "./types.js";

/** Size of a fresh chunk. Big enough for a typical tick's worth of pipelined commands. */
const CHUNK_BYTES = 64 * 1024;
/** Binary arguments above this size are handed to the socket as they are, without a copy. */
const ZERO_COPY_MIN_BYTES = 16 * 1024;
/** Room for `*` or `$`, the 16 digits of any safe integer, and CRLF. */
const HEADER_MAX_BYTES = 1 + 16 + 2;

/**
 * Strings up to this many code units are copied by a loop in JavaScript; longer ones by
 * one native call, which costs more to call but less per byte. Measured on Node 20 (issue
 * 18): 14 units 54 vs 134 ns, 32 units 120 vs 129 ns, 100 units 268 vs 140 ns.
 */
const ASCII_FAST_PATH_MAX = 40;

/** The bytes of the protocol that the encoder writes. */
enum Byte {
  CR = 13,
  LF = 10,
  STAR = 42, // *
  DOLLAR = 36, // $
  MINUS = 45, // -
  ZERO = 48, // 0
}

/** A position of a {@link CommandWriter}, from `checkpoint()`. */
export interface WriterCheckpoint {
  readonly chunk: Buffer | null;
  readonly offset: number;
  readonly sealedAt: number;
  readonly sealedCount: number;
  readonly sealedBytes: number;
}

/**
 * Accumulates the encoded commands of one connection until the connection writes them.
 *
 * @example
 * const writer = new CommandWriter();
 * writer.write("SET", ["user:1", "Ada"]);
 * writer.write("GET", ["user:1"]);
 * for (const bytes of writer.take()) socket.write(bytes);
 */
export class CommandWriter {
  #chunk: Buffer | null = null;
  /** Next free byte of `#chunk`. */
  #offset = 0;
  /** Start of the pending, not yet sealed part of `#chunk`. */
  #sealedAt = 0;
  /** Sealed pending regions (views of older chunks, zero-copy arguments), in order. */
  #sealed: Buffer[] = [];
  #sealedBytes = 0;

  /** Bytes written and not yet taken. */
  get length(): number {
    return this.#sealedBytes + this.#offset - this.#sealedAt;
  }

  /**
   * Appends one command: `name` (one token, e.g. `"GET"`, `"CLUSTER"`) then `args`.
   * Throws {@link ArgumentError} (and writes nothing) if an argument cannot be sent.
   *
   * Binary arguments larger than 16 KiB are not copied: they must not be modified until
   * the socket has written them.
   *
   * @example
   * writer.write("CLUSTER", ["SHARDS"]);
   */
  write(name: string, args: readonly RedisArg[]): void {
    // Keep what is needed to undo a half-written command: the connection would otherwise
    // send a RESP array whose declared length does not match what follows.
    const chunk = this.#chunk;
    const offset = this.#offset;
    const sealedAt = this.#sealedAt;
    const sealedCount = this.#sealed.length;
    const sealedBytes = this.#sealedBytes;
    try {
      this.#ensure(HEADER_MAX_BYTES);
      this.#offset = writeHeader(this.#chunk!, this.#offset, Byte.STAR, args.length + 1);
      this.#writeString(name);
      for (let i = 0; i < args.length; i++) {
        const arg = args[i];
        if (typeof arg === "string") this.#writeString(arg);
        else this.#writeOther(arg, i, name);
      }
    } catch (error) {
      this.#chunk = chunk;
      this.#offset = offset;
      this.#sealedAt = sealedAt;
      this.#sealed.length = sealedCount;
      this.#sealedBytes = sealedBytes;
      throw error;
    }
  }

  /**
   * Returns the pending bytes, ready for `socket.write` (one by one) or a vectored write,
   * and forgets them. Returns an empty array when nothing is pending.
   *
   * @example
   * const parts = writer.take();
   * if (parts.length > 0) socket.write(parts.length === 1 ? parts[0] : Buffer.concat(parts));
   */
  take(): Buffer[] {
    this.#seal();
    const parts = this.#sealed;
    if (parts.length === 0) return parts;
    this.#sealed = [];
    this.#sealedBytes = 0;
    return parts;
  }

  /**
   * Where the writer stands now: `restore` takes it back there, dropping everything written
   * since. For a group of commands that must go out whole or not at all (a transaction).
   *
   * @example
   * const mark = writer.checkpoint();
   * try { writer.write("MULTI", []); writer.write("SET", args); writer.write("EXEC", []); }
   * catch (error) { writer.restore(mark); throw error; }
   */
  checkpoint(): WriterCheckpoint {
    return {
      chunk: this.#chunk,
      offset: this.#offset,
      sealedAt: this.#sealedAt,
      sealedCount: this.#sealed.length,
      sealedBytes: this.#sealedBytes,
    };
  }

  /** Drops what was written since `checkpoint` (which must come from this writer, since its last `take()`). */
  restore(checkpoint: WriterCheckpoint): void {
    this.#chunk = checkpoint.chunk;
    this.#offset = checkpoint.offset;
    this.#sealedAt = checkpoint.sealedAt;
    this.#sealed.length = checkpoint.sealedCount;
    this.#sealedBytes = checkpoint.sealedBytes;
  }

  /** Moves the pending part of the current chunk to the sealed list. */
  #seal(): void {
    if (this.#offset > this.#sealedAt) {
      this.#sealed.push(this.#chunk!.subarray(this.#sealedAt, this.#offset));
      this.#sealedBytes += this.#offset - this.#sealedAt;
      this.#sealedAt = this.#offset;
    }
  }

  /** Makes sure `bytes` can be written at `#offset`, starting a new chunk if needed. */
  #ensure(bytes: number): void {
    const chunk = this.#chunk;
    if (chunk !== null && chunk.length - this.#offset >= bytes) return;
    this.#seal();
    this.#chunk = Buffer.allocUnsafe(Math.max(bytes, CHUNK_BYTES));
    this.#offset = 0;
    this.#sealedAt = 0;
  }

  #writeString(value: string): void {
    const length = value.length;
    // Most arguments are short ASCII (names, keys, small values): copy their code units
    // straight into the chunk, which beats measuring and encoding them in C++. The header
    // assumes one byte per code unit; the first non-ASCII one sends us to the general path.
    if (length <= ASCII_FAST_PATH_MAX) {
      this.#ensure(HEADER_MAX_BYTES + length + 2);
      const chunk = this.#chunk!;
      const start = this.#offset;
      let offset = writeHeader(chunk, start, Byte.DOLLAR, length);
      let i = 0;
      for (; i < length; i++) {
        const code = value.charCodeAt(i);
        if (code >= 0x80) break;
        chunk[offset++] = code;
      }
      if (i === length) {
        chunk[offset] = Byte.CR;
        chunk[offset + 1] = Byte.LF;
        this.#offset = offset + 2;
        return;
      }
      this.#offset = start;
    }
    const byteLength = Buffer.byteLength(value, "utf8");
    this.#ensure(HEADER_MAX_BYTES + byteLength + 2);
    const chunk = this.#chunk!;
    let offset = writeHeader(chunk, this.#offset, Byte.DOLLAR, byteLength);
    // As many UTF-8 bytes as code units means every unit is ASCII (any other takes two or
    // more): Latin-1 then writes the same bytes, without the UTF-8 encoder's work.
    if (byteLength === length) offset += chunk.write(value, offset, length, "latin1");
    else offset += chunk.write(value, offset, "utf8");
    chunk[offset] = Byte.CR;
    chunk[offset + 1] = Byte.LF;
    this.#offset = offset + 2;
  }

  #writeOther(arg: RedisArg | undefined, index: number, command: string): void {
    if (typeof arg === "number") {
      // The safe-integer path writes the digits numberText() gives, without the string.
      if (Number.isSafeInteger(arg)) this.#writeInteger(arg);
      else if (Number.isNaN(arg)) {
        throw new ArgumentError(`argument ${index + 1} is NaN, which cannot be sent`, command);
      } else this.#writeAscii(numberText(arg));
    } else if (arg instanceof Uint8Array) {
      this.#writeBytes(arg);
    } else if (typeof arg === "bigint") {
      this.#writeAscii(arg.toString());
    } else {
      throw new ArgumentError(
        `argument ${index + 1} is ${describe(arg)}; only strings, Buffers, Uint8Arrays, numbers and bigints can be sent`,
        command,
      );
    }
  }

  #writeInteger(value: number): void {
    this.#ensure(2 * HEADER_MAX_BYTES + 2);
    const chunk = this.#chunk!;
    const negative = value < 0;
    const magnitude = negative ? -value : value;
    const length = decimalLength(magnitude) + (negative ? 1 : 0);
    let offset = writeHeader(chunk, this.#offset, Byte.DOLLAR, length);
    if (negative) chunk[offset++] = Byte.MINUS;
    offset = writeDecimal(chunk, offset, magnitude);
    chunk[offset] = Byte.CR;
    chunk[offset + 1] = Byte.LF;
    this.#offset = offset + 2;
  }

  /** For short texts known to be ASCII (number renderings). */
  #writeAscii(text: string): void {
    this.#ensure(HEADER_MAX_BYTES + text.length + 2);
    const chunk = this.#chunk!;
    let offset = writeHeader(chunk, this.#offset, Byte.DOLLAR, text.length);
    offset += chunk.write(text, offset, "latin1");
    chunk[offset] = Byte.CR;
    chunk[offset + 1] = Byte.LF;
    this.#offset = offset + 2;
  }

  #writeBytes(bytes: Uint8Array): void {
    const byteLength = bytes.byteLength;
    if (byteLength < ZERO_COPY_MIN_BYTES) {
      this.#ensure(HEADER_MAX_BYTES + byteLength + 2);
      const chunk = this.#chunk!;
      const offset = writeHeader(chunk, this.#offset, Byte.DOLLAR, byteLength);
      chunk.set(bytes, offset);
      chunk[offset + byteLength] = Byte.CR;
      chunk[offset + byteLength + 1] = Byte.LF;
      this.#offset = offset + byteLength + 2;
      return;
    }
    this.#ensure(HEADER_MAX_BYTES);
    this.#offset = writeHeader(this.#chunk!, this.#offset, Byte.DOLLAR, byteLength);
    this.#seal();
    this.#sealed.push(
      Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength),
    );
    this.#sealedBytes += byteLength;
    this.#ensure(2);
    const chunk = this.#chunk!;
    chunk[this.#offset] = Byte.CR;
    chunk[this.#offset + 1] = Byte.LF;
    this.#offset += 2;
  }
}

/**
 * Encodes one command into a Buffer of its own. For tests and tools; connections use a
 * {@link CommandWriter}, which avoids the per-command allocation.
 *
 * @example
 * encodeCommand("GET", ["k"]).toString(); // "*2\r\n$3\r\nGET\r\n$1\r\nk\r\n"
 */
export function encodeCommand(name: string, args: readonly RedisArg[]): Buffer {
  const writer = new CommandWriter();
  writer.write(name, args);
  const parts = writer.take();
  return Buffer.concat(parts);
}

/**
 * The text a number argument is sent as — the one rendering of numbers in this package, so
 * that a numeric key is hashed as exactly the bytes sent (issue 17.4). Integers as their
 * decimal digits (also past 2^53, where `String()` would give `"2e+21"`), `-0` as `"0"`,
 * infinities as Redis spells them (`+inf`, `-inf`), other numbers as `String()` gives them
 * (`"1.5"`, `"1e-7"`), which Redis parses as doubles. NaN has no rendering: it is refused
 * before sending.
 *
 * @example
 * numberText(2e21);     // "2000000000000000000000"
 * numberText(Infinity); // "+inf"
 */
export function numberText(value: number): string {
  if (Number.isInteger(value)) return Number.isSafeInteger(value) ? String(value) : BigInt(value).toString();
  if (value === Number.POSITIVE_INFINITY) return "+inf";
  if (value === Number.NEGATIVE_INFINITY) return "-inf";
  return String(value);
}

/** Writes `<type><n>\r\n`; returns the offset after it. */
function writeHeader(chunk: Buffer, offset: number, type: number, n: number): number {
  chunk[offset] = type;
  offset = writeDecimal(chunk, offset + 1, n);
  chunk[offset] = Byte.CR;
  chunk[offset + 1] = Byte.LF;
  return offset + 2;
}

/** Writes the digits of a non-negative safe integer; returns the offset after them. */
function writeDecimal(chunk: Buffer, offset: number, n: number): number {
  if (n < 10) {
    chunk[offset] = Byte.ZERO + n;
    return offset + 1;
  }
  const end = offset + decimalLength(n);
  let at = end;
  while (n >= 10) {
    const quotient = Math.floor(n / 10);
    chunk[--at] = Byte.ZERO + (n - quotient * 10);
    n = quotient;
  }
  chunk[--at] = Byte.ZERO + n;
  return end;
}

/** Number of decimal digits of a non-negative safe integer. */
function decimalLength(n: number): number {
  let digits = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    digits++;
  }
  return digits;
}

/** Names the kind of a value for an error message, never the value itself (it may be a secret). */
function describe(value: unknown): string {
  if (value === null) return "null";
  if (Array.isArray(value)) return "an array";
  const kind = typeof value;
  return kind === "object" ? "an object" : kind === "undefined" ? "undefined" : `a ${kind}`;
}
