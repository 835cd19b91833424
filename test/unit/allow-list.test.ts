/** The connectTo allow-list (src/connection/allow-list.ts, issue 17.13), without sockets. */
import { describe, expect, it } from "vitest";
import { HostAllowList } from "../../src/connection/allow-list.js";
import { ConnectionError } from "../../src/errors.js";

const seeds = [
  { host: "10.0.0.1", port: 7000 },
  { host: "Redis.Internal", port: 7000 },
];

describe('"cluster" (the default)', () => {
  it("allows the seeds' hosts (names case-insensitively) and what topology replies name; nothing else", () => {
    const allowed = new HostAllowList("cluster", seeds);
    expect(allowed.allows("10.0.0.1")).toBe(true);
    expect(allowed.allows("redis.internal")).toBe(true);
    expect(allowed.allows("10.0.0.2")).toBe(false);
    allowed.learn("10.0.0.2");
    expect(allowed.allows("10.0.0.2")).toBe(true);
  });

  it("refuses with a ConnectionError naming the address and the option", () => {
    const refusal = new HostAllowList("cluster", seeds).refusal("::2", 7000);
    expect(refusal).toBeInstanceOf(ConnectionError);
    expect(refusal!.address).toBe("[::2]:7000");
    expect(refusal!.message).toMatch(/refused to connect to \[::2\]:7000: .*connectTo/);
  });

  it("does not learn hosts that are not hosts", () => {
    const allowed = new HostAllowList("cluster", seeds);
    allowed.learn("");
    expect(allowed.allows("")).toBe(false);
  });
});

describe("an explicit list", () => {
  const allowed = new HostAllowList(
    { hosts: ["cache.example.com", "fd00::7"], cidrs: ["10.1.0.0/16", "fd12::/16"] },
    [],
  );
  it.each([
    ["cache.example.com", true],
    ["CACHE.example.com", true],
    ["other.example.com", false],
    ["10.1.2.3", true],
    ["10.2.0.1", false],
    ["fd00::7", true],
    ["fd00:0:0:0:0:0:0:7", true],
    ["fd12:1::1", true],
    ["fd13::1", false],
  ])("%s → %s", (host, expected) => {
    expect(allowed.allows(host)).toBe(expected);
  });

  it("does not learn from the topology (it narrows)", () => {
    const narrow = new HostAllowList({ hosts: ["10.0.0.1"] }, []);
    narrow.learn("10.0.0.2");
    expect(narrow.allows("10.0.0.2")).toBe(false);
  });
});

describe('"any"', () => {
  it("allows everything", () => {
    expect(new HostAllowList("any", []).refusal("203.0.113.9", 6379)).toBeUndefined();
  });
});
