/**
 * Pub/Sub protocol edge cases against scripted fake nodes: pushes in the middle of a stream
 * of replies (RESP3), messages between confirmations, garbage on a subscriber connection,
 * unsubscribe notices for channels we never subscribed, a confirmation for the wrong
 * channel, MOVED to SSUBSCRIBE, refusals and silence. The real cluster's behaviour (slot
 * moves, failovers) is tested against real servers in test/chaos/pubsub.test.ts.
 */

import { afterEach, describe, expect, it } from "vitest";
import { keySlot } from "../../src/command/slot.js";
import type { RespVersion } from "../../src/command/types.js";
import { Connection } from "../../src/connection/connection.js";
import {
  ProtocolError,
  RedisCluster,
  type RedisClusterCommonOptions,
  ReplyError,
  TimeoutError,
} from "../../src/index.js";
import { PushRouter, type UnroutedPush } from "../../src/pubsub/push.js";
import type { SubscriptionDownEvent, SubscriptionUpEvent } from "../../src/pubsub/subscription.js";
import { watchEscapes } from "../helpers/escapes.js";
import { PushFrame } from "../helpers/reply-encoder.js";
import { waitFor } from "../helpers/wait.js";
import {
  closeAllFakes,
  error,
  FakeCluster,
  type FakeConnection,
  type FakeServer,
  STALL,
  startFakeServer,
} from "./resp-server.js";

const unhandled = watchEscapes();

const clients: RedisCluster<RespVersion>[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await closeAllFakes();
  expect(unhandled.splice(0), "unhandled rejections").toEqual([]);
});

function client(
  nodes: string[],
  options: Omit<RedisClusterCommonOptions<RespVersion>, "nodes"> = {},
): RedisCluster<RespVersion> {
  const cluster = new RedisCluster<RespVersion>({
    nodes,
    refreshInterval: 0,
    commandTimeout: 3000,
    ...options,
  });
  clients.push(cluster);
  return cluster;
}

/**
 * Scripts SSUBSCRIBE / SUNSUBSCRIBE on every node of `cluster` as a Redis 7 node answers them:
 * a confirmation for a channel of its slots, MOVED to the owner otherwise.
 */
function serveShardChannels(cluster: FakeCluster): void {
  for (const node of cluster.nodes) {
    for (const [command, word] of [
      ["SSUBSCRIBE", "ssubscribe"],
      ["SUNSUBSCRIBE", "sunsubscribe"],
    ] as const) {
      node.handle(command, (received) => {
        const channel = received.args[0]!;
        const owner = cluster.ownerOf(keySlot(channel))!;
        if (owner !== node) return error(`MOVED ${keySlot(channel)} 127.0.0.1:${owner.port}`);
        return new PushFrame([word, channel, 1]);
      });
    }
  }
}

/** The fake connection that received the last SSUBSCRIBE of `channel` on `node`. */
function subscriberOf(node: FakeServer, channel: string): FakeConnection {
  const received = node.received("SSUBSCRIBE").filter((command) => command.argv[0] === channel);
  const last = received.at(-1);
  if (last === undefined) throw new Error(`${node.address} got no SSUBSCRIBE ${channel}`);
  return last.connection;
}

const smessage = (channel: string, payload: string) => new PushFrame(["smessage", channel, payload]);

describe("pushes on command connections (RESP3)", () => {
  it("a push between two replies settles nothing: each command gets its own reply, the push is routed", async () => {
    const fake = await startFakeServer();
    fake.handle("GET", (command) => {
      if (command.argv[0] === "b") {
        command.connection.send(new PushFrame(["invalidate", [Buffer.from("b")]]));
        command.connection.send(new PushFrame(["tracking-redir-broken", 42]));
      }
      return `value-of-${command.argv[0]}`;
    });
    const invalidated: string[] = [];
    const unrouted: UnroutedPush[] = [];
    const router = new PushRouter((push) => unrouted.push(push));
    router.onInvalidate((keys) => invalidated.push(...(keys ?? []).map(String)));
    const connection = new Connection({
      host: "127.0.0.1",
      port: fake.port,
      protocol: 3,
      onPush: (frame, from) => router.route(frame, from),
    });
    try {
      const replies = await Promise.all(["a", "b", "c"].map((key) => connection.command("GET", key)));
      expect(replies).toEqual(["value-of-a", "value-of-b", "value-of-c"]);
      expect(invalidated).toEqual(["b"]);
      expect(unrouted.map(({ kind }) => kind)).toEqual(["tracking-redir-broken"]);
      expect(router.unrouted).toBe(1);
    } finally {
      connection.destroy();
    }
  });

  it("the client routes pushes of its command connections: unknown ones become `push` events", async () => {
    const cluster = await FakeCluster.start(1);
    cluster.nodes[0]!.handle("GET", (command) => {
      command.connection.send(new PushFrame(["something-new", "x"]));
      return "v";
    });
    const redis = client(cluster.seeds, { protocol: 3 });
    const pushes: UnroutedPush[] = [];
    redis.on("push", (push) => pushes.push(push));
    expect(await redis.get("k")).toBe("v");
    expect(await redis.get("k")).toBe("v");
    expect(pushes.map(({ kind, address }) => [kind, address])).toEqual([
      ["something-new", cluster.nodes[0]!.address],
      ["something-new", cluster.nodes[0]!.address],
    ]);
    expect(redis.stats().unroutedPushes).toBe(2);
  });
});

describe.each([2, 3] as const)("subscriber connections over RESP%i", (protocol) => {
  it("takes messages that arrive between the confirmations of its SSUBSCRIBEs", async () => {
    const cluster = await FakeCluster.start(1);
    serveShardChannels(cluster);
    const node = cluster.nodes[0]!;
    node.handle("SSUBSCRIBE", (command) => {
      // A message of the first channel overtakes the second confirmation, as on a busy node.
      if (command.argv[0] === "b") command.connection.send(smessage("a", "early"));
      return new PushFrame(["ssubscribe", command.args[0]!, command.argv[0] === "a" ? 1 : 2]);
    });
    const redis = client(cluster.seeds, { protocol });
    const got: string[] = [];
    const sub = await redis.ssubscribe(["a", "b"], (message, channel) => got.push(`${channel}=${message}`));
    subscriberOf(node, "b").send(smessage("b", "late"));
    await waitFor("both messages", 3_000, () => got.length === 2);
    expect(got).toEqual(["a=early", "b=late"]);
    await sub.unsubscribe();
    expect(node.received("SUNSUBSCRIBE").map(String).sort()).toEqual(["SUNSUBSCRIBE a", "SUNSUBSCRIBE b"]);
    // Its own connection, never used for anything but Pub/Sub: no GET, no CLUSTER there.
    const used = subscriberOf(node, "a").commands.map((command) => command.name);
    expect(new Set(used)).toEqual(
      new Set(protocol === 3 ? ["HELLO", "SSUBSCRIBE", "SUNSUBSCRIBE"] : ["SSUBSCRIBE", "SUNSUBSCRIBE"]),
    );
  });

  it("drops a subscriber connection that sends garbage, reports the gap, and subscribes again", async () => {
    const cluster = await FakeCluster.start(1);
    serveShardChannels(cluster);
    const node = cluster.nodes[0]!;
    const redis = client(cluster.seeds, { protocol });
    const nodeErrors: Error[] = [];
    redis.on("nodeError", ({ error }) => nodeErrors.push(error));
    const got: string[] = [];
    const sub = await redis.ssubscribe("g", (message) => got.push(message));
    const downs: SubscriptionDownEvent<string>[] = [];
    const ups: SubscriptionUpEvent<string>[] = [];
    sub.on("down", (info) => downs.push(info));
    sub.on("up", (info) => ups.push(info));
    const first = subscriberOf(node, "g");
    first.send(Buffer.from("?this is not RESP\r\n"));
    await waitFor("a second SSUBSCRIBE", 3_000, () => node.count("SSUBSCRIBE") === 2);
    await waitFor("the up event", 3_000, () => ups.length === 1);
    expect(downs).toHaveLength(1);
    expect(downs[0]).toMatchObject({ channel: "g", reason: "connection-lost", address: node.address });
    expect(downs[0]!.error).toBeInstanceOf(ProtocolError);
    expect(nodeErrors.some((error) => error instanceof ProtocolError)).toBe(true);
    expect(ups[0]!.since).toBe(downs[0]!.since);
    const second = subscriberOf(node, "g");
    expect(second).not.toBe(first);
    second.send(smessage("g", "after"));
    await waitFor("the message", 3_000, () => got.length === 1);
    expect(got).toEqual(["after"]);
  });

  it("ignores unsubscribe notices for channels it never subscribed, and messages nobody wants", async () => {
    const cluster = await FakeCluster.start(1);
    serveShardChannels(cluster);
    const node = cluster.nodes[0]!;
    const redis = client(cluster.seeds, { protocol });
    const got: string[] = [];
    const sub = await redis.ssubscribe("mine", (message, channel) => got.push(`${channel}=${message}`));
    const downs: unknown[] = [];
    sub.on("down", (info) => downs.push(info));
    const connection = subscriberOf(node, "mine");
    connection.send(new PushFrame(["sunsubscribe", "not-mine", 0]));
    connection.send(new PushFrame(["sunsubscribe", null, 0]));
    connection.send(new PushFrame(["unsubscribe", "mine", 0])); // another family's notice
    connection.send(smessage("not-mine", "stray"));
    connection.send(smessage("mine", "1"));
    await waitFor("the message", 3_000, () => got.length === 1);
    // Frames are handled in order: everything before the message was seen, and changed nothing.
    expect(got).toEqual(["mine=1"]);
    expect(downs).toEqual([]);
    expect(node.count("SSUBSCRIBE")).toBe(1);
  });

  it("ignores a notice that arrives before its SSUBSCRIBE's confirmation (it is about an older subscription)", async () => {
    const cluster = await FakeCluster.start(1);
    serveShardChannels(cluster);
    const node = cluster.nodes[0]!;
    node.handle("SSUBSCRIBE", (command) => {
      command.connection.send(new PushFrame(["sunsubscribe", command.args[0]!, 0]));
      return new PushFrame(["ssubscribe", command.args[0]!, 1]);
    });
    const redis = client(cluster.seeds, { protocol });
    const got: string[] = [];
    const sub = await redis.ssubscribe("early-notice", (message) => got.push(message));
    const downs: unknown[] = [];
    sub.on("down", (info) => downs.push(info));
    subscriberOf(node, "early-notice").send(smessage("early-notice", "1"));
    await waitFor("the message", 3_000, () => got.length === 1);
    expect(node.count("SSUBSCRIBE")).toBe(1);
    expect(downs).toEqual([]);
    expect(redis.stats().subscriptionsLost).toBe(0);
  });

  it("follows the server's own sunsubscribe at once, and reports the window", async () => {
    const cluster = await FakeCluster.start(2);
    serveShardChannels(cluster);
    const [from, to] = cluster.nodes as [FakeServer, FakeServer];
    const channel = "moving";
    const slot = keySlot(channel);
    cluster.assign(slot, slot, 0);
    const redis = client(cluster.seeds, { protocol });
    const got: string[] = [];
    const sub = await redis.ssubscribe(channel, (message) => got.push(message));
    const events: string[] = [];
    sub.on("down", ({ reason, address }) => events.push(`down ${reason} ${address}`));
    sub.on("up", ({ address }) => events.push(`up ${address}`));
    sub.on("moved", ({ from: left, to: joined }) => events.push(`moved ${left} ${joined}`));
    // The slot moves: the old owner says so (as Redis 7 does), and MOVED points to the new one.
    cluster.assign(slot, slot, 1);
    subscriberOf(from, channel).send(new PushFrame(["sunsubscribe", channel, 0]));
    await waitFor("the move", 3_000, () => events.length === 3);
    expect(events).toEqual([
      `down unsubscribed-by-server ${from.address}`,
      `up ${to.address}`,
      `moved ${from.address} ${to.address}`,
    ]);
    subscriberOf(to, channel).send(smessage(channel, "there"));
    await waitFor("the message", 3_000, () => got.length === 1);
    expect(got).toEqual(["there"]);
  });

  it("resets a subscriber connection whose answers are out of step (a confirmation for another channel)", async () => {
    const cluster = await FakeCluster.start(1);
    serveShardChannels(cluster);
    const node = cluster.nodes[0]!;
    let calls = 0;
    node.handle(
      "SSUBSCRIBE",
      (command) => new PushFrame(["ssubscribe", ++calls === 1 ? "someone-else" : command.args[0]!, 1]),
    );
    const redis = client(cluster.seeds, { protocol });
    const nodeErrors: Error[] = [];
    redis.on("nodeError", ({ error }) => nodeErrors.push(error));
    await redis.ssubscribe("c");
    expect(node.count("SSUBSCRIBE")).toBe(2);
    expect(nodeErrors.some((error) => error instanceof ProtocolError)).toBe(true);
  });
});

describe("subscribing against scripted answers", () => {
  it("follows MOVED to SSUBSCRIBE straight to the node it names", async () => {
    const cluster = await FakeCluster.start(2);
    serveShardChannels(cluster);
    const [stale, owner] = cluster.nodes as [FakeServer, FakeServer];
    const channel = "redirected";
    const slot = keySlot(channel);
    cluster.assign(slot, slot, 0);
    const redis = client(cluster.seeds);
    await redis.connect(); // the client believes node 0 owns the slot...
    cluster.assign(slot, slot, 1); // ...which moved meanwhile
    const got: string[] = [];
    await redis.ssubscribe(channel, (message) => got.push(message));
    expect(stale.received("SSUBSCRIBE").map(String)).toEqual([`SSUBSCRIBE ${channel}`]);
    expect(owner.received("SSUBSCRIBE").map(String)).toEqual([`SSUBSCRIBE ${channel}`]);
    subscriberOf(owner, channel).send(smessage(channel, "hi"));
    await waitFor("the message", 3_000, () => got.length === 1);
    expect(redis.stats().subscriberConnections).toBe(1);
  });

  it("rejects with the server's error (NOPERM) and leaves nothing subscribed", async () => {
    const cluster = await FakeCluster.start(1);
    cluster.nodes[0]!.handle(
      "SSUBSCRIBE",
      error("NOPERM this user has no permissions to access the channel"),
    );
    const redis = client(cluster.seeds);
    const failure = await redis.ssubscribe("secret").catch((reason: unknown) => reason);
    expect(failure).toBeInstanceOf(ReplyError);
    expect((failure as ReplyError).code).toBe("NOPERM");
    expect((failure as ReplyError).command).toBe("SSUBSCRIBE");
    await waitFor("the connection to close", 3_000, () => redis.stats().subscriberConnections === 0);
    expect(redis.stats().subscribedChannels).toBe(0);
  });

  it("rejects with TimeoutError when the node never confirms, and leaves nothing subscribed", async () => {
    const cluster = await FakeCluster.start(1);
    cluster.nodes[0]!.handle("SSUBSCRIBE", STALL);
    const redis = client(cluster.seeds, { commandTimeout: 400 });
    const startedAt = performance.now();
    const failure = await redis.ssubscribe("silent").catch((reason: unknown) => reason);
    expect(failure).toBeInstanceOf(TimeoutError);
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(390);
    expect(redis.stats().subscribedChannels).toBe(0);
  });

  it("moves classic subscriptions to another node when their node is lost", async () => {
    const cluster = await FakeCluster.start(2);
    for (const node of cluster.nodes) {
      node.handle("SUBSCRIBE", (command) => new PushFrame(["subscribe", command.args[0]!, 1]));
    }
    const redis = client(cluster.seeds);
    const got: string[] = [];
    const sub = await redis.subscribe("news", (message) => got.push(message));
    const events: string[] = [];
    sub.on("down", ({ reason }) => events.push(`down ${reason}`));
    sub.on("up", () => events.push("up"));
    const first = cluster.nodes.find((node) => node.count("SUBSCRIBE") === 1)!;
    const other = cluster.nodes.find((node) => node !== first)!;
    first.guard = (command) => (command.name === "SUBSCRIBE" ? STALL : undefined);
    for (const connection of first.connections) connection.close(true);
    await waitFor("the move", 3_000, () => events.length === 2);
    expect(events).toEqual(["down connection-lost", "up"]);
    expect(other.count("SUBSCRIBE")).toBe(1);
    other.received("SUBSCRIBE")[0]!.connection.send(new PushFrame(["message", "news", "still here"]));
    await waitFor("the message", 3_000, () => got.length === 1);
    expect(got).toEqual(["still here"]);
    expect(redis.stats().subscriptionsLost).toBe(1);
    expect(redis.stats().resubscribes).toBe(1);
  });
});
