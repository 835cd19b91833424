import fc from "fast-check";
import { describe, expect, it } from "vitest";
import { keySlot } from "../../src/command/slot.js";
import {
  asciiUpperCase,
  checkArgs,
  keyBytes,
  refuseConnectionState,
  splitCommandName,
} from "../../src/command/validate.js";
import { ArgumentError } from "../../src/errors.js";
import { encodeCommand, numberText } from "../../src/resp/encoder.js";
import type { RedisArg } from "../../src/resp/types.js";

describe("checkArgs", () => {
  it("takes strings, Buffers, Uint8Arrays, numbers (±Infinity too) and bigints", () => {
    expect(() =>
      checkArgs("SET", ["k", Buffer.from("v"), new Uint8Array([1]), 1.5, -Infinity, 10n]),
    ).not.toThrow();
  });

  it.each([
    [undefined, "undefined"],
    [null, "null"],
    [Number.NaN, "NaN"],
    [{}, "an object"],
    [["a"], "an array (spread it"],
    [true, "a boolean"],
  ])("refuses %s with an ArgumentError that says what it got", (value, said) => {
    const error = (() => {
      try {
        checkArgs("SET", ["k", value]);
      } catch (e) {
        return e;
      }
    })();
    expect(error).toBeInstanceOf(ArgumentError);
    expect((error as Error).message).toContain("argument 2");
    expect((error as Error).message).toContain(said);
  });
});

describe("refuseConnectionState", () => {
  it.each([
    ["MULTI", []],
    ["WATCH", ["k"]],
    ["SUBSCRIBE", ["ch"]],
    ["SELECT", ["1"]],
    ["CLIENT", ["reply", "OFF"]],
    ["CLIENT", ["TRACKING", "ON"]],
  ])("refuses %s %s: it would change a connection every caller shares", (name, args) => {
    expect(() => refuseConnectionState(name, args)).toThrow(ArgumentError);
  });

  it.each([
    ["GET", ["k"]],
    ["CLIENT", ["LIST"]],
    ["CLIENT", ["SETNAME", "x"]],
    ["PUBLISH", ["ch", "m"]],
  ])("lets %s %s through", (name, args) => {
    expect(() => refuseConnectionState(name, args)).not.toThrow();
  });
});

describe("splitCommandName", () => {
  it("splits words and upper-cases the command", () => {
    expect(splitCommandName("client  list", ["x"])).toEqual({ head: "CLIENT", args: ["list", "x"] });
    expect(splitCommandName("get", ["k"])).toEqual({ head: "GET", args: ["k"] });
  });

  it("refuses an empty name", () => {
    expect(splitCommandName("  ", [])).toBeInstanceOf(ArgumentError);
  });
});

describe("refuseConnectionState decides on the bytes the server reads (17.1)", () => {
  it.each([
    ["a Buffer", Buffer.from("REPLY")],
    ["a lower-case Buffer", Buffer.from("reply")],
    ["a mixed-case Uint8Array", new Uint8Array(Buffer.from("rEpLy"))],
    ["a lower-case string", "reply"],
  ])("CLIENT with %s subcommand REPLY is refused", (_kind, sub) => {
    expect(() => refuseConnectionState("CLIENT", [sub, "OFF"])).toThrow(ArgumentError);
    expect(() => refuseConnectionState("CLIENT", [sub, "SKIP"])).toThrow(/CLIENT REPLY/);
  });

  it("TRACKING as bytes too; other CLIENT subcommands as bytes pass", () => {
    expect(() => refuseConnectionState("CLIENT", [Buffer.from("tracking"), "on"])).toThrow(ArgumentError);
    expect(() => refuseConnectionState("CLIENT", [Buffer.from("LIST")])).not.toThrow();
    expect(() => refuseConnectionState("CLIENT", [Buffer.from("REPLYX")])).not.toThrow();
    expect(() => refuseConnectionState("CLIENT", [42])).not.toThrow();
  });

  it("command names are folded as the server folds them (ASCII only)", () => {
    expect(() => refuseConnectionState("multi", [])).toThrow(ArgumentError);
    expect(() => refuseConnectionState("Client", [Buffer.from("reply"), "off"])).toThrow(ArgumentError);
    // "ſ" is no "S" to the server: this is an unknown command to it, not SUBSCRIBE.
    expect(() => refuseConnectionState("ſUBSCRIBE", ["ch"])).not.toThrow();
  });

  it("splitCommandName upper-cases ASCII only, so the name sent is the name checked", () => {
    expect(splitCommandName("ſet", ["k"])).toEqual({ head: "ſET", args: ["k"] });
    expect(asciiUpperCase("client reply")).toBe("CLIENT REPLY");
  });
});

describe("keyBytes hashes exactly what the encoder sends (17.4)", () => {
  /** The bytes of the first argument as the encoder puts them on the wire. */
  function sentBytes(arg: RedisArg): string {
    const wire = encodeCommand("GET", [arg]).toString("latin1");
    const match = /^\*2\r\n\$3\r\nGET\r\n\$(\d+)\r\n/.exec(wire)!;
    return wire.slice(match[0].length, match[0].length + Number(match[1]));
  }

  it.each([
    Number.POSITIVE_INFINITY,
    Number.NEGATIVE_INFINITY,
    2e21,
    -2e21,
    2 ** 60,
    Number.MAX_SAFE_INTEGER,
    -0,
    0,
    1e-7,
    1.5,
    -42,
    2n ** 60n,
    -(2n ** 70n),
  ])("%s", (key) => {
    expect(keyBytes(key)).toBe(sentBytes(key));
    expect(keySlot(keyBytes(key))).toBe(keySlot(sentBytes(key)));
  });

  it("for any finite number or bigint (property)", () => {
    fc.assert(
      fc.property(fc.oneof(fc.double({ noNaN: true }), fc.bigInt(), fc.integer()), (key) => {
        expect(keyBytes(key)).toBe(sentBytes(key));
      }),
    );
  });

  it("numberText renders as documented", () => {
    expect(numberText(Number.POSITIVE_INFINITY)).toBe("+inf");
    expect(numberText(2e21)).toBe("2000000000000000000000");
    expect(numberText(-0)).toBe("0");
    expect(numberText(1e-7)).toBe("1e-7");
  });
});
