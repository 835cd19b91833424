/**
 * Routing through the client against the shared cluster: every slot reachable, hash tags
 * computed as the server computes them, binary keys and values unchanged on the way.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { keySlot, SLOT_COUNT } from "../../src/command/slot.js";
import type { DevCluster } from "../../src/dev/index.js";
import { CrossSlotError, type RedisCluster } from "../../src/index.js";
import { useClients } from "../helpers/client.js";
import { sharedDevCluster } from "../helpers/cluster.js";
import { keyInSlot, slotsOfRanges } from "../helpers/keys.js";

let cluster: DevCluster;
const clients = useClients("all");
let client: RedisCluster;

beforeAll(async () => {
  cluster = await sharedDevCluster();
  client = clients.create({ nodes: cluster.seeds });
  await client.connect();
});

/** The port of the primary serving `slot`, as the dev cluster reports it. */
function ownerPort(slot: number): number {
  const owner = cluster.nodes.find(
    (node) => node.role === "primary" && node.slots.some(([start, end]) => slot >= start && slot <= end),
  );
  if (owner === undefined) throw new Error(`no primary serves slot ${slot}`);
  return owner.port;
}

describe("every slot", () => {
  it("stores and reads back a key in each of the 16384 slots", async () => {
    const run = `routing-${process.pid}-${Date.now()}`;
    const keys = Array.from({ length: SLOT_COUNT }, (_, slot) => keyInSlot(slot, run));
    keys.forEach((key, slot) => {
      expect(keySlot(key)).toBe(slot);
    });

    const setReplies = await Promise.all(keys.map((key, slot) => client.set(key, `value-${slot}`)));
    expect(setReplies.every((reply) => reply === "OK")).toBe(true);
    const values = await Promise.all(keys.map((key) => client.get(key)));
    values.forEach((value, slot) => {
      expect(value).toBe(`value-${slot}`);
    });

    // The key is on the primary that serves its slot (asked directly: no redirection).
    for (const slot of [0, 1, 5460, 5461, 10922, 10923, 16383, 777, 8191, 12345]) {
      expect(await cluster.command(ownerPort(slot), "GET", keys[slot]!)).toBe(`value-${slot}`);
    }

    // A cross-slot DEL over all of them is split per slot and summed.
    expect(await client.del(...keys)).toBe(SLOT_COUNT);
    expect(await client.exists(...keys)).toBe(0);
    expect(client.stats().moved).toBe(0);
  });

  it("serves the slot ranges every primary reports, with no slot left out", () => {
    const topology = client.topology!;
    const fromDev = new Map<number, string>();
    for (const node of cluster.nodes.filter((candidate) => candidate.role === "primary")) {
      for (const slot of slotsOfRanges(node.slots)) fromDev.set(slot, node.address);
    }
    expect(fromDev.size).toBe(SLOT_COUNT);
    for (let slot = 0; slot < SLOT_COUNT; slot += 97) {
      expect(topology.shardOf(slot)?.primary.address).toBe(fromDev.get(slot));
    }
    expect(topology.coveredSlots).toBe(SLOT_COUNT);
  });
});

describe("hash tags", () => {
  const keys: Array<string | Buffer> = [
    "{user1000}.following",
    "{user1000}.followers",
    "foo{}{bar}",
    "foo{{bar}}zap",
    "foo{bar}{zap}",
    "{}",
    "{",
    "}",
    "}{",
    "a{b",
    "{a}}",
    "{{}}",
    "x{y}z{w}",
    "ünïcödé{tåg}",
    "😀{😀}",
    "",
    Buffer.from([0x7b, 0xff, 0x7d, 0x00]),
    Buffer.from([0xff, 0xfe, 0x7b, 0x80, 0x81, 0x7d]),
  ];

  it("computes the slot Redis computes (CLUSTER KEYSLOT) for tricky tags", async () => {
    for (const key of keys) {
      const serverSlot = await cluster.command(cluster.nodes[0]!.port, "CLUSTER", "KEYSLOT", key);
      expect(keySlot(key), `key ${JSON.stringify(key.toString())}`).toBe(serverSlot);
    }
  });

  it("puts keys with one tag in one slot: a single-slot multi-key command runs as one", async () => {
    const tag = `{tagged-${process.pid}}`;
    const a = `${tag}:a`;
    const b = `${tag}:b`;
    const c = `${tag}:c`;
    const serverSlots = await Promise.all(
      [a, b, c].map((key) => cluster.command(cluster.nodes[0]!.port, "CLUSTER", "KEYSLOT", key)),
    );
    expect(new Set(serverSlots).size).toBe(1);
    // MSETNX and RENAME cannot be split: they reach the server only because the keys share a slot.
    expect(await client.msetnx(a, "1", b, "2")).toBe(1);
    expect(await client.rename(b, c)).toBe("OK");
    expect(await client.mget(a, b, c)).toEqual(["1", null, "2"]);
    expect(await client.del(a, c)).toBe(2);
  });

  it("refuses a non-splittable command across slots before sending it", async () => {
    const before = client.stats().commands;
    const error = await client.msetnx("cross-a", "1", "cross-b", "2").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(CrossSlotError);
    expect((error as CrossSlotError).slots).toEqual([keySlot("cross-a"), keySlot("cross-b")]);
    expect(client.stats().commands).toBe(before);
    expect(await client.exists("cross-a", "cross-b")).toBe(0);
  });
});

describe("binary safety", () => {
  const nasty: Buffer[] = [
    Buffer.from([0x00]),
    Buffer.from("a\0b\0"),
    Buffer.from("line\r\nbreak\r\n"),
    Buffer.from("\r\n$5\r\nhello\r\n*1\r\n"),
    Buffer.from([0xff, 0xfe, 0xfd]),
    Buffer.from([0xc3, 0x28]), // invalid 2-byte sequence
    Buffer.from([0xe2, 0x82]), // truncated 3-byte sequence
    Buffer.from([0x80, 0x80, 0x80]), // lone continuation bytes
    Buffer.from([0xed, 0xa0, 0x80]), // an encoded surrogate
    Buffer.from([0xf4, 0x90, 0x80, 0x80]), // above U+10FFFF
    Buffer.alloc(4096, 0xff),
    Buffer.from(Array.from({ length: 256 }, (_, byte) => byte)),
  ];

  it("round-trips Buffer keys and values with \\0, \\r\\n and invalid UTF-8", async () => {
    const prefix = Buffer.from(`bin-${process.pid}-`);
    const keys = nasty.map((bytes) => Buffer.concat([prefix, bytes]));
    await Promise.all(keys.map((key, i) => client.set(key, nasty[(i + 3) % nasty.length]!)));
    const values = await Promise.all(keys.map((key) => client.getBuffer(key)));
    values.forEach((value, i) => {
      expect(Buffer.isBuffer(value)).toBe(true);
      expect(value!.equals(nasty[(i + 3) % nasty.length]!), `value ${i}`).toBe(true);
    });
    // The server holds exactly those bytes, under exactly those keys.
    for (const key of keys) {
      const slot = await cluster.command(cluster.nodes[0]!.port, "CLUSTER", "KEYSLOT", key);
      expect(keySlot(key)).toBe(slot);
      expect(await cluster.command(ownerPort(slot as number), "EXISTS", key)).toBe(1);
    }
    expect(await client.del(...keys)).toBe(keys.length);
  });

  it("treats a string key and the Buffer of its UTF-8 bytes as the same key", async () => {
    const key = `ключ-🔑-${process.pid}`;
    await client.set(key, "héllo wörld 😀");
    expect(await client.get(Buffer.from(key))).toBe("héllo wörld 😀");
    expect((await client.getBuffer(key))!.equals(Buffer.from("héllo wörld 😀"))).toBe(true);
    expect(await client.del(Buffer.from(key))).toBe(1);
  });

  it("returns Buffers from the Buffer variants and from callBuffer, strings otherwise", async () => {
    const key = Buffer.from([0x62, 0x00, 0xff, 0x0d, 0x0a]);
    const value = Buffer.from([0xff, 0x00, 0x0d, 0x0a, 0x24]);
    await client.set(key, value);
    const viaCall = await client.callBuffer("GET", key);
    expect(Buffer.isBuffer(viaCall) && viaCall.equals(value)).toBe(true);
    const mgot = (await client.mgetBuffer(key, "missing-key-for-binary-test")) as unknown[];
    expect(Buffer.isBuffer(mgot[0]) && (mgot[0] as Buffer).equals(value)).toBe(true);
    expect(mgot[1]).toBeNull();
    expect(typeof (await client.get(key))).toBe("string");
    await client.del(key);
  });
});
