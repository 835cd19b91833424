/**
 * Pub/Sub on the shared cluster (left as found): sharded channels on every slot's primary,
 * classic and pattern channels on one node, Buffers, RESP3, keyspace notifications from
 * every primary, unsubscribe and close, and the bounded buffer of a slow async iterator.
 * Slot moves, failovers and kills are in test/chaos/pubsub.test.ts.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { keySlot } from "../../src/command/slot.js";
import type { DevCluster } from "../../src/dev/index.js";
import {
  ArgumentError,
  ClosedError,
  type RedisCluster,
  type Subscription,
  SubscriptionOverflowError,
} from "../../src/index.js";
import { useClients } from "../helpers/client.js";
import { sharedDevCluster } from "../helpers/cluster.js";
import { waitFor } from "../helpers/wait.js";

let dev: DevCluster;
beforeAll(async () => {
  dev = await sharedDevCluster();
});
const clients = useClients();

/** Channels spread over the slots (no hash tags), distinct per test. */
function channels(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}:${i}`);
}

/** Lines of CLIENT LIST of every primary, for the connections named `name`. */
async function clientsNamed(name: string): Promise<Array<{ port: number; fields: Map<string, string> }>> {
  const found: Array<{ port: number; fields: Map<string, string> }> = [];
  for (const node of (await dev.refresh()).filter((candidate) => candidate.role === "primary")) {
    const list = String(await dev.command(node.port, "CLIENT", "LIST"));
    for (const line of list.split("\n")) {
      const fields = new Map(
        line
          .trim()
          .split(" ")
          .map((pair) => {
            const at = pair.indexOf("=");
            return [pair.slice(0, at), pair.slice(at + 1)] as [string, string];
          }),
      );
      if (fields.get("name") === name) found.push({ port: node.port, fields });
    }
  }
  return found;
}

/** Collects what a listener receives. */
function collector(): { got: string[]; listener: (message: string, channel: string) => void } {
  const got: string[] = [];
  return { got, listener: (message, channel) => got.push(`${channel}=${message}`) };
}

describe("sharded Pub/Sub", () => {
  it("delivers every channel's messages, across all slots, through one subscriber connection per primary", async () => {
    const subscriber = clients.create({ nodes: dev.seeds, clientName: "ps-shard-sub" });
    const publisher = clients.create({ nodes: dev.seeds });
    const names = channels("shard-all", 300);
    expect(new Set(names.map((name) => keySlot(name))).size).toBeGreaterThan(250);
    const { got, listener } = collector();
    const sub = await subscriber.ssubscribe(names, listener);
    expect(sub.kind).toBe("shard");
    expect(sub.channels).toEqual(names);

    const receivers = await Promise.all(names.map((name, i) => publisher.spublish(name, `m${i}`)));
    // SPUBLISH is routed by its channel: straight to the owner, and our one subscriber heard it.
    expect(receivers).toEqual(names.map(() => 1));
    expect(publisher.stats().moved).toBe(0);
    await waitFor("every message", 10_000, () => got.length === names.length);
    expect(got.sort()).toEqual(names.map((name, i) => `${name}=m${i}`).sort());

    expect(subscriber.stats().subscriberConnections).toBe(3);
    const connections = await clientsNamed("ps-shard-sub");
    const subscribed = connections.filter(({ fields }) => Number(fields.get("ssub") ?? 0) > 0);
    // One per primary, holding all of that primary's channels, and used for nothing else.
    expect(subscribed.map(({ port }) => port).sort()).toEqual(
      [...new Set(connections.map(({ port }) => port))].sort(),
    );
    expect(subscribed.reduce((sum, { fields }) => sum + Number(fields.get("ssub")), 0)).toBe(names.length);
    for (const { fields } of subscribed) expect(["ssubscribe", "ping"]).toContain(fields.get("cmd"));
  });

  it("delivers binary channels and payloads byte for byte with ssubscribeBuffer", async () => {
    const subscriber = clients.create({ nodes: dev.seeds });
    const channel = Buffer.from([0xff, 0x00, 0x7b, 0x61, 0x7d, 0xfe]); // \xff\0{a}\xfe: hash tag "a"
    const payload = Buffer.from([0xc3, 0x28, 0x00, 0xff]); // not valid UTF-8
    const got: Array<[Buffer, Buffer]> = [];
    await subscriber.ssubscribeBuffer(channel, (message, name) => got.push([message, name]));
    expect(await subscriber.spublish(channel, payload)).toBe(1);
    await waitFor("the message", 5_000, () => got.length === 1);
    expect(got[0]![0].equals(payload)).toBe(true);
    expect(got[0]![1].equals(channel)).toBe(true);
  });

  it("shares one server subscription between two subscriptions of a channel, and unsubscribe stops delivery at once", async () => {
    const subscriber = clients.create({ nodes: dev.seeds, clientName: "ps-unsub" });
    const publisher = clients.create({ nodes: dev.seeds });
    const first = collector();
    const second = collector();
    const a = await subscriber.ssubscribe("unsub:{x}", first.listener);
    const b = await subscriber.ssubscribe(["unsub:{x}", "other:{x}"], second.listener);
    expect(await publisher.spublish("unsub:{x}", "1")).toBe(1); // one connection, one subscriber
    await waitFor("both listeners", 5_000, () => first.got.length === 1 && second.got.length === 1);

    await a.unsubscribe();
    expect(a.closed).toBe(true);
    expect(await publisher.spublish("unsub:{x}", "2")).toBe(1); // b still holds it
    await waitFor("the second listener", 5_000, () => second.got.length === 2);
    expect(first.got).toEqual(["unsub:{x}=1"]);

    await b.unsubscribe();
    expect(await publisher.spublish("unsub:{x}", "3")).toBe(0);
    expect(await publisher.spublish("other:{x}", "3")).toBe(0);
    // The node's subscriber connection went with its last channel.
    expect(subscriber.stats().subscriberConnections).toBe(0);
    expect(subscriber.stats().subscribedChannels).toBe(0);
    await waitFor("the server to drop the connection", 5_000, async () => {
      const left = await clientsNamed("ps-unsub");
      return left.every(({ fields }) => Number(fields.get("ssub") ?? 0) === 0);
    });
    expect(second.got).toEqual(["unsub:{x}=1", "unsub:{x}=2"]);
  });

  it("works over RESP3, where confirmations and messages are push frames, next to ordinary commands", async () => {
    const subscriber = clients.create({ nodes: dev.seeds, protocol: 3 });
    const names = channels("resp3", 50);
    const { got, listener } = collector();
    await subscriber.ssubscribe(names, listener);
    const classic = collector();
    await subscriber.subscribe("resp3-classic", classic.listener);
    for (const [i, name] of names.entries()) expect(await subscriber.spublish(name, `v${i}`)).toBe(1);
    await subscriber.publish("resp3-classic", "c"); // its count is of that node's own subscribers
    await subscriber.set("resp3:key", "v");
    expect(await subscriber.get("resp3:key")).toBe("v");
    await waitFor("every message", 5_000, () => got.length === names.length && classic.got.length === 1);
    expect(got.sort()).toEqual(names.map((name, i) => `${name}=v${i}`).sort());
    expect(classic.got).toEqual(["resp3-classic=c"]);
    expect(subscriber.stats().unroutedPushes).toBe(0);
  });

  it("yields messages to an async iterator, and leaving the loop unsubscribes", async () => {
    const subscriber = clients.create({ nodes: dev.seeds });
    // One hash tag: one node, one socket, so the arrival order is the publishing order.
    const sub = await subscriber.ssubscribe(["iter:{a}", "iter:{a}:2"]);
    for (let i = 0; i < 5; i++) await subscriber.spublish(i % 2 === 0 ? "iter:{a}" : "iter:{a}:2", String(i));
    await subscriber.spublish("iter:{a}", "stop");
    const seen: string[] = [];
    for await (const { channel, message } of sub) {
      if (message === "stop") break;
      seen.push(`${channel}=${message}`);
    }
    expect(seen).toEqual(["iter:{a}=0", "iter:{a}:2=1", "iter:{a}=2", "iter:{a}:2=3", "iter:{a}=4"]);
    await waitFor("the unsubscribe", 5_000, () => subscriber.stats().subscriberConnections === 0);
    expect(sub.closed).toBe(true);
    expect(await subscriber.spublish("iter:{a}", "late")).toBe(0);
  });
});

describe("a slow consumer of the async iterator", () => {
  /** Publishes `count` numbered messages, and waits until a listener of the same channel saw them all. */
  async function flood(client: RedisCluster, channel: string, count: number): Promise<void> {
    const marker = await client.ssubscribe(channel, () => {});
    let seen = 0;
    const counted = await client.ssubscribe(channel, () => {
      seen++;
    });
    for (let i = 1; i <= count; i += 100) {
      await Promise.all(
        Array.from({ length: Math.min(100, count - i + 1) }, (_, j) =>
          client.spublish(channel, String(i + j)),
        ),
      );
    }
    // Both subscriptions get each message in the same turn: once `counted` saw the last, so did the slow one.
    await waitFor(`${count} messages`, 10_000, () => seen === count);
    await Promise.all([marker.unsubscribe(), counted.unsubscribe()]);
  }

  it("keeps at most bufferSize messages (dropOldest): the oldest are dropped, counted, and reported once", async () => {
    const client = clients.create({ nodes: dev.seeds });
    const slow = await client.ssubscribe("slow:{d}", { bufferSize: 50 });
    const overflows: number[] = [];
    slow.on("overflow", ({ dropped }) => overflows.push(dropped));
    await flood(client, "slow:{d}", 1_000);
    expect(slow.dropped).toBe(950);
    expect(overflows).toEqual([1]); // one episode, one event
    const kept: string[] = [];
    const iterator = slow[Symbol.asyncIterator]();
    for (let i = 0; i < 50; i++) {
      const next = await iterator.next();
      if (next.done !== true) kept.push(next.value.message);
    }
    // The newest 50, in order: memory held is bounded by bufferSize, whatever was published.
    expect(kept).toEqual(Array.from({ length: 50 }, (_, i) => String(951 + i)));
    await slow.unsubscribe();
    expect(await iterator.next()).toEqual({ value: undefined, done: true });
  });

  it('ends the iterator with SubscriptionOverflowError after the buffered messages (overflow: "error"), and unsubscribes', async () => {
    const client = clients.create({ nodes: dev.seeds });
    const slow = await client.ssubscribe("slow:{e}", { bufferSize: 20, overflow: "error" });
    await flood(client, "slow:{e}", 200);
    expect(slow.closed).toBe(true);
    const kept: string[] = [];
    let failure: unknown;
    try {
      for await (const { message } of slow) kept.push(message);
    } catch (error) {
      failure = error;
    }
    expect(kept).toEqual(Array.from({ length: 20 }, (_, i) => String(i + 1)));
    expect(failure).toBeInstanceOf(SubscriptionOverflowError);
    expect((failure as SubscriptionOverflowError).code).toBe("RC_OVERFLOW");
    expect(await client.spublish("slow:{e}", "after")).toBe(0);
  });
});

describe("classic and pattern Pub/Sub", () => {
  it("subscribes classic channels on one node and receives what any node publishes", async () => {
    const subscriber = clients.create({ nodes: dev.seeds });
    const publisher = clients.create({ nodes: dev.seeds });
    const { got, listener } = collector();
    await subscriber.subscribe(["news", "alerts"], listener);
    expect(subscriber.stats().subscriberConnections).toBe(1);
    await publisher.connect();
    expect(publisher.nodes("primary")).toHaveLength(3);
    // PUBLISH is broadcast over the cluster bus: publishing on every node reaches the one subscriber.
    for (const node of publisher.nodes("primary")) await node.call("PUBLISH", "news", node.address);
    await publisher.publish("alerts", "fire");
    await waitFor("every message", 5_000, () => got.length === 4);
    expect(got.sort()).toEqual(
      [...publisher.nodes("primary").map((node) => `news=${node.address}`), "alerts=fire"].sort(),
    );
  });

  it("subscribes patterns and tells which pattern matched, as strings or Buffers", async () => {
    const subscriber = clients.create({ nodes: dev.seeds });
    const got: string[] = [];
    await subscriber.psubscribe("ev:*", (message, channel, pattern) =>
      got.push(`${pattern} ${channel}=${message}`),
    );
    const buffers: Buffer[] = [];
    const raw = await subscriber.psubscribeBuffer(["ev:b*"]);
    await subscriber.publish("ev:a", "1");
    await subscriber.publish("ev:b1", "2");
    await waitFor("both messages", 5_000, () => got.length === 2);
    // Two PUBLISHes may run on two nodes: the cluster bus does not order them.
    expect(got.sort()).toEqual(["ev:* ev:a=1", "ev:* ev:b1=2"]);
    for await (const { channel, message, pattern } of raw) {
      buffers.push(channel, message, pattern!);
      break;
    }
    expect(buffers.map((buffer) => buffer.toString())).toEqual(["ev:b1", "2", "ev:b*"]);
  });

  it("receives keyspace notifications from every primary with psubscribe({ allNodes: true })", async () => {
    const subscriber = clients.create({ nodes: dev.seeds });
    await subscriber.connect();
    const primaries = subscriber.nodes("primary");
    expect(primaries).toHaveLength(3);
    const restore = await Promise.all(
      subscriber.nodes("primary").map(async (node) => {
        const reply = (await node.call("CONFIG", "GET", "notify-keyspace-events")) as string[];
        return [node, reply[1] ?? ""] as const;
      }),
    );
    try {
      for (const node of primaries) await node.call("CONFIG", "SET", "notify-keyspace-events", "K$");
      const events: string[] = [];
      const sub = await subscriber.psubscribe(
        "__keyspace@0__:ks:*",
        (event, channel) => events.push(`${channel.slice("__keyspace@0__:".length)} ${event}`),
        { allNodes: true },
      );
      expect(sub.allNodes).toBe(true);
      expect(subscriber.stats().subscriberConnections).toBe(primaries.length);
      // One key per primary: each node publishes the events of its own keys only.
      const keys = subscriber.topology!.primaries.map((primary) => {
        for (let i = 0; ; i++) {
          const key = `ks:${i}`;
          if (subscriber.topology!.shardOf(keySlot(key))?.primary.address === primary.address) return key;
        }
      });
      for (const key of keys) await subscriber.set(key, "v");
      await waitFor("an event per primary", 5_000, () => events.length === keys.length);
      expect(events.sort()).toEqual(keys.map((key) => `${key} set`).sort());
      await sub.unsubscribe();
      expect(subscriber.stats().subscriberConnections).toBe(0);
    } finally {
      for (const [node, value] of restore) await node.call("CONFIG", "SET", "notify-keyspace-events", value);
    }
  });
});

describe("closing, and mistakes", () => {
  it("close() ends every subscription: iterators finish, a subscribe under way rejects, nothing stays pending", async () => {
    const client = clients.create({ nodes: dev.seeds });
    const sub = await client.ssubscribe("close:{a}");
    const classic = await client.subscribe("close-classic");
    const pending = sub[Symbol.asyncIterator]().next();
    const starting = expect(client.ssubscribe("close:{b}")).rejects.toBeInstanceOf(ClosedError);
    await client.close();
    expect(await pending).toEqual({ value: undefined, done: true });
    await starting;
    expect(sub.closed && classic.closed).toBe(true);
    await sub.unsubscribe(); // resolves, after close too
    await expect(client.ssubscribe("close:{c}")).rejects.toBeInstanceOf(ClosedError);
    expect(client.stats().subscriberConnections).toBe(0);
  });

  it("refuses bad arguments with ArgumentError, and raw SUBSCRIBE commands on shared connections", async () => {
    const client = clients.create({ nodes: dev.seeds });
    await expect(client.ssubscribe([])).rejects.toBeInstanceOf(ArgumentError);
    await expect(client.ssubscribe([undefined as unknown as string])).rejects.toBeInstanceOf(ArgumentError);
    await expect(client.ssubscribe("a", { bufferSize: 0 })).rejects.toBeInstanceOf(ArgumentError);
    await expect(
      client.ssubscribe("a", { overflow: "dropNewest" as unknown as "error" }),
    ).rejects.toBeInstanceOf(ArgumentError);
    await expect(client.subscribe("a", { allNodes: true } as object)).rejects.toBeInstanceOf(ArgumentError);
    await expect(client.call("SSUBSCRIBE", "a")).rejects.toBeInstanceOf(ArgumentError);
    await expect(client.call("SUBSCRIBE", "a")).rejects.toBeInstanceOf(ArgumentError);
    expect(client.stats().subscriberConnections).toBe(0);
  });

  it("keeps delivering to other listeners when one throws, and reports it as an error event", async () => {
    const client = clients.create({ nodes: dev.seeds });
    const errors: Error[] = [];
    const bad: Subscription = await client.ssubscribe("throw:{a}", () => {
      throw new Error("listener bug");
    });
    bad.on("error", (error) => errors.push(error));
    const { got, listener } = collector();
    await client.ssubscribe("throw:{a}", listener);
    await client.spublish("throw:{a}", "1");
    await client.spublish("throw:{a}", "2");
    await waitFor("both messages", 5_000, () => got.length === 2);
    expect(errors.map((error) => error.message)).toEqual(["listener bug", "listener bug"]);
  });
});
