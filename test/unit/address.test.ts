/** Address parsing and checks (src/connection/address.ts): strict ports, IPv6 forms (17.2, 17.11). */
import { describe, expect, it } from "vitest";
import {
  formatAddress,
  isValidAddress,
  isValidHost,
  parseAddress,
  parsePort,
  parseSeedAddress,
} from "../../src/connection/address.js";

describe("parsePort", () => {
  it.each(["1", "7000", "65535", "00080"])("%s is a port", (text) => {
    expect(parsePort(text)).toBe(Number(text));
  });
  it.each([
    "",
    "0",
    "65536",
    "-1",
    "+1",
    "0x1b58",
    "1e3",
    " 7000",
    "7000 ",
    "7000.0",
    "７０００",
    "Infinity",
  ])("%j is not", (text) => {
    expect(parsePort(text)).toBeUndefined();
  });
});

describe("parseAddress (addresses as servers send them)", () => {
  it("reads host:port, [v6]:port, a bare v6 with its port last, and :port", () => {
    expect(parseAddress("10.0.0.1:7000")).toEqual({ host: "10.0.0.1", port: 7000 });
    expect(parseAddress("[::1]:7000")).toEqual({ host: "::1", port: 7000 });
    expect(parseAddress("::1:7000")).toEqual({ host: "::1", port: 7000 }); // MOVED from an IPv6 node
    expect(parseAddress(":7000")).toEqual({ host: "", port: 7000 });
    expect(parseAddress("redis-0.svc:6379")).toEqual({ host: "redis-0.svc", port: 6379 });
  });
  it.each([
    "10.0.0.1",
    "10.0.0.1:70000",
    "10.0.0.1:0x1b58",
    "10.0.0.1: 7000",
    "a b:7000",
    "a\r\nb:7000",
    "h/x:7000",
  ])("%j is not an address", (text) => {
    expect(parseAddress(text)).toBeUndefined();
  });
});

describe("parseSeedAddress (addresses as users write them)", () => {
  it("reads host:port and [v6]:port", () => {
    expect(parseSeedAddress("10.0.0.1:7000")).toEqual({ host: "10.0.0.1", port: 7000 });
    expect(parseSeedAddress("[::1]:7000")).toEqual({ host: "::1", port: 7000 });
  });
  it("refuses a bare IPv6 literal, with or without a port, saying to use brackets", () => {
    expect(parseSeedAddress("::1")).toMatch(/brackets, e\.g\. \[::1\]:7000/);
    expect(parseSeedAddress("::1:7000")).toMatch(/brackets/);
  });
});

describe("validity", () => {
  it("hosts are non-empty strings without spaces, control characters, / or @", () => {
    for (const host of ["10.0.0.1", "::1", "fe80::1%eth0", "redis.internal"])
      expect(isValidHost(host)).toBe(true);
    for (const host of ["", " ", "a b", "a\tb", "a\u0000b", "a/b", "u@h", 5, null])
      expect(isValidHost(host)).toBe(false);
  });
  it("addresses need both", () => {
    expect(isValidAddress({ host: "h", port: 1 })).toBe(true);
    expect(isValidAddress({ host: "h", port: 65536 })).toBe(false);
    expect(isValidAddress({ host: "", port: 1 })).toBe(false);
    expect(isValidAddress({ host: "h", port: "1" })).toBe(false);
  });
  it("formatAddress brackets IPv6", () => {
    expect(formatAddress("::1", 7000)).toBe("[::1]:7000");
    expect(formatAddress("10.0.0.1", 7000)).toBe("10.0.0.1:7000");
  });
});
