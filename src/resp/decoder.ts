/**
 * Incremental RESP2/RESP3 decoder: bytes from one connection in, replies out, in order.
 *
 * Nothing is ever parsed twice. The state between two chunks is one of:
 *
 * ```
 *   #pending   the start of a line whose CRLF has not arrived ("$12", "+PON"): a few bytes,
 *              kept as a list and joined once when the CRLF comes
 *   #bulk*     a bulk payload being collected: its parts (views of the chunks fed) and
 *              how many payload and CRLF bytes are still due; joined once, when complete
 *   #frames    the aggregates open around the next value, innermost last:
 *
 *     depth 0: *3  items [ "a" ]              remaining 2
 *     depth 1:  %2 map { k: 1 }, key "j"      remaining 1   ← the next value lands here
 * ```
 *
 * A value completes the innermost frame when its `remaining` drops to 0; the finished
 * aggregate then counts as one value of the frame below, and so on down to the top
 * level, where it goes to the handler.
 *
 * Strings are decoded straight from the chunk. Buffer values must not be views of the
 * socket's 64 KiB chunk (one small value kept would pin all of it), and one copy per value
 * is slow; so a reply that wants Buffers is decoded from private ~8 KiB copies of the
 * chunk ("windows", cut between tokens), of which its Buffers are views.
 */
import { ProtocolError, ReplyError } from "../errors.js";
import type { DecoderLimits, ReplyHandler, RespValue } from "./types.js";

const DEFAULT_LIMITS: DecoderLimits = {
  maxBulkLength: 512 * 1024 * 1024,
  maxAggregateLength: 2 ** 27,
  maxDepth: 64,
  maxReplyBytes: 1024 * 1024 * 1024,
};

/** The bytes of the protocol that the decoder looks for. */
enum Byte {
  CR = 13,
  LF = 10,
  PLUS = 43, // + simple string
  MINUS = 45, // - error
  COLON = 58, // : integer
  DOLLAR = 36, // $ bulk string
  STAR = 42, // * array
  UNDERSCORE = 95, // _ null
  HASH = 35, // # boolean
  COMMA = 44, // , double
  PAREN = 40, // ( big number
  BANG = 33, // ! bulk error
  EQUALS = 61, // = verbatim string
  PERCENT = 37, // % map
  TILDE = 126, // ~ set
  PIPE = 124, // | attribute
  GREATER = 62, // > push
  QUESTION = 63, // ? streamed length
  ZERO = 48,
  ONE = 49,
  NINE = 57,
}

/** Size of the private copies Buffer values are views of (Node's own Buffer pool size). */
const WINDOW_BYTES = 8 * 1024;
/** Size of the first window of a run, which Node's Buffer pool serves cheaply. */
const FIRST_WINDOW_BYTES = 256;
/** Returned by the length readers when the line has not fully arrived. */
const INCOMPLETE = -2;
/** `:` lines longer than this are not 64-bit integers. */
const MAX_INTEGER_DIGITS = 20;
/** Verbatim strings start with a 3-letter format and a colon (`txt:`), which are dropped. */
const VERBATIM_PREFIX_BYTES = 4;

const DOUBLE_PATTERN = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const SPECIAL_DOUBLE_PATTERN = /^[+-]?(?:inf|nan)$/i;
const BIG_NUMBER_PATTERN = /^[+-]?\d+$/;

/** An aggregate being filled. Frame objects are reused per depth to spare allocations. */
interface Frame {
  /** Type byte: `*`, `~`, `>` (arrays), `%` (map) or `|` (attribute, dropped). */
  type: number;
  /** Values still due; a map counts keys and values separately. */
  remaining: number;
  items: RespValue[] | null;
  map: { [field: string]: RespValue } | null;
  /** The key read last, waiting for its value (maps only). */
  key: string;
}

/**
 * Turns the bytes of one connection into replies, whatever the chunk boundaries.
 *
 * @example
 * const decoder = new RespDecoder({
 *   wantsBuffers: () => false,
 *   onReply: (value) => console.log(value),
 *   onPush: (frame) => console.log("push", frame),
 * });
 * socket.on("data", (chunk) => decoder.feed(chunk)); // "+OK\r\n" → onReply("OK")
 */
export class RespDecoder {
  readonly #handler: ReplyHandler;
  readonly #maxBulkLength: number;
  readonly #maxAggregateLength: number;
  readonly #maxDepth: number;
  readonly #maxReplyBytes: number;

  #dead = false;
  /** Top-level values delivered so far (tells whether the reply in progress began in this chunk). */
  #delivered = 0;
  /** Bytes fed since the reply in progress began (at most one chunk more than exact). */
  #partialBytes = 0;
  /** Bumped by reset(), so that a feed() interrupted by a handler calling reset() stops. */
  #epoch = 0;
  /**
   * The chunk being fed is the caller's to reuse once feed() returns (a socket's `onread`
   * buffer): whatever of it must outlive the call (a line or bulk payload cut by the chunk's
   * end) is copied rather than kept as a view.
   */
  #transient = false;

  /** Start of a line whose CRLF has not arrived yet (the first byte is its type). */
  #pending: Buffer[] = [];
  #pendingBytes = 0;

  /** Type byte of the bulk payload being collected, or 0 when none is. */
  #bulkType = 0;
  #bulkParts: Buffer[] = [];
  #bulkBytes = 0;
  /** Payload bytes still due. */
  #bulkRemaining = 0;
  /** Bytes of the CRLF after the payload already checked (0, 1 or 2). */
  #bulkCrlfSeen = 0;

  #frames: Frame[] = [];
  #depth = 0;
  /** `#frames[#depth - 1]`, or null at the top level. */
  #innermost: Frame | null = null;

  /** Whether the current top-level reply wants Buffers; known once its first byte is read. */
  #buffers = false;
  #modeKnown = false;
  /** Whether the current top-level value is a push frame. */
  #topIsPush = false;

  /** Position just past the CRLF of the line read last by a length reader. */
  #lineEnd = 0;

  /**
   * @param handler receives replies and push frames, in order. It must not call `feed()`;
   *   it may call `reset()`, which drops the rest of the chunk being fed.
   * @param limits bounds that keep a hostile server from exhausting memory.
   */
  constructor(handler: ReplyHandler, limits?: Partial<DecoderLimits>) {
    this.#handler = handler;
    this.#maxBulkLength = limits?.maxBulkLength ?? DEFAULT_LIMITS.maxBulkLength;
    this.#maxAggregateLength = limits?.maxAggregateLength ?? DEFAULT_LIMITS.maxAggregateLength;
    this.#maxDepth = limits?.maxDepth ?? DEFAULT_LIMITS.maxDepth;
    this.#maxReplyBytes = limits?.maxReplyBytes ?? DEFAULT_LIMITS.maxReplyBytes;
  }

  /**
   * Bytes held for a reply that has not fully arrived. Never more than `maxBulkLength`
   * plus one chunk.
   */
  get bufferedBytes(): number {
    return this.#pendingBytes + this.#bulkBytes;
  }

  /**
   * Bytes fed so far of a reply that has not fully arrived (0 between replies): what one
   * reply in progress costs, aggregates' elements included. An upper bound, by at most the
   * size of the last chunk fed. Bounded by `maxReplyBytes`.
   */
  get partialReplyBytes(): number {
    return this.#partialBytes;
  }

  /**
   * Decodes `chunk`, calling the handler for every reply it completes.
   *
   * Unless `transient`, the decoder may keep views of `chunk` until the reply they belong
   * to is complete, so the caller must not reuse the chunk's memory (a socket's `data`
   * chunks are fresh). With `transient`, it keeps copies of what it needs past the call, and
   * the caller may overwrite `chunk` as soon as feed() returns (one read buffer for every
   * socket: no allocation per read).
   * Buffer values never share memory with `chunk`; small ones share a private copy of at
   * most 8 KiB with their neighbours, like Buffers from Node's own pool.
   * Throws {@link ProtocolError} on bytes that are not valid RESP; the decoder then
   * refuses input until `reset()`, as the stream can no longer be trusted.
   *
   * @example
   * decoder.feed(Buffer.from("*2\r\n$1\r\na\r\n:1")); // nothing yet
   * decoder.feed(Buffer.from("\r\n"));                // onReply(["a", 1])
   */
  feed(chunk: Buffer, transient = false): void {
    if (this.#dead) {
      throw new ProtocolError(
        "the RESP decoder stopped after a protocol error; reset it with a new connection",
      );
    }
    if (chunk.length === 0) return;
    const epoch = this.#epoch;
    const delivered = this.#delivered;
    this.#transient = transient;
    try {
      this.#consume(chunk, false, epoch);
      if (this.#epoch !== epoch) return;
      // Counted per chunk, not per token: the hot loops stay as they are.
      if (this.#depth === 0 && this.#bulkType === 0 && this.#pendingBytes === 0) {
        this.#partialBytes = 0;
      } else {
        this.#partialBytes = this.#delivered === delivered ? this.#partialBytes + chunk.length : chunk.length;
        if (this.#partialBytes > this.#maxReplyBytes) {
          throw new ProtocolError(
            `a reply is larger than the limit of ${this.#maxReplyBytes} bytes (maxReplyBytes)`,
          );
        }
      }
    } catch (error) {
      if (this.#epoch === epoch) this.#dead = true;
      throw error;
    }
  }

  /**
   * Forgets everything buffered and accepts input again (after a protocol error, or for a
   * new connection).
   *
   * @example
   * socket.on("close", () => decoder.reset());
   */
  reset(): void {
    this.#epoch++;
    this.#dead = false;
    this.#partialBytes = 0;
    this.#pending = [];
    this.#pendingBytes = 0;
    this.#endBulk();
    for (let i = 0; i < this.#depth; i++) {
      const frame = this.#frames[i]!;
      frame.items = null;
      frame.map = null;
    }
    this.#depth = 0;
    this.#innermost = null;
    this.#modeKnown = false;
    this.#topIsPush = false;
  }

  /**
   * Decodes all of `buf`: first what completes the line or bulk payload left over from the
   * previous chunk, then new values. `owned` says `buf` is a private copy, of which Buffer
   * values may be views.
   */
  #consume(buf: Buffer, owned: boolean, epoch: number): void {
    let pos = 0;
    if (this.#pendingBytes > 0) {
      pos = this.#completeLine(buf, epoch);
      if (pos < 0 || this.#epoch !== epoch) return;
    }
    if (this.#bulkType !== 0) {
      pos = this.#continueBulk(buf, pos);
      if (pos < 0 || this.#epoch !== epoch) return;
    }
    this.#parse(buf, pos, owned, epoch, true);
  }

  /**
   * Decodes `chunk` from `pos` through private copies ("windows") of about 8 KiB, so that
   * Buffer values can be views of a copy instead of one copy each: one 8 KiB copy costs
   * less than a handful of small ones, and a value kept by the application pins at most its
   * window (as a Buffer from Node's own 8 KiB pool would), never the socket's 64 KiB chunk.
   *
   * A window ends where the last whole token in it ends; the next one starts there. A token
   * larger than a window (a big bulk string) gets a window of its own size. A top-level
   * reply that wants strings ends the windows.
   */
  #parseInWindows(chunk: Buffer, pos: number, epoch: number): void {
    const end = chunk.length;
    // The first window is small, as the reply may be too (a GET among string replies);
    // windows grow while replies keep wanting Buffers.
    let windowBytes = FIRST_WINDOW_BYTES;
    while (pos < end) {
      if (this.#stringsNext()) {
        this.#parse(chunk, pos, false, epoch, true);
        return;
      }
      let consumed = this.#parseWindow(chunk, pos, Math.min(windowBytes, end - pos), epoch);
      if (this.#epoch !== epoch) return;
      windowBytes = Math.min(windowBytes * 2, WINDOW_BYTES);
      if (consumed === 0 && !this.#stringsNext()) {
        consumed = this.#parseWindow(chunk, pos, this.#tokenBytes(chunk, pos), epoch);
        if (this.#epoch !== epoch) return;
        // Only hostile input gets here (a bulk header whose payload does not end where it says).
        if (consumed === 0) consumed = this.#parseWindow(chunk, pos, end - pos, epoch);
        if (this.#epoch !== epoch) return;
      }
      pos += consumed;
    }
  }

  /** Whether the next token starts a top-level reply that wants strings. */
  #stringsNext(): boolean {
    return this.#depth === 0 && this.#modeKnown && !this.#buffers;
  }

  /** Decodes a copy of `chunk[pos, pos + size)`; returns how many of its bytes it used. */
  #parseWindow(chunk: Buffer, pos: number, size: number, epoch: number): number {
    // Small windows (the tail of a chunk, a lone reply) come from Node's pool, like any
    // small Buffer; full-size ones are allocations of their own.
    const window = Buffer.allocUnsafe(size);
    chunk.copy(window, 0, pos, pos + size);
    return this.#parse(window, 0, true, epoch, pos + size === chunk.length);
  }

  /**
   * How many bytes of `chunk` the token at `pos` spans, as far as `chunk` goes: the header
   * and payload of a bulk, the line of anything else.
   */
  #tokenBytes(chunk: Buffer, pos: number): number {
    const available = chunk.length - pos;
    const cr = chunk.indexOf(Byte.CR, pos + 1);
    if (cr === -1) return available;
    let bytes = cr - pos + 2;
    const type = chunk[pos];
    if (type === Byte.DOLLAR || type === Byte.BANG || type === Byte.EQUALS) {
      const length = Number(latin1(chunk, pos + 1, cr));
      if (length > 0) bytes += length + 2;
    }
    return Math.min(bytes, available);
  }

  /**
   * Completes the pending line with the head of `chunk` and decodes it. Returns where the
   * rest of `chunk` starts, or -1 when the line is still incomplete.
   */
  #completeLine(chunk: Buffer, epoch: number): number {
    const pending = this.#pending;
    const last = pending[pending.length - 1]!;
    let lineEnd: number;
    if (last[last.length - 1] === Byte.CR) {
      lineEnd = 1;
    } else {
      const cr = chunk.indexOf(Byte.CR);
      if (cr === -1 || cr === chunk.length - 1) {
        this.#keepPending(chunk);
        return -1;
      }
      lineEnd = cr + 2;
    }
    pending.push(chunk.subarray(0, lineEnd));
    const line = Buffer.concat(pending, this.#pendingBytes + lineEnd);
    this.#pending = [];
    this.#pendingBytes = 0;
    // The line is complete, so this consumes all of it (a bulk header leaves a bulk due).
    this.#parse(line, 0, true, epoch, true);
    return lineEnd;
  }

  #keepPending(part: Buffer): void {
    this.#pending.push(this.#transient ? Buffer.from(part) : part);
    this.#pendingBytes += part.length;
    if (this.#pendingBytes > this.#maxBulkLength) {
      throw new ProtocolError(`RESP line longer than ${this.#maxBulkLength} bytes without a CRLF`);
    }
  }

  /**
   * Decodes values from `buf` starting at `pos`, and returns where it stopped: the end of
   * `buf`, or, in a window that the chunk continues (not `final`), the start of the token
   * that runs past the window. A `final` buffer keeps such a token (a line, a bulk payload)
   * for the next chunk instead. Buffer values are made only from `owned` buffers: in a
   * socket chunk, a reply that wants Buffers switches to windows.
   */
  #parse(buf: Buffer, pos: number, owned: boolean, epoch: number, final: boolean): number {
    const end = buf.length;
    while (pos < end) {
      const start = pos;
      const type = buf[pos]!;
      if (this.#depth === 0 && !this.#modeKnown && type !== Byte.PIPE) {
        this.#modeKnown = true;
        this.#topIsPush = type === Byte.GREATER;
        // Push frames always carry Buffers; the head command's wish does not apply to them.
        this.#buffers = this.#topIsPush || this.#handler.wantsBuffers();
        // A reply of strings needs no copy: leave the windows to decode it from the chunk.
        if (!this.#buffers && owned && !final) return start;
      }
      if (this.#buffers && !owned) {
        this.#parseInWindows(buf, pos, epoch);
        return end;
      }
      if (type === Byte.DOLLAR) {
        // Fast path: a bulk string whose header and payload are both in this chunk.
        let i = pos + 1;
        let length = 0;
        while (i < end) {
          const c = buf[i]!;
          if (c < Byte.ZERO || c > Byte.NINE) break;
          length = length * 10 + (c - Byte.ZERO);
          i++;
        }
        const from = i + 2;
        const to = from + length;
        if (
          to + 2 <= end &&
          i > pos + 1 &&
          buf[i] === Byte.CR &&
          buf[i + 1] === Byte.LF &&
          length <= this.#maxBulkLength &&
          buf[to] === Byte.CR &&
          buf[to + 1] === Byte.LF
        ) {
          pos = to + 2;
          this.#emit(this.#buffers ? buf.subarray(from, to) : utf8(buf, from, to));
          if (this.#epoch !== epoch) return end;
          continue;
        }
      }
      let value: RespValue;
      switch (type) {
        case Byte.DOLLAR:
        case Byte.BANG:
        case Byte.EQUALS: {
          const length = this.#readLength(buf, pos + 1, end, type, this.#maxBulkLength);
          if (length === INCOMPLETE) return this.#incomplete(buf, start, final);
          pos = this.#lineEnd;
          if (length === -1) {
            value = null;
            break;
          }
          if (pos + length + 2 <= end) {
            if (buf[pos + length] !== Byte.CR || buf[pos + length + 1] !== Byte.LF) throw missingCrlf(type);
            value = this.#bulkValue(type, buf, pos, pos + length);
            pos += length + 2;
            break;
          }
          // The payload (or its CRLF) runs past this chunk: collect what is here, wait for more.
          if (!final) return start;
          this.#bulkType = type;
          this.#bulkRemaining = length;
          this.#bulkCrlfSeen = 0;
          this.#continueBulk(buf, pos);
          return end;
        }
        case Byte.STAR:
        case Byte.TILDE:
        case Byte.PERCENT:
        case Byte.GREATER:
        case Byte.PIPE: {
          const length = this.#readLength(buf, pos + 1, end, type, this.#maxAggregateLength);
          if (length === INCOMPLETE) return this.#incomplete(buf, start, final);
          pos = this.#lineEnd;
          if (length === -1) {
            value = null;
            break;
          }
          if (length === 0) {
            if (type === Byte.PIPE) continue;
            value = type === Byte.PERCENT ? {} : [];
            break;
          }
          this.#open(type, length);
          continue;
        }
        case Byte.COLON: {
          // Fast path: a non-negative integer of up to 15 digits whose CRLF is in this chunk.
          let i = pos + 1;
          let integer = 0;
          while (i < end) {
            const c = buf[i]!;
            if (c < Byte.ZERO || c > Byte.NINE) break;
            integer = integer * 10 + (c - Byte.ZERO);
            i++;
          }
          if (i + 1 < end && buf[i] === Byte.CR && buf[i + 1] === Byte.LF && i > pos + 1 && i - pos <= 16) {
            value = integer;
            pos = i + 2;
            break;
          }
          const parsed = this.#readInteger(buf, pos + 1, end);
          if (parsed === undefined) return this.#incomplete(buf, start, final);
          value = parsed;
          pos = this.#lineEnd;
          break;
        }
        case Byte.PLUS:
        case Byte.MINUS:
        case Byte.UNDERSCORE:
        case Byte.HASH:
        case Byte.COMMA:
        case Byte.PAREN: {
          const cr = this.#findLineEnd(buf, pos + 1, end);
          if (cr === -1) return this.#incomplete(buf, start, final);
          value = this.#lineValue(type, buf, pos + 1, cr);
          pos = cr + 2;
          break;
        }
        default:
          throw new ProtocolError(`invalid RESP type byte 0x${type.toString(16).padStart(2, "0")}`);
      }
      this.#emit(value);
      if (this.#epoch !== epoch) return end;
    }
    return end;
  }

  /**
   * A token starting at `start` runs past the end of `buf`. The last piece of a chunk keeps
   * it for the next chunk; a window (which the chunk continues) leaves it to the next window.
   */
  #incomplete(buf: Buffer, start: number, final: boolean): number {
    if (!final) return start;
    this.#keepPending(buf.subarray(start));
    return buf.length;
  }

  /**
   * Reads `<digits>\r\n` (or `-1\r\n`) at `pos`, where a length follows a type byte.
   * Returns the length, -1, or INCOMPLETE; sets #lineEnd past the CRLF.
   */
  #readLength(buf: Buffer, pos: number, end: number, type: number, max: number): number {
    if (pos >= end) return INCOMPLETE;
    const first = buf[pos]!;
    if (first === Byte.MINUS) return this.#readMinusOne(buf, pos, end, type);
    if (first === Byte.QUESTION) {
      throw new ProtocolError(
        `streamed RESP3 length "${String.fromCharCode(type)}?" is not supported (Redis never sends it)`,
      );
    }
    let length = 0;
    let i = pos;
    for (; i < end; i++) {
      const c = buf[i]!;
      if (c >= Byte.ZERO && c <= Byte.NINE) {
        length = length * 10 + (c - Byte.ZERO);
        if (length > max) {
          throw new ProtocolError(
            `${typeName(type)} length exceeds the limit of ${max}${type === Byte.DOLLAR ? " bytes" : " elements"}`,
          );
        }
        continue;
      }
      if (c !== Byte.CR || i === pos) throw badLength(type);
      if (i + 1 >= end) return INCOMPLETE;
      if (buf[i + 1] !== Byte.LF) throw badLength(type);
      this.#lineEnd = i + 2;
      return length;
    }
    return INCOMPLETE;
  }

  /** `-1` is the RESP2 null for `$` and `*`; any other negative length is an error. */
  #readMinusOne(buf: Buffer, pos: number, end: number, type: number): number {
    if (type !== Byte.DOLLAR && type !== Byte.STAR) throw badLength(type);
    for (let k = 1; k < 4; k++) {
      if (pos + k >= end) return INCOMPLETE;
      if (buf[pos + k] !== (k === 1 ? Byte.ONE : k === 2 ? Byte.CR : Byte.LF)) throw badLength(type);
    }
    this.#lineEnd = pos + 4;
    return -1;
  }

  /**
   * Reads `[-]<digits>\r\n`; undefined when incomplete. Sets #lineEnd past the CRLF. An
   * integer outside the safe range comes back as a bigint, never as a rounded number.
   */
  #readInteger(buf: Buffer, pos: number, end: number): number | bigint | undefined {
    let i = pos;
    let negative = false;
    if (i < end && (buf[i] === Byte.MINUS || buf[i] === Byte.PLUS)) {
      negative = buf[i] === Byte.MINUS;
      i++;
    }
    const digitsStart = i;
    let value = 0;
    for (; i < end; i++) {
      const c = buf[i]!;
      if (c >= Byte.ZERO && c <= Byte.NINE) {
        value = value * 10 + (c - Byte.ZERO);
        continue;
      }
      const digits = i - digitsStart;
      if (c !== Byte.CR || digits === 0 || digits > MAX_INTEGER_DIGITS) throw badInteger();
      if (i + 1 >= end) return undefined;
      if (buf[i + 1] !== Byte.LF) throw badInteger();
      this.#lineEnd = i + 2;
      // Past 15 digits the running sum may round differently from the exact decimal, and
      // past 2^53 - 1 a number cannot hold it at all (issue 9.14).
      if (digits > 15) {
        const text = latin1(buf, digitsStart, i);
        value = Number(text);
        if (!Number.isSafeInteger(value)) return BigInt(negative ? `-${text}` : text);
      }
      return negative ? -value : value;
    }
    if (i - digitsStart > MAX_INTEGER_DIGITS) throw badInteger();
    return undefined;
  }

  /** Index of the CR ending the line that starts at `pos`, or -1 if it has not arrived. */
  #findLineEnd(buf: Buffer, pos: number, end: number): number {
    let cr = pos;
    while (cr < end && buf[cr] !== Byte.CR) cr++;
    if (cr >= end - 1) {
      if (end - pos > this.#maxBulkLength) {
        throw new ProtocolError(`RESP line longer than ${this.#maxBulkLength} bytes without a CRLF`);
      }
      return -1;
    }
    if (buf[cr + 1] !== Byte.LF) throw new ProtocolError("CR not followed by LF at the end of a RESP line");
    if (cr - pos > this.#maxBulkLength) {
      throw new ProtocolError(`RESP line longer than ${this.#maxBulkLength} bytes`);
    }
    return cr;
  }

  /** The value of a complete line of type `type` whose text is `buf[from, to)`. */
  #lineValue(type: number, buf: Buffer, from: number, to: number): RespValue {
    switch (type) {
      case Byte.PLUS:
        if (this.#buffers) return buf.subarray(from, to);
        // The most common reply of all: spare the decoding.
        if (to - from === 2 && buf[from] === 79 && buf[from + 1] === 75) return "OK";
        return utf8(buf, from, to);
      case Byte.MINUS:
        return new ReplyError(utf8(buf, from, to));
      case Byte.UNDERSCORE:
        if (to !== from) throw new ProtocolError("RESP3 null (_) with a payload");
        return null;
      case Byte.HASH:
        if (to - from === 1) {
          if (buf[from] === 116) return true; // t
          if (buf[from] === 102) return false; // f
        }
        throw new ProtocolError("RESP3 boolean is neither #t nor #f");
      case Byte.COMMA: {
        const text = latin1(buf, from, to);
        if (DOUBLE_PATTERN.test(text)) return Number(text);
        if (SPECIAL_DOUBLE_PATTERN.test(text)) {
          const lower = text.toLowerCase();
          if (lower.endsWith("nan")) return Number.NaN;
          return lower.startsWith("-") ? Number.NEGATIVE_INFINITY : Number.POSITIVE_INFINITY;
        }
        throw new ProtocolError("RESP3 double is not a number");
      }
      default: {
        const text = latin1(buf, from, to);
        if (!BIG_NUMBER_PATTERN.test(text)) throw new ProtocolError("RESP3 big number is not an integer");
        return BigInt(text);
      }
    }
  }

  /** The value of a complete bulk payload `buf[from, to)`; Buffers are views of `buf`. */
  #bulkValue(type: number, buf: Buffer, from: number, to: number): RespValue {
    if (type === Byte.BANG) return new ReplyError(utf8(buf, from, to));
    if (type === Byte.EQUALS) {
      if (to - from < VERBATIM_PREFIX_BYTES || buf[from + 3] !== Byte.COLON) {
        throw new ProtocolError("RESP3 verbatim string without its format prefix (e.g. txt:)");
      }
      from += VERBATIM_PREFIX_BYTES;
    }
    if (!this.#buffers) return utf8(buf, from, to);
    return from === 0 && to === buf.length ? buf : buf.subarray(from, to);
  }

  /**
   * Collects bulk payload bytes from `buf` at `pos`; when the payload and its CRLF are
   * complete, delivers the value and returns where the rest of `buf` starts. Returns -1
   * when `buf` ran out first.
   */
  #continueBulk(buf: Buffer, pos: number): number {
    const end = buf.length;
    if (this.#bulkRemaining > 0) {
      const available = end - pos;
      const taken = Math.min(available, this.#bulkRemaining);
      if (taken > 0) {
        const part = buf.subarray(pos, pos + taken);
        this.#bulkParts.push(this.#transient ? Buffer.from(part) : part);
        this.#bulkBytes += taken;
        this.#bulkRemaining -= taken;
        pos += taken;
      }
      if (this.#bulkRemaining > 0) return -1;
    }
    while (this.#bulkCrlfSeen < 2) {
      if (pos >= end) return -1;
      if (buf[pos] !== (this.#bulkCrlfSeen === 0 ? Byte.CR : Byte.LF)) throw missingCrlf(this.#bulkType);
      this.#bulkCrlfSeen++;
      pos++;
    }
    const type = this.#bulkType;
    const whole = Buffer.concat(this.#bulkParts, this.#bulkBytes);
    this.#endBulk();
    this.#deliver(this.#bulkValue(type, whole, 0, whole.length));
    return pos;
  }

  #endBulk(): void {
    this.#bulkType = 0;
    this.#bulkParts = [];
    this.#bulkBytes = 0;
    this.#bulkRemaining = 0;
    this.#bulkCrlfSeen = 0;
  }

  /** Opens an aggregate of `length` (> 0) elements. */
  #open(type: number, length: number): void {
    const depth = this.#depth;
    if (depth >= this.#maxDepth) {
      throw new ProtocolError(`RESP aggregates nested deeper than the limit of ${this.#maxDepth}`);
    }
    let frame = this.#frames[depth];
    if (frame === undefined) {
      frame = { type, remaining: 0, items: null, map: null, key: "" };
      this.#frames.push(frame);
    }
    frame.type = type;
    if (type === Byte.PERCENT) {
      frame.remaining = length * 2;
      frame.map = {};
      frame.items = null;
    } else if (type === Byte.PIPE) {
      frame.remaining = length * 2;
      frame.items = null;
    } else {
      frame.remaining = length;
      // Grown by push, never preallocated from the declared length (which may be hostile).
      frame.items = [];
    }
    this.#depth = depth + 1;
    this.#innermost = frame;
  }

  /** Hands a complete value to the handler, or to the innermost open aggregate. */
  #emit(value: RespValue): void {
    const frame = this.#innermost;
    if (frame === null) {
      this.#modeKnown = false;
      this.#delivered++;
      if (this.#topIsPush) this.#handler.onPush(value as RespValue[]);
      else this.#handler.onReply(value);
    } else if (frame.remaining > 1 && frame.items !== null) {
      // The common case, an element that does not complete its array.
      frame.items.push(value);
      frame.remaining--;
    } else {
      this.#deliver(value);
    }
  }

  /** Hands a complete value to the innermost open aggregate, or to the handler. */
  #deliver(value: RespValue): void {
    let depth = this.#depth;
    while (depth > 0) {
      const frame = this.#frames[depth - 1]!;
      const type = frame.type;
      if (type === Byte.PERCENT) {
        if ((frame.remaining & 1) === 0) frame.key = keyText(value);
        else setField(frame.map!, frame.key, value);
      } else if (type !== Byte.PIPE) {
        frame.items!.push(value);
      }
      if (--frame.remaining > 0) return;
      depth--;
      this.#depth = depth;
      this.#innermost = depth > 0 ? this.#frames[depth - 1]! : null;
      if (type === Byte.PIPE) return; // an attribute annotates the next value and is dropped
      if (type === Byte.PERCENT) {
        value = frame.map!;
        frame.map = null;
      } else {
        value = frame.items!;
        frame.items = null;
      }
    }
    this.#modeKnown = false;
    this.#delivered++;
    if (this.#topIsPush) this.#handler.onPush(value as RespValue[]);
    else this.#handler.onReply(value);
  }
}

/**
 * Node's Buffer has had `utf8Slice`/`latin1Slice` since its beginning; `toString()` calls
 * them after normalising its arguments, which costs more than the decoding itself for the
 * short strings most replies are made of. They are not in the typings, hence this view.
 */
interface BufferSlices {
  utf8Slice(start: number, end: number): string;
  latin1Slice(start: number, end: number): string;
}
const HAS_SLICES =
  typeof (Buffer.prototype as Partial<BufferSlices>).utf8Slice === "function" &&
  typeof (Buffer.prototype as Partial<BufferSlices>).latin1Slice === "function";

/** The UTF-8 text of `buf[from, to)` (bounds already checked by the caller). */
function utf8(buf: Buffer, from: number, to: number): string {
  return HAS_SLICES ? (buf as unknown as BufferSlices).utf8Slice(from, to) : buf.toString("utf8", from, to);
}

/** The text of `buf[from, to)`, one byte per character (for ASCII protocol text). */
function latin1(buf: Buffer, from: number, to: number): string {
  return HAS_SLICES
    ? (buf as unknown as BufferSlices).latin1Slice(from, to)
    : buf.toString("latin1", from, to);
}

/** Map keys become object keys: the UTF-8 text of strings and Buffers, String() of the rest. */
function keyText(key: RespValue): string {
  if (typeof key === "string") return key;
  if (Buffer.isBuffer(key)) return key.toString("utf8");
  if (key instanceof ReplyError) return key.message;
  return typeof key === "object" && key !== null ? JSON.stringify(key, jsonSafe) : String(key);
}

function jsonSafe(_key: string, value: unknown): unknown {
  return typeof value === "bigint" ? value.toString() : value;
}

/** Plain assignment of "__proto__" would replace the object's prototype instead. */
function setField(map: { [field: string]: RespValue }, key: string, value: RespValue): void {
  if (key === "__proto__") {
    Object.defineProperty(map, key, { value, enumerable: true, writable: true, configurable: true });
  } else {
    map[key] = value;
  }
}

function typeName(type: number): string {
  switch (type) {
    case Byte.DOLLAR:
      return "bulk string";
    case Byte.BANG:
      return "bulk error";
    case Byte.EQUALS:
      return "verbatim string";
    case Byte.STAR:
      return "array";
    case Byte.TILDE:
      return "set";
    case Byte.PERCENT:
      return "map";
    case Byte.GREATER:
      return "push";
    default:
      return "attribute";
  }
}

function badLength(type: number): ProtocolError {
  return new ProtocolError(`${typeName(type)} length is not a non-negative integer (or -1 for null)`);
}

function badInteger(): ProtocolError {
  return new ProtocolError("RESP integer is not a 64-bit decimal integer");
}

function missingCrlf(type: number): ProtocolError {
  return new ProtocolError(`${typeName(type)} payload not followed by CRLF`);
}
