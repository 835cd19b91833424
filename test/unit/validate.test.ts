import { describe, expect, it } from "vitest";
import { checkArgs, refuseConnectionState, splitCommandName } from "../../src/command/validate.js";
import { ArgumentError } from "../../src/errors.js";

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
