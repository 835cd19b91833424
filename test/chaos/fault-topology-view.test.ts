/**
 * One node of a real cluster lying about the topology: the fault proxy in front of it
 * rewrites its `CLUSTER SHARDS` replies (a shard left out, the reply cut off mid-way by a
 * reset, or a stale view from before a reshard), while the other nodes tell the truth and
 * the client refreshes every 100 ms. The client must keep the table it has (no `topology`
 * event, every slot served by its real owner) and say what went wrong where it can.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from "vitest";
import { Topology } from "../../src/cluster/topology.js";
import { parseClusterShards } from "../../src/cluster/topology-parse.js";
import type { DevNode } from "../../src/dev/index.js";
import type { RedisCluster } from "../../src/index.js";
import { RespDecoder } from "../../src/resp/decoder.js";
import type { RespValue } from "../../src/resp/types.js";
import { describeError, useClients } from "../helpers/client.js";
import { withDevCluster } from "../helpers/cluster.js";
import { cutReply, type ProxiedCluster, proxyCluster, respFrameEnd } from "../helpers/fault-proxy.js";
import { keyInSlot, slotsOfRanges } from "../helpers/keys.js";
import { waitFor } from "../helpers/wait.js";

/** Lying replies the client must have read before a test judges it. */
const LIES = 10;
const REFRESH_INTERVAL_MS = 100;
/** Time for LIES refreshes even if a refresh asked only one of the three nodes. */
const LIES_BUDGET_MS = 20_000;

const cluster = withDevCluster({ primaries: 3, replicasPerPrimary: 0 });
const clients = useClients();
let proxied: ProxiedCluster;

beforeAll(async () => {
  proxied = await proxyCluster(cluster(), { framed: true });
});
afterEach(() => {
  proxied.healAll();
});
afterAll(async () => {
  await proxied?.close();
});

const isClusterShards = (args: readonly Buffer[]) =>
  args.length === 2 &&
  args[0]!.toString().toUpperCase() === "CLUSTER" &&
  args[1]!.toString().toUpperCase() === "SHARDS";

/** A CLUSTER SHARDS reply (an array of shards) without its last shard. */
function withoutLastShard(reply: Buffer): Buffer {
  const headerEnd = reply.indexOf("\r\n") + 2;
  const count = Number(reply.toString("latin1", 1, headerEnd - 2));
  let end = headerEnd;
  for (let i = 0; i < count - 1; i++) end = respFrameEnd(reply, end)!;
  return Buffer.concat([Buffer.from(`*${count - 1}\r\n`), reply.subarray(headerEnd, end)]);
}

/** How the client would read a CLUSTER SHARDS reply: to check that a lie is well-formed. */
function parseView(reply: Buffer): Topology {
  let value: RespValue | undefined;
  new RespDecoder({ wantsBuffers: () => false, onReply: (v) => (value = v), onPush: () => {} }).feed(reply);
  return new Topology(
    parseClusterShards(value!, { replierHost: "127.0.0.1", mapAddress: proxied.natMap, tls: false }),
  );
}

interface Watched {
  client: RedisCluster;
  changes: unknown[];
  nodeErrors: string[];
  primaries: DevNode[];
  /** Failures of the background load (there must be none). */
  loadErrors: string[];
}

/** Stops the background load of the current test. */
let stopLoad: (() => Promise<void>) | undefined;
afterEach(async () => {
  await stopLoad?.();
  stopLoad = undefined;
});

/**
 * A client through the proxies that refreshes often, what it reports, and a light load on
 * every primary: its connections to all of them stay open (a refresh asks a node it has a
 * ready connection to), so the liar is asked about a third of the time.
 */
async function watchedClient(): Promise<Watched> {
  const primaries = (await cluster().refresh()).filter((node) => node.role === "primary");
  const client = clients.create({
    nodes: proxied.seeds,
    natMap: proxied.natMap,
    refreshInterval: REFRESH_INTERVAL_MS,
    minRefreshInterval: 0,
  });
  await client.connect();
  const changes: unknown[] = [];
  const nodeErrors: string[] = [];
  const loadErrors: string[] = [];
  client.on("topology", (change) => changes.push(change));
  client.on("nodeError", ({ address }) => nodeErrors.push(address));
  client.on("error", () => undefined); // a failed periodic refresh is reported here; counted elsewhere
  let running = true;
  const keys = primaries.map((primary) => keyInSlot(primary.slots.at(-1)![1], "keep-alive"));
  const load = (async () => {
    for (let n = 0; running; n++) {
      await Promise.all(
        keys.map((key) =>
          client.set(key, String(n)).catch((error: unknown) => loadErrors.push(describeError(error))),
        ),
      );
      await new Promise((resolve) => setTimeout(resolve, 10));
    }
  })();
  await Promise.all(keys.map((key) => client.get(key)));
  stopLoad = async () => {
    running = false;
    await load;
  };
  return { client, changes, nodeErrors, primaries, loadErrors };
}

/** Each primary's slots are served through the client: a write and a read in its first slot. */
async function expectEveryShardServed(client: RedisCluster, primaries: DevNode[], label: string) {
  for (const primary of primaries) {
    const slot = primary.slots[0]![0];
    expect(client.topology!.shardOf(slot)!.primary.address).toBe(proxied.proxyOf(primary.port).address);
    const key = keyInSlot(slot, label);
    expect(await client.set(key, label)).toBe("OK");
    expect(await client.get(key)).toBe(label);
  }
}

describe("a node that answers CLUSTER SHARDS with a wrong view", () => {
  it("a shard left out (a truncated view): the table is kept", async () => {
    const { client, changes, primaries, loadErrors } = await watchedClient();
    const liar = proxied.proxyOf(primaries[0]!.port);
    const refreshesBefore = client.stats().refreshes;
    const queriesBefore = client.stats().topologyQueries;
    const rewrittenBefore = liar.counters.rewritten;
    let lie: Buffer | undefined;
    liar.rewriteReplies((args) =>
      isClusterShards(args)
        ? (reply) => {
            lie = withoutLastShard(reply);
            return lie;
          }
        : undefined,
    );
    await waitFor(
      `${LIES} truncated views read`,
      LIES_BUDGET_MS,
      () => liar.counters.rewritten >= rewrittenBefore + LIES,
    );

    // The lie is a well-formed view that serves fewer slots.
    expect(parseView(lie!).coveredSlots).toBeGreaterThan(0);
    expect(parseView(lie!).coveredSlots).toBeLessThan(16_384);
    expect(client.stats().refreshes - refreshesBefore).toBeGreaterThanOrEqual(LIES);
    expect(changes).toEqual([]);
    expect(client.topology!.coveredSlots).toBe(16_384);
    // The lie was noticed: a lone view is believed only if it fits the table, so each lie was
    // cross-checked with other nodes (the liar is never asked to confirm someone else).
    expect(client.stats().topologyQueries - queriesBefore).toBeGreaterThan(
      client.stats().refreshes - refreshesBefore,
    );
    expect(loadErrors).toEqual([]);
    await expectEveryShardServed(client, primaries, "truncated");
  });

  it("a reply cut off by a reset: the table is kept, and the node's failure is reported (nodeError)", async () => {
    const { client, changes, nodeErrors, primaries, loadErrors } = await watchedClient();
    const liar = proxied.proxyOf(primaries[0]!.port);
    const rewrittenBefore = liar.counters.rewritten;
    liar.rewriteReplies((args) =>
      isClusterShards(args) ? (reply) => cutReply(reply, Math.floor(reply.length / 2)) : undefined,
    );
    await waitFor(
      `${LIES} cut replies`,
      LIES_BUDGET_MS,
      () => liar.counters.rewritten >= rewrittenBefore + LIES,
    );

    expect(changes).toEqual([]);
    expect(client.topology!.coveredSlots).toBe(16_384);
    expect(nodeErrors).toContain(liar.address);
    expect(loadErrors).toEqual([]);
    await expectEveryShardServed(client, primaries, "cut");
  });

  it("a stale view from before a reshard: the client keeps the new owner of the moved slots", async () => {
    const dev = cluster();
    const { client, changes, primaries, loadErrors } = await watchedClient();
    const [liarNode, from, to] = primaries as [DevNode, DevNode, DevNode];
    const liar = proxied.proxyOf(liarNode.port);
    // What the liar says now, before the slots move; it will say it again afterwards.
    let stale: Buffer | undefined;
    liar.rewriteReplies((args) =>
      isClusterShards(args)
        ? (reply) => {
            stale ??= reply;
            return reply;
          }
        : undefined,
    );
    await waitFor("a CLUSTER SHARDS reply from the liar", LIES_BUDGET_MS, () => stale !== undefined);
    liar.rewriteReplies(undefined);

    const moved = slotsOfRanges(from.slots).slice(0, 100);
    expect(parseView(stale!).shardOf(moved[0]!)!.primary.address).toBe(proxied.proxyOf(from.port).address);
    await dev.migrateSlots(from.port, to.port, moved);
    const toAddress = proxied.proxyOf(to.port).address;
    await waitFor("the client to learn the reshard", LIES_BUDGET_MS, () =>
      moved.every((slot) => client.topology!.shardOf(slot)!.primary.address === toAddress),
    );
    const changesBefore = changes.length;
    const rejections: Array<{ address: string; reason: string }> = [];
    client.on("viewRejected", (rejection) => rejections.push(rejection));
    const rejectedBefore = client.stats().viewsRejected;
    const rewrittenBefore = liar.counters.rewritten;
    const refreshesBefore = client.stats().refreshes;
    const queriesBefore = client.stats().topologyQueries;
    liar.rewriteReplies((args) => (isClusterShards(args) ? () => stale! : undefined));
    // The table, sampled several times per refresh while the liar lies (a topology event
    // would say the same; this also catches a table replaced without one).
    const wrongOwners = new Set<string | undefined>();
    let samples = 0;
    const sampler = setInterval(() => {
      samples++;
      for (const slot of moved) {
        const owner = client.topology!.shardOf(slot)?.primary.address;
        if (owner !== toAddress) wrongOwners.add(owner);
      }
    }, REFRESH_INTERVAL_MS / 4);
    try {
      await waitFor(
        `${LIES} stale views read`,
        LIES_BUDGET_MS,
        () => liar.counters.rewritten >= rewrittenBefore + LIES,
      );
    } finally {
      clearInterval(sampler);
    }

    expect(samples).toBeGreaterThan(LIES);
    expect([...wrongOwners]).toEqual([]);
    expect(changes.slice(changesBefore)).toEqual([]);
    const key = keyInSlot(moved[0]!, "stale");
    expect(await client.set(key, "1")).toBe("OK");
    expect(await client.get(key)).toBe("1");
    // Each stale view moved slots the table knows elsewhere: it was cross-checked, and outvoted.
    expect(client.stats().topologyQueries - queriesBefore).toBeGreaterThan(
      client.stats().refreshes - refreshesBefore,
    );
    expect(loadErrors).toEqual([]);
    // The fault is reported: each outvoted lie names the liar.
    expect(rejections.some((r) => r.address === liar.address && r.reason === "outvoted")).toBe(true);
    expect(rejections.every((r) => r.address === liar.address)).toBe(true);
    expect(client.stats().viewsRejected).toBeGreaterThan(rejectedBefore);
    const primariesNow = (await dev.refresh()).filter((node) => node.role === "primary");
    await expectEveryShardServed(client, primariesNow, "stale");
  });
});
