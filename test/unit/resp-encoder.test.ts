import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { ArgumentError } from "../../src/errors.js";
import { CommandWriter, encodeCommand } from "../../src/resp/encoder.js";
import type { RedisArg } from "../../src/resp/types.js";
import { decode } from "../helpers/resp-feed.js";

const text = (name: string, args: readonly RedisArg[]): string =>
  encodeCommand(name, args).toString("latin1");

/** The pending bytes of a writer, joined. */
const joined = (parts: Buffer[]): Buffer => Buffer.concat(parts);

describe("encodeCommand", () => {
  it("writes a RESP array of bulk strings", () => {
    expect(text("PING", [])).toBe("*1\r\n$4\r\nPING\r\n");
    expect(text("GET", ["key"])).toBe("*2\r\n$3\r\nGET\r\n$3\r\nkey\r\n");
    expect(text("CLUSTER", ["SHARDS"])).toBe("*2\r\n$7\r\nCLUSTER\r\n$6\r\nSHARDS\r\n");
    expect(text("SET", ["k", ""])).toBe("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$0\r\n\r\n");
  });

  it("encodes strings as UTF-8 and counts bytes, not characters", () => {
    const bytes = encodeCommand("SET", ["é", "日本", "🐱"]);
    expect(
      bytes.equals(Buffer.from("*4\r\n$3\r\nSET\r\n$2\r\né\r\n$6\r\n日本\r\n$4\r\n🐱\r\n", "utf8")),
    ).toBe(true);
  });

  it("encodes numbers as decimal text", () => {
    expect(text("X", [0, -0, 7, -42, 1234567890, Number.MAX_SAFE_INTEGER, Number.MIN_SAFE_INTEGER])).toBe(
      "*8\r\n$1\r\nX\r\n$1\r\n0\r\n$1\r\n0\r\n$1\r\n7\r\n$3\r\n-42\r\n$10\r\n1234567890\r\n" +
        "$16\r\n9007199254740991\r\n$17\r\n-9007199254740991\r\n",
    );
    expect(text("X", [1.5, -0.25, 1e-7])).toBe("*4\r\n$1\r\nX\r\n$3\r\n1.5\r\n$5\r\n-0.25\r\n$4\r\n1e-7\r\n");
    // Integers past 2^53 keep their digits rather than String()'s exponent form.
    expect(text("X", [1e21, 2 ** 60])).toBe(
      "*3\r\n$1\r\nX\r\n$22\r\n1000000000000000000000\r\n$19\r\n1152921504606846976\r\n",
    );
    expect(text("ZADD", [Number.POSITIVE_INFINITY, Number.NEGATIVE_INFINITY])).toBe(
      "*3\r\n$4\r\nZADD\r\n$4\r\n+inf\r\n$4\r\n-inf\r\n",
    );
  });

  it("encodes bigints as decimal text", () => {
    expect(text("X", [0n, 12345678901234567890n, -5n])).toBe(
      "*4\r\n$1\r\nX\r\n$1\r\n0\r\n$20\r\n12345678901234567890\r\n$2\r\n-5\r\n",
    );
  });

  it("writes Buffers and Uint8Arrays byte for byte", () => {
    const binary = Buffer.from([0, 0xff, 13, 10, 0x80]);
    const bytes = encodeCommand("SET", [binary, new Uint8Array([1, 2, 3])]);
    expect(
      bytes.equals(
        Buffer.concat([
          Buffer.from("*3\r\n$3\r\nSET\r\n$5\r\n"),
          binary,
          Buffer.from("\r\n$3\r\n\x01\x02\x03\r\n"),
        ]),
      ),
    ).toBe(true);
  });

  it("round-trips through the decoder", () => {
    const args: RedisArg[] = ["a", "ü", 1, -2, 2.5, 10n, Buffer.from("bin"), "x".repeat(70_000)];
    const out = decode(encodeCommand("CMD", args));
    expect(out.replies).toEqual([["CMD", "a", "ü", "1", "-2", "2.5", "10", "bin", "x".repeat(70_000)]]);
  });

  it("writes strings that turn out not to be ASCII part way through", () => {
    for (const text of [
      "abcé",
      `${"a".repeat(255)}é`,
      `${"a".repeat(256)}é`,
      "é",
      "a\u0080",
      "a\u{1F431}b",
      // Around the length where the JavaScript copy gives way to the native one.
      "a".repeat(40),
      "a".repeat(41),
      `${"a".repeat(40)}é`,
      `${"é".repeat(41)}`,
      `${"a".repeat(60)}\u{1F431}`,
      `${"a".repeat(60)}\ud800`, // a lone surrogate: EF BF BD, as Buffer.from writes it
      `${"a".repeat(99)}\u00ff`,
    ]) {
      const bytes = Buffer.from(text, "utf8");
      expect(
        encodeCommand("SET", [text]).equals(
          Buffer.concat([Buffer.from(`*2\r\n$3\r\nSET\r\n$${bytes.length}\r\n`), bytes, Buffer.from("\r\n")]),
        ),
      ).toBe(true);
    }
  });

  it("any arguments round-trip through the decoder (fast-check)", () => {
    const arg = fc.oneof(
      fc.string({ unit: "binary", maxLength: 300 }),
      fc.string({ unit: "grapheme-ascii", maxLength: 300 }),
      fc.uint8Array({ maxLength: 100 }).map((array) => Buffer.from(array)),
      fc.integer(),
      fc.bigInt(),
    );
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.string({ minLength: 1, maxLength: 10 }), fc.array(arg, { maxLength: 6 }))),
        (commands) => {
          const writer = new CommandWriter();
          for (const [name, args] of commands) writer.write(name, args);
          const out = decode(joined(writer.take()), { buffers: true });
          expect(out.replies).toEqual(
            commands.map(([name, args]) =>
              [name, ...args].map((a) => (Buffer.isBuffer(a) ? a : Buffer.from(String(a), "utf8"))),
            ),
          );
        },
      ),
      { numRuns: 300 },
    );
  });

  it("rejects what cannot be sent with ArgumentError, naming the command but not the value", () => {
    const bad: unknown[] = [Number.NaN, undefined, null, true, {}, [], Symbol("s"), () => 1];
    for (const value of bad) {
      let thrown: unknown;
      try {
        encodeCommand("SET", ["key", value as RedisArg]);
      } catch (error) {
        thrown = error;
      }
      expect(thrown, String(value)).toBeInstanceOf(ArgumentError);
      expect((thrown as ArgumentError).command).toBe("SET");
      expect((thrown as ArgumentError).message).toMatch(/^SET: argument 2 is /);
    }
  });
});

describe("CommandWriter", () => {
  it("take() returns nothing when nothing is pending, and the pending bytes otherwise", () => {
    const writer = new CommandWriter();
    expect(writer.take()).toEqual([]);
    expect(writer.length).toBe(0);
    writer.write("GET", ["a"]);
    writer.write("GET", ["b"]);
    expect(writer.length).toBe(2 * 20);
    const parts = writer.take();
    expect(joined(parts).toString()).toBe("*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n");
    expect(writer.length).toBe(0);
    expect(writer.take()).toEqual([]);
  });

  it("never writes again over bytes handed out by take()", () => {
    const writer = new CommandWriter();
    writer.write("SET", ["k1", "v1"]);
    const first = writer.take();
    const firstCopy = joined(first).toString();
    // Enough to fill the rest of the chunk and start new ones.
    for (let i = 0; i < 5000; i++) writer.write("SET", [`key:${i}`, "v".repeat(i % 50)]);
    const second = writer.take();
    writer.write("GET", ["after"]);
    writer.take();
    expect(joined(first).toString()).toBe(firstCopy);
    const expected = Array.from({ length: 5000 }, (_, i) =>
      encodeCommand("SET", [`key:${i}`, "v".repeat(i % 50)]).toString(),
    ).join("");
    expect(joined(second).toString()).toBe(expected);
    expect(second.length).toBeGreaterThan(1);
  });

  it("writes mixed arguments across many chunks exactly as one-off encoding does", () => {
    const writer = new CommandWriter();
    const expected: Buffer[] = [];
    const taken: Buffer[] = [];
    for (let i = 0; i < 3000; i++) {
      const size = (i * 37) % 600;
      const args: RedisArg[] = [
        i % 3 === 0 ? "é".repeat(size >> 1) : "k".repeat(size),
        i,
        Buffer.alloc(i % 7 === 0 ? 17_000 : size % 50, i & 0xff),
        `tail-${i}-${"ü".repeat(i % 5)}`,
      ];
      writer.write("CMD", args);
      expected.push(encodeCommand("CMD", args));
      if (i % 100 === 99) taken.push(...writer.take());
    }
    taken.push(...writer.take());
    expect(joined(taken).equals(joined(expected))).toBe(true);
  });

  it("copies small binary arguments", () => {
    const writer = new CommandWriter();
    const value = Buffer.from("small");
    writer.write("SET", ["k", value]);
    value.fill(0x78);
    expect(joined(writer.take()).toString()).toBe("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nsmall\r\n");
  });

  it("hands large binary arguments to take() as they are, without copying", () => {
    const writer = new CommandWriter();
    const large = Buffer.alloc(64 * 1024, 0x61);
    writer.write("SET", ["k", large]);
    writer.write("GET", ["k"]);
    expect(writer.length).toBe(encodeCommand("SET", ["k", large]).length + 20);
    const parts = writer.take();
    expect(parts.some((part) => part === large)).toBe(true);
    expect(
      joined(parts).equals(Buffer.concat([encodeCommand("SET", ["k", large]), encodeCommand("GET", ["k"])])),
    ).toBe(true);
    // A Uint8Array is wrapped, not copied: the bytes handed out share its memory.
    const array = new Uint8Array(20 * 1024).fill(0x62);
    writer.write("SET", ["k", array]);
    const wrapped = writer.take().find((part) => part.length === array.length);
    expect(wrapped?.buffer).toBe(array.buffer);
  });

  it("writes strings longer than a chunk", () => {
    const writer = new CommandWriter();
    const long = "é".repeat(100_000);
    writer.write("SET", ["k", long]);
    expect(
      joined(writer.take()).equals(Buffer.from(`*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$200000\r\n${long}\r\n`)),
    ).toBe(true);
  });

  it("writes nothing of a command with a bad argument", () => {
    const writer = new CommandWriter();
    writer.write("GET", ["a"]);
    const before = writer.length;
    // The bad argument comes after one that forced a new chunk and one handed over zero-copy.
    expect(() =>
      writer.write("MSET", ["x".repeat(70_000), Buffer.alloc(20_000), undefined as unknown as RedisArg]),
    ).toThrow(ArgumentError);
    expect(writer.length).toBe(before);
    writer.write("GET", ["b"]);
    expect(joined(writer.take()).toString()).toBe(
      "*2\r\n$3\r\nGET\r\n$1\r\na\r\n*2\r\n$3\r\nGET\r\n$1\r\nb\r\n",
    );
  });
});
