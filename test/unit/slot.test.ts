import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { crc16, keySlot, SLOT_COUNT } from "../../src/command/slot.js";

describe("crc16", () => {
  it("matches the CRC16/XMODEM check value", () => {
    expect(crc16("123456789")).toBe(0x31c3);
    expect(crc16(Buffer.from("123456789"))).toBe(0x31c3);
  });

  it("is 0 for no bytes", () => {
    expect(crc16("")).toBe(0);
  });
});

describe("keySlot", () => {
  it("hashes known keys as Redis does", () => {
    expect(SLOT_COUNT).toBe(16384);
    expect(keySlot("foo")).toBe(12182);
    expect(keySlot("bar")).toBe(5061);
    expect(keySlot("")).toBe(0);
    expect(keySlot(Buffer.alloc(0))).toBe(0);
  });

  it("honours hash tags", () => {
    expect(keySlot("{user1000}.following")).toBe(keySlot("{user1000}.followers"));
    expect(keySlot("{user1000}.following")).toBe(keySlot("user1000"));
    // Empty tag: the whole key is hashed.
    expect(keySlot("foo{}{bar}")).toBe(crc16("foo{}{bar}") % SLOT_COUNT);
    expect(keySlot("foo{}{bar}")).not.toBe(keySlot("bar"));
    // The tag ends at the first `}` after the first `{`.
    expect(keySlot("foo{{bar}}zap")).toBe(keySlot("{bar"));
    expect(keySlot("foo{{bar}}zap")).toBe(crc16("{bar") % SLOT_COUNT);
    expect(keySlot("foo{bar}{zap}")).toBe(keySlot("bar"));
    // No closing brace, or only a closing brace: the whole key.
    expect(keySlot("foo{bar")).toBe(crc16("foo{bar") % SLOT_COUNT);
    expect(keySlot("foo}bar{")).toBe(crc16("foo}bar{") % SLOT_COUNT);
    expect(keySlot("}{x}")).toBe(keySlot("x"));
  });

  it("hashes a string as its UTF-8 bytes", () => {
    for (const key of ["é", "日本語", "emoji 😀", "{é}x", "a{😀}b", "\u0000\r\n", "€uro"]) {
      expect(keySlot(key)).toBe(keySlot(Buffer.from(key)));
    }
  });

  it("hashes a lone surrogate as U+FFFD, like Buffer.from", () => {
    for (const key of ["\ud800", "a\udc00b", "x\ud83d", "{\ud83d}", "\ud83d{t}", "\udc00\ud800"]) {
      expect(keySlot(key)).toBe(keySlot(Buffer.from(key)));
    }
    expect(keySlot("\ud800")).toBe(keySlot("\ufffd"));
  });

  it("hashes a Uint8Array like the Buffer of the same bytes", () => {
    const bytes = new Uint8Array([0x7b, 0xff, 0x00, 0x7d, 0x41]);
    expect(keySlot(bytes)).toBe(keySlot(Buffer.from(bytes)));
    expect(keySlot(bytes)).toBe(keySlot(Buffer.from([0xff, 0x00])));
  });

  it("agrees for a string and its Buffer, for any unicode string (lone surrogates included)", () => {
    const withBraces = fc
      .array(fc.oneof(fc.string({ unit: "binary" }), fc.constantFrom("{", "}", "{}", "{x}")), {
        maxLength: 6,
      })
      .map((parts) => parts.join(""));
    fc.assert(
      fc.property(fc.oneof(fc.string({ unit: "binary" }), withBraces), (key) => {
        const slot = keySlot(key);
        expect(slot).toBe(keySlot(Buffer.from(key)));
        expect(slot).toBeGreaterThanOrEqual(0);
        expect(slot).toBeLessThan(SLOT_COUNT);
      }),
      { numRuns: 1000 },
    );
  });

  it("agrees with a reference that hashes Buffer.from(key) with a bitwise CRC", () => {
    fc.assert(
      fc.property(fc.string({ unit: "binary" }), (key) => {
        expect(keySlot(key)).toBe(referenceSlot(Buffer.from(key)));
      }),
      { numRuns: 1000 },
    );
  });
});

/** A slow, obviously correct model: bit-by-bit CRC16/XMODEM and the hash tag rule on bytes. */
function referenceSlot(bytes: Buffer): number {
  let start = 0;
  let end = bytes.length;
  const open = bytes.indexOf("{");
  if (open >= 0) {
    const close = bytes.indexOf("}", open + 1);
    if (close > open + 1) {
      start = open + 1;
      end = close;
    }
  }
  let crc = 0;
  for (let i = start; i < end; i++) {
    crc ^= bytes[i]! << 8;
    for (let bit = 0; bit < 8; bit++)
      crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
  }
  return crc % 16384;
}
