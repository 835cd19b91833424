/**
 * The hash slot of a key, exactly as Redis Cluster computes it: CRC16/XMODEM of the key's
 * bytes, or of its hash tag, modulo 16384.
 *
 * Hash tag: the bytes between the first `{` and the first `}` after it, if there is at
 * least one byte between them; otherwise the whole key. So `{user1000}.following` and
 * `{user1000}.followers` share a slot, `foo{}{bar}` hashes the whole key, `foo{{bar}}zap`
 * hashes `{bar`, and `foo{bar}{zap}` hashes `bar`.
 *
 * This runs for every keyed command, so a string key is hashed over the UTF-8 bytes the
 * encoder will send, encoded on the fly instead of through a temporary Buffer.
 */

/**
 * Number of hash slots in a Redis Cluster.
 *
 * @example
 * const primaryBySlot = new Uint16Array(SLOT_COUNT);
 */
export const SLOT_COUNT = 16384;

const SLOT_MASK = SLOT_COUNT - 1;
const OPEN_BRACE = 0x7b;
const CLOSE_BRACE = 0x7d;

/** CRC16/XMODEM (polynomial 0x1021, initial value 0, no reflection), one entry per byte. */
const CRC16_TABLE = buildCrc16Table();

function buildCrc16Table(): Uint16Array {
  const table = new Uint16Array(256);
  for (let byte = 0; byte < 256; byte++) {
    let crc = byte << 8;
    for (let bit = 0; bit < 8; bit++) {
      crc = crc & 0x8000 ? (crc << 1) ^ 0x1021 : crc << 1;
    }
    table[byte] = crc & 0xffff;
  }
  return table;
}

/**
 * The hash slot (0..16383) of a key.
 *
 * A string is hashed as its UTF-8 encoding, the way `Buffer.from(key)` encodes it (a lone
 * surrogate counts as U+FFFD, bytes EF BF BD), so a string and the Buffer of its bytes
 * always land in the same slot.
 *
 * @example
 * keySlot("foo");                       // 12182
 * keySlot("{user1000}.following") === keySlot("{user1000}.followers"); // true
 * keySlot(Buffer.from([0xff, 0x00]));   // binary keys work too
 */
export function keySlot(key: string | Uint8Array): number {
  return typeof key === "string" ? stringSlot(key) : bytesSlot(key);
}

/**
 * CRC16/XMODEM of a string's UTF-8 bytes (the whole string, no hash tags). Exposed for
 * tests and for callers that hash something other than a key.
 *
 * @example
 * crc16("123456789"); // 0x31c3
 */
export function crc16(data: string | Uint8Array): number {
  return typeof data === "string" ? crc16OfUtf8(data, 0, data.length) : crc16OfBytes(data, 0, data.length);
}

function stringSlot(key: string): number {
  // Braces are ASCII and never occur inside a multi-byte UTF-8 sequence or a surrogate, so
  // the tag found on UTF-16 code units covers exactly the bytes Redis would pick.
  const open = key.indexOf("{");
  if (open !== -1) {
    const close = key.indexOf("}", open + 1);
    if (close > open + 1) return crc16OfUtf8(key, open + 1, close) & SLOT_MASK;
  }
  return crc16OfUtf8(key, 0, key.length) & SLOT_MASK;
}

function bytesSlot(key: Uint8Array): number {
  const open = key.indexOf(OPEN_BRACE);
  if (open !== -1) {
    const close = key.indexOf(CLOSE_BRACE, open + 1);
    if (close > open + 1) return crc16OfBytes(key, open + 1, close) & SLOT_MASK;
  }
  return crc16OfBytes(key, 0, key.length) & SLOT_MASK;
}

// In the updates below crc stays a 16-bit value, so (crc >> 8) ^ byte is a table index as is.
function crc16OfBytes(bytes: Uint8Array, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc = ((crc << 8) & 0xff00) ^ CRC16_TABLE[(crc >> 8) ^ bytes[i]!]!;
  }
  return crc;
}

/** CRC16 of the UTF-8 encoding of `text[start, end)`, encoded code unit by code unit. */
function crc16OfUtf8(text: string, start: number, end: number): number {
  let crc = 0;
  for (let i = start; i < end; i++) {
    let code = text.charCodeAt(i);
    if (code < 0x80) {
      crc = ((crc << 8) & 0xff00) ^ CRC16_TABLE[(crc >> 8) ^ code]!;
      continue;
    }
    if (code < 0x800) {
      crc = update(crc, 0xc0 | (code >> 6));
      crc = update(crc, 0x80 | (code & 0x3f));
      continue;
    }
    if (code >= 0xd800 && code <= 0xdfff) {
      const next = i + 1 < end ? text.charCodeAt(i + 1) : 0;
      if (code <= 0xdbff && next >= 0xdc00 && next <= 0xdfff) {
        // A surrogate pair: one code point above U+FFFF, four bytes.
        const point = 0x10000 + ((code - 0xd800) << 10) + (next - 0xdc00);
        crc = update(crc, 0xf0 | (point >> 18));
        crc = update(crc, 0x80 | ((point >> 12) & 0x3f));
        crc = update(crc, 0x80 | ((point >> 6) & 0x3f));
        crc = update(crc, 0x80 | (point & 0x3f));
        i++;
        continue;
      }
      // A lone surrogate cannot be encoded: Buffer.from writes U+FFFD in its place.
      code = 0xfffd;
    }
    crc = update(crc, 0xe0 | (code >> 12));
    crc = update(crc, 0x80 | ((code >> 6) & 0x3f));
    crc = update(crc, 0x80 | (code & 0x3f));
  }
  return crc;
}

function update(crc: number, byte: number): number {
  return ((crc << 8) & 0xff00) ^ CRC16_TABLE[(crc >> 8) ^ byte]!;
}
