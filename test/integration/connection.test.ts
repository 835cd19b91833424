/**
 * One node connection (src/connection/connection.ts) against real redis-server nodes of
 * the shared dev cluster: ACL authentication, RESP3 decoding, READONLY on a replica,
 * binary safety, large values (the zero-copy write path), and a deep pipeline.
 *
 * The cluster is left as found: the ACL user and every key are deleted afterwards.
 */
import { randomBytes } from "node:crypto";
import { inspect } from "node:util";
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { keySlot } from "../../src/command/slot.js";
import { Connection } from "../../src/connection/connection.js";
import type { ConnectionOptions } from "../../src/connection/types.js";
import type { DevCluster, DevNode } from "../../src/dev/index.js";
import { AuthError, ReplyError } from "../../src/errors.js";
import { sharedDevCluster } from "../helpers/cluster.js";

let dev: DevCluster;
let primary: DevNode;
let replica: DevNode;
const USER = `rc-connection-test-${process.pid}`;
const PASSWORD = `pw-${randomBytes(8).toString("hex")}`;
const keysToDelete = new Set<string | Buffer>();

beforeAll(async () => {
  dev = await sharedDevCluster();
  await dev.refresh();
  primary = dev.nodes.find((node) => node.role === "primary" && node.pid !== undefined)!;
  replica = dev.nodes.find((node) => node.role === "replica" && node.primaryId === primary.id)!;
  expect(replica, "a replica of the chosen primary").toBeDefined();
});

afterAll(async () => {
  if (dev === undefined) return;
  for (const key of keysToDelete) await dev.command(primary.port, "DEL", key);
  await dev.command(primary.port, "ACL", "DELUSER", USER);
});

const connections: Connection[] = [];
afterEach(() => {
  for (const connection of connections.splice(0)) connection.destroy();
});

function open(node: DevNode, options: Partial<ConnectionOptions> = {}): Connection {
  const connection = new Connection({ host: node.host, port: node.port, ...options });
  connections.push(connection);
  return connection;
}

/** A key (`prefix:<n>`) in a slot that `node` serves; remembered for deletion. */
function keyOn(node: DevNode, prefix: string): string {
  for (let i = 0; ; i++) {
    const key = `${prefix}:${i}`;
    const slot = keySlot(key);
    if (node.slots.some(([start, end]) => slot >= start && slot <= end)) {
      keysToDelete.add(key);
      return key;
    }
  }
}

/** A hash tag (`{name-<n>}`) whose slot `node` serves: keys sharing it land together there. */
function tagOn(node: DevNode, name: string): string {
  for (let i = 0; ; i++) {
    const tag = `{${name}-${i}}`;
    const slot = keySlot(tag);
    if (node.slots.some(([start, end]) => slot >= start && slot <= end)) return tag;
  }
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    const value = await promise;
    throw new Error(`expected a rejection, got ${inspect(value)}`);
  } catch (error) {
    return error as Error;
  }
}

describe("authentication", () => {
  beforeAll(async () => {
    await dev.command(primary.port, "ACL", "SETUSER", USER, "reset", "on", `>${PASSWORD}`, "~*", "+@all");
  });

  it("AUTH with an ACL user name and password", async () => {
    const connection = open(primary, { username: USER, password: PASSWORD });
    expect(await connection.command("ACL", "WHOAMI")).toBe(USER);
    const key = keyOn(primary, "conn-test:auth");
    expect(await connection.command("SET", key, "v")).toBe("OK");
    expect(await connection.command("GET", key)).toBe("v");
  });

  it("HELLO 3 AUTH with the same user", async () => {
    const connection = open(primary, { username: USER, password: PASSWORD, protocol: 3 });
    expect(await connection.command("ACL", "WHOAMI")).toBe(USER);
  });

  it.each([2, 3] as const)(
    "WRONGPASS (RESP%s): AuthError, the password nowhere in message, stack or inspection",
    async (protocol) => {
      const wrong = `wrong-${randomBytes(8).toString("hex")}`;
      const connection = open(primary, { username: USER, password: wrong, protocol });
      const failure = await rejection(connection.command("PING"));
      expect(failure).toBeInstanceOf(AuthError);
      expect((failure.cause as ReplyError).code).toBe("WRONGPASS");
      for (const text of [failure.message, failure.stack ?? "", inspect(failure, { depth: 10 })]) {
        expect(text).not.toContain(wrong);
        expect(text).not.toContain(PASSWORD);
      }
    },
  );
});

describe("RESP3", () => {
  it("HGETALL decodes to an object (a map), ZSCORE to a number (a double); RESP2 sends the score as text", async () => {
    const tag = tagOn(primary, "resp3");
    const hash = `conn-test:${tag}:hash`;
    const zset = `conn-test:${tag}:zset`;
    keysToDelete.add(hash).add(zset);
    const resp3 = open(primary, { protocol: 3 });
    await resp3.command("HSET", hash, "a", "1", "b", "two");
    await resp3.command("ZADD", zset, "1.5", "member");
    expect(await resp3.command("HGETALL", hash)).toEqual({ a: "1", b: "two" });
    expect(await resp3.command("ZSCORE", zset, "member")).toBe(1.5);
    const resp2 = open(primary);
    expect(await resp2.command("HGETALL", hash)).toEqual(["a", "1", "b", "two"]);
    expect(await resp2.command("ZSCORE", zset, "member")).toBe("1.5");
  });
});

describe("READONLY", () => {
  it("on a replica, READONLY lets a GET through; without it the replica answers MOVED", async () => {
    const key = keyOn(primary, "conn-test:replica");
    const writer = open(primary);
    await writer.command("SET", key, "replicated");
    expect(await writer.command("WAIT", "1", "2000")).toBeGreaterThanOrEqual(1);

    const reader = open(replica, { readOnly: true });
    expect(await reader.command("GET", key)).toBe("replicated");

    const plain = open(replica);
    const failure = await rejection(plain.command("GET", key));
    expect(failure).toBeInstanceOf(ReplyError);
    expect((failure as ReplyError).code).toBe("MOVED");
    expect(failure.message).toContain(`:${primary.port}`);
  });
});

describe("binary safety and large values", () => {
  it("all 256 byte values round-trip, in the value and in the key", async () => {
    const value = Buffer.from(Array.from({ length: 256 }, (_, i) => i));
    let key: Buffer | undefined;
    for (let i = 0; key === undefined; i++) {
      const candidate = Buffer.concat([Buffer.from([0x00, 0x0d, 0x0a, 0xff, 0xfe]), Buffer.from(String(i))]);
      const slot = keySlot(candidate);
      if (primary.slots.some(([start, end]) => slot >= start && slot <= end)) key = candidate;
    }
    keysToDelete.add(key);
    const connection = open(primary);
    expect(await connection.command("SET", key, value)).toBe("OK");
    const back = await connection.request("GET", [key], { buffers: true });
    expect(Buffer.isBuffer(back)).toBe(true);
    expect((back as Buffer).equals(value)).toBe(true);
    expect(await connection.command("STRLEN", key)).toBe(256);
  });

  it.each([
    ["1 MiB", 1024 * 1024],
    ["20 MiB", 20 * 1024 * 1024],
  ])("a %s value round-trips byte for byte", async (_label, size) => {
    const key = keyOn(primary, `conn-test:big:${size}`);
    const value = randomBytes(size);
    const connection = open(primary);
    expect(await connection.request("SET", [key, value], { timeoutMs: 20_000 })).toBe("OK");
    const back = (await connection.request("GET", [key], { buffers: true, timeoutMs: 20_000 })) as Buffer;
    expect(back.length).toBe(size);
    expect(back.equals(value)).toBe(true);
    await connection.command("DEL", key);
  });

  it("a large value between small commands leaves the stream aligned", async () => {
    const tag = tagOn(primary, "mix");
    const big = `conn-test:${tag}:big`;
    const small = `conn-test:${tag}:small`;
    keysToDelete.add(big).add(small);
    const value = randomBytes(3 * 1024 * 1024 + 7);
    const connection = open(primary);
    const replies = await Promise.all([
      connection.command("SET", small, "a"),
      connection.request("SET", [big, value], { timeoutMs: 20_000 }),
      connection.command("GET", small),
      connection.request("GET", [big], { buffers: true, timeoutMs: 20_000 }),
      connection.command("STRLEN", big),
    ]);
    expect(replies[0]).toBe("OK");
    expect(replies[1]).toBe("OK");
    expect(replies[2]).toBe("a");
    expect((replies[3] as Buffer).equals(value)).toBe(true);
    expect(replies[4]).toBe(value.length);
  });
});

describe("one read buffer for every socket", () => {
  // Plain TCP sockets read into one buffer that the next read, on any connection,
  // overwrites: a reply cut by a read must be copied, or it comes back as another
  // connection's bytes. Values over 64 KiB span reads; three nodes interleave them.
  it.each([
    ["Buffers", true],
    ["strings", false],
  ])("large values read from every primary at once come back whole, as %s", async (_label, buffers) => {
    const primaries = dev.nodes.filter((node) => node.role === "primary" && node.pid !== undefined);
    expect(primaries.length).toBeGreaterThanOrEqual(3);
    const expected: Array<{ connection: Connection; key: string; value: string }> = [];
    try {
      for (const node of primaries) {
        const connection = open(node);
        for (let i = 0; i < 8; i++) {
          const key = keyOn(node, `conn-test:shared-read:${buffers}:${i}`);
          // Hex text: the same bytes as a Buffer and as a string; sizes differ, so cuts do too.
          const value = randomBytes(40_000 + i * 9_001).toString("hex");
          expect(await connection.command("SET", key, value)).toBe("OK");
          expected.push({ connection, key, value });
        }
      }
      const replies = await Promise.all(
        [1, 2, 3].flatMap(() =>
          expected.map(({ connection, key }) =>
            connection.request("GET", [key], { buffers, timeoutMs: 20_000 }),
          ),
        ),
      );
      replies.forEach((reply, index) => {
        const { key, value } = expected[index % expected.length]!;
        const text = Buffer.isBuffer(reply) ? reply.toString("latin1") : reply;
        expect(Buffer.isBuffer(reply), key).toBe(buffers);
        expect(text === value, `${key}: its own value`).toBe(true);
      });
    } finally {
      // On their own nodes: afterAll deletes on the one primary the other tests use.
      for (const { connection, key } of expected) {
        await connection.command("DEL", key);
        keysToDelete.delete(key);
      }
    }
  });
});

describe("pipelining", () => {
  it("10,000 commands sent at once are answered in order", async () => {
    const counter = keyOn(primary, "conn-test:pipe:counter");
    const connection = open(primary);
    await connection.command("DEL", counter);
    const replies = await Promise.all(
      Array.from({ length: 10_000 }, () => connection.command("INCR", counter)),
    );
    expect(replies).toEqual(Array.from({ length: 10_000 }, (_, i) => i + 1));
  });

  it("10,000 SET/GET pairs of distinct values: each GET gets its own key's value", async () => {
    const tag = tagOn(primary, "pipe");
    const keys = Array.from({ length: 5_000 }, (_, i) => `conn-test:${tag}:k${i}`);
    for (const key of keys) keysToDelete.add(key);
    const connection = open(primary);
    const replies = await Promise.all(
      keys.flatMap((key, i) => [
        connection.command("SET", key, `value-${i}`),
        connection.command("GET", key),
      ]),
    );
    for (let i = 0; i < keys.length; i++) {
      expect(replies[2 * i]).toBe("OK");
      expect(replies[2 * i + 1]).toBe(`value-${i}`);
    }
    await connection.command("DEL", ...keys);
  });
});
