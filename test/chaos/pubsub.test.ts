/**
 * Subscriptions through the cluster's worst days, on a cluster of this file's own: a live
 * reshard, a CLUSTER FAILOVER, and a kill -9 of a primary, each under a steady stream of
 * SPUBLISHes on many channels across all slots; and a classic subscriber whose node is killed.
 *
 * What is checked, per channel, from the publisher's and the subscriber's own records:
 * - every message arrives at most once, in order;
 * - every message an SPUBLISH says was received (its count is 1: our subscriber was on the
 *   node that ran it) arrives;
 * - every message that did not arrive was sent while a `down` window reported by the
 *   subscription was open (before its `up`). (A count of 0 alone proves nothing: a publisher
 *   with an old topology may run SPUBLISH on a replica, which counts only its own
 *   subscribers, while the shard still delivers the message to ours.)
 * - after a channel's last `up`, every message published arrives: the subscription really
 *   is back;
 * - at the end each channel is subscribed on exactly one node, of its slot's shard.
 */

import { afterEach, describe, expect, it } from "vitest";
import { keySlot } from "../../src/command/slot.js";
import type { RespVersion } from "../../src/command/types.js";
import type { DevCluster, DevNode } from "../../src/dev/index.js";
import { delay } from "../../src/dev/poll.js";
import type { RedisCluster, Subscription } from "../../src/index.js";
import { useClients } from "../helpers/client.js";
import { withDevCluster } from "../helpers/cluster.js";
import { waitFor } from "../helpers/wait.js";

const cluster = withDevCluster({ primaries: 3, replicasPerPrimary: 1 });
const clients = useClients();

/** Nodes killed by a test, restarted after it whatever happened. */
const killed: number[] = [];
afterEach(async () => {
  const dev = cluster();
  for (const port of killed.splice(0)) await dev.restartNode(port);
  await dev.waitForHealthy();
});

async function primaries(dev: DevCluster): Promise<DevNode[]> {
  return (await dev.refresh()).filter((node) => node.role === "primary").sort((a, b) => a.port - b.port);
}

function owns(node: DevNode, slot: number): boolean {
  return node.slots.some(([start, end]) => slot >= start && slot <= end);
}

interface Published {
  seq: number;
  sentAt: number;
  ackedAt: number;
  receivers: number;
}

interface Window {
  downAt: number;
  upAt: number | undefined;
  reason: string;
}

/**
 * Publishers (one sequential loop per channel) and one subscription of every channel, with
 * everything each side saw recorded for the checks in the file comment.
 */
class Traffic {
  readonly published = new Map<string, Published[]>();
  readonly received = new Map<string, number[]>();
  readonly windows = new Map<string, Window[]>();
  readonly moves = new Map<string, string[]>();
  failedPublishes = 0;
  subscription: Subscription | undefined;
  #running = false;
  #loops: Array<Promise<void>> = [];

  constructor(
    readonly subscriber: RedisCluster<RespVersion>,
    readonly publisher: RedisCluster,
    readonly channels: readonly string[],
  ) {
    for (const channel of channels) {
      this.published.set(channel, []);
      this.received.set(channel, []);
      this.windows.set(channel, []);
      this.moves.set(channel, []);
    }
  }

  async start(): Promise<void> {
    const sub = await this.subscriber.ssubscribe(this.channels, (message, channel) => {
      this.received.get(channel)!.push(Number(message));
    });
    this.subscription = sub;
    sub.on("down", ({ channel, reason }) => {
      this.windows.get(channel)!.push({ downAt: performance.now(), upAt: undefined, reason });
    });
    sub.on("up", ({ channel }) => {
      const open = this.windows.get(channel)!.at(-1);
      if (open !== undefined && open.upAt === undefined) open.upAt = performance.now();
    });
    sub.on("moved", ({ channel, to }) => this.moves.get(channel)!.push(to));
    this.#running = true;
    this.#loops = this.channels.map((channel) => this.#publishLoop(channel));
  }

  async #publishLoop(channel: string): Promise<void> {
    const log = this.published.get(channel)!;
    for (let seq = 1; this.#running; seq++) {
      const sentAt = performance.now();
      try {
        const receivers = await this.publisher.spublish(channel, String(seq));
        log.push({ seq, sentAt, ackedAt: performance.now(), receivers });
      } catch {
        this.failedPublishes++; // not published as far as we know: not checked
      }
      await delay(5); // pacing, so that 2 shared cores keep up
    }
  }

  /** Every channel has `count` messages published after its last `up` (or since the start). */
  async publishedAfterRecovery(count: number, timeoutMs: number): Promise<void> {
    await waitFor(`${count} messages per channel after its recovery`, timeoutMs, () =>
      this.channels.every((channel) => {
        const lastUp = this.#lastUp(channel);
        if (lastUp === null) return false; // still down
        return this.published.get(channel)!.filter((entry) => entry.sentAt > lastUp).length >= count;
      }),
    );
  }

  async stop(): Promise<void> {
    this.#running = false;
    await Promise.all(this.#loops);
    // What is still on its way (a message propagated from a replica to its primary) arrives:
    // wait for the checks to pass, or for long enough that they never will.
    await waitFor("the last messages", 10_000, () => this.problems().length === 0).catch(() => {});
  }

  /** Channels not subscribed on exactly one node of their slot's shard (PUBSUB SHARDNUMSUB on every node). */
  async misplaced(dev: DevCluster): Promise<string[]> {
    const nodes = await dev.refresh();
    const holders = new Map<string, Array<[port: number, count: number]>>();
    for (const node of nodes) {
      if (node.pid === undefined) continue; // killed: it holds nothing
      const reply = (await dev.command(node.port, "PUBSUB", "SHARDNUMSUB", ...this.channels)) as unknown[];
      for (let i = 0; i < reply.length; i += 2) {
        const count = Number(reply[i + 1]);
        if (count === 0) continue;
        const channel = String(reply[i]);
        holders.set(channel, [...(holders.get(channel) ?? []), [node.port, count]]);
      }
    }
    const wrong: string[] = [];
    for (const channel of this.channels) {
      const found = holders.get(channel) ?? [];
      const owner = nodes.find((node) => node.role === "primary" && owns(node, keySlot(channel)))!;
      const shard = [
        owner.port,
        ...nodes.filter((node) => node.primaryId === owner.id).map((node) => node.port),
      ];
      if (found.length !== 1 || found[0]![1] !== 1 || !shard.includes(found[0]![0])) {
        wrong.push(`${channel}: subscribed on ${JSON.stringify(found)}, its shard is ${shard.join(",")}`);
      }
    }
    return wrong.slice(0, 20);
  }

  /** When the channel was last subscribed again (-Infinity if never down; null while down). */
  #lastUp(channel: string): number | null {
    const last = this.windows.get(channel)!.at(-1);
    if (last === undefined) return Number.NEGATIVE_INFINITY;
    return last.upAt ?? null;
  }

  /** What contradicts the file comment's three checks, one line per problem (first 20). */
  problems(): string[] {
    const problems: string[] = [];
    for (const channel of this.channels) {
      const published = this.published.get(channel)!;
      const received = this.received.get(channel)!;
      const windows = this.windows.get(channel)!;
      const got = new Set(received);
      if (got.size !== received.length) problems.push(`${channel}: a message arrived twice`);
      for (let i = 1; i < received.length; i++) {
        if (received[i]! <= received[i - 1]!) {
          problems.push(`${channel}: ${received[i]} arrived after ${received[i - 1]}`);
          break;
        }
      }
      for (const window of windows) {
        if (window.upAt === undefined)
          problems.push(`${channel}: down (${window.reason}) and never up again`);
      }
      const lastUp = this.#lastUp(channel) ?? Number.POSITIVE_INFINITY;
      for (const entry of published) {
        if (got.has(entry.seq)) continue;
        if (entry.receivers > 0) {
          problems.push(`${channel}: ${entry.seq} was delivered but never arrived`);
          continue;
        }
        if (entry.sentAt > lastUp) {
          problems.push(`${channel}: ${entry.seq} was published after the last up, and never arrived`);
          continue;
        }
        // Lost: that must be inside a reported window.
        const inWindow = windows.some(
          (window, index) =>
            window.upAt !== undefined &&
            entry.sentAt < window.upAt &&
            entry.ackedAt > (index === 0 ? Number.NEGATIVE_INFINITY : windows[index - 1]!.upAt!),
        );
        if (!inWindow) problems.push(`${channel}: ${entry.seq} was lost outside any reported window`);
      }
    }
    return problems.slice(0, 20);
  }

  /** Channels that went down at least once. */
  get interrupted(): string[] {
    return this.channels.filter((channel) => this.windows.get(channel)!.length > 0);
  }

  /** Messages published and received, over every channel. */
  get totals(): { published: number; delivered: number; received: number; lost: number } {
    let published = 0;
    let delivered = 0;
    let received = 0;
    for (const channel of this.channels) {
      const log = this.published.get(channel)!;
      published += log.length;
      delivered += log.filter((entry) => entry.receivers > 0).length;
      received += this.received.get(channel)!.length;
    }
    return { published, delivered, received, lost: published - delivered };
  }
}

/** Channels without hash tags, so that they land all over the slots. */
function channels(prefix: string, count: number): string[] {
  return Array.from({ length: count }, (_, i) => `${prefix}:${i}`);
}

function traffic(dev: DevCluster, names: readonly string[], protocol: 2 | 3 = 2): Traffic {
  const subscriber = clients.create<RespVersion>({ nodes: dev.seeds, commandTimeout: 10_000, protocol });
  const publisher = clients.create({ nodes: dev.seeds, commandTimeout: 10_000 });
  return new Traffic(subscriber, publisher, names);
}

describe("a sharded subscriber under a live reshard, a failover and a kill", () => {
  it("keeps receiving while hundreds of slots move to another primary; every gap is reported", async () => {
    const dev = cluster();
    const [source, target] = await primaries(dev);
    const names = channels("reshard", 150);
    const load = traffic(dev, names);
    await load.start();
    const sourceSlots = names.map((name) => keySlot(name)).filter((slot) => owns(source!, slot));
    // The channels' own slots, and the ones between them: a real reshard of ~1,000 slots, in steps.
    const [first, last] = [Math.min(...sourceSlots), Math.max(...sourceSlots)];
    const moving = Array.from({ length: Math.min(1_000, last - first + 1) }, (_, i) => first + i);
    for (const slot of sourceSlots) if (!moving.includes(slot)) moving.push(slot);
    for (let at = 0; at < moving.length; at += 100) {
      await dev.migrateSlots(source!.port, target!.port, moving.slice(at, at + 100));
    }
    await load.publishedAfterRecovery(5, 20_000);
    await load.stop();

    expect(load.problems()).toEqual([]);
    const moved = names.filter((name) => moving.includes(keySlot(name)));
    expect(moved.length).toBeGreaterThan(20);
    for (const name of moved) {
      // Subscribed on the new owner, and the move was said.
      expect(load.moves.get(name), name).toContain(target!.address);
      expect(load.windows.get(name)!.length, name).toBeGreaterThan(0);
    }
    expect(load.interrupted.sort()).toEqual(moved.sort());
    expect(await load.misplaced(dev)).toEqual([]);
  });

  it("keeps receiving through a CLUSTER FAILOVER, subscribed once, in the channels' shard (RESP3 subscriber)", async () => {
    const dev = cluster();
    const nodes = await dev.refresh();
    const primary = (await primaries(dev))[1]!;
    const replica = nodes.find((node) => node.primaryId === primary.id)!;
    const names = channels("failover", 150);
    // RESP3: the demoted primary's sunsubscribe notices and the messages are push frames.
    const load = traffic(dev, names, 3);
    await load.start();
    await dev.failover(replica.port);
    await load.publishedAfterRecovery(5, 20_000);
    await load.stop();

    expect(load.problems()).toEqual([]);
    const onShard = names.filter((name) => owns(primary, keySlot(name)));
    expect(onShard.length).toBeGreaterThan(20);
    // The demoted primary dropped them (its sunsubscribe): each gap was reported and closed.
    expect(load.interrupted.sort()).toEqual(onShard.sort());
    expect(await load.misplaced(dev)).toEqual([]);
  });

  it("keeps receiving after a kill -9 of the channels' primary, once its replica took over", async () => {
    const dev = cluster();
    const nodes = await dev.refresh();
    const primary = (await primaries(dev))[2]!;
    const replica = nodes.find((node) => node.primaryId === primary.id)!;
    const names = channels("kill", 150);
    const load = traffic(dev, names);
    await load.start();
    killed.push(primary.port);
    await dev.killNode(primary.port);
    await load.publishedAfterRecovery(5, 30_000);
    await load.stop();

    expect(load.problems()).toEqual([]);
    const onShard = names.filter((name) => owns(primary, keySlot(name)));
    expect(onShard.length).toBeGreaterThan(20);
    for (const name of onShard) {
      const reasons = load.windows.get(name)!.map((window) => window.reason);
      expect(reasons, name).toContain("connection-lost");
      expect(load.moves.get(name), name).toContain(replica.address);
    }
    expect(load.interrupted.sort()).toEqual(onShard.sort());
    expect(await load.misplaced(dev)).toEqual([]);
  });
});

describe("a classic subscriber", () => {
  it("survives a kill -9 of its node: it moves to another node and keeps receiving", async () => {
    const dev = cluster();
    const subscriber = clients.create({ nodes: dev.seeds, commandTimeout: 10_000 });
    const publisher = clients.create({ nodes: dev.seeds, commandTimeout: 10_000 });
    const got: string[] = [];
    const sub = await subscriber.subscribe("classic-kill", (message) => got.push(message));
    const events: string[] = [];
    sub.on("down", ({ reason }) => events.push(`down ${reason}`));
    sub.on("up", () => events.push("up"));
    // The node holding it: the only one that counts a local subscriber of the channel.
    const nodes = await dev.refresh();
    const counts = await Promise.all(
      nodes.map(
        async (node) => (await dev.command(node.port, "PUBSUB", "NUMSUB", "classic-kill")) as unknown[],
      ),
    );
    const holder = nodes[counts.findIndex((reply) => reply[1] === 1)]!;
    expect(holder).toBeDefined();
    killed.push(holder.port);
    await dev.killNode(holder.port);
    await waitFor("the subscription to be back", 20_000, () => events.includes("up"));
    expect(events.slice(0, 2)).toEqual(["down connection-lost", "up"]);
    // Published after it is back, from another client: it arrives. (A PUBLISH that failed,
    // on its way to the dead node, was not published: send it again.)
    for (;;) {
      try {
        await publisher.publish("classic-kill", "after");
        break;
      } catch {
        await delay(100);
      }
    }
    await waitFor("the message published after the move", 10_000, () => got.includes("after"));
  });
});
