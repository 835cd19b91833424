/**
 * Where connections may go (issue 17.13, SPEC "Connections and safety"): the `connectTo`
 * option against fake clusters whose topology or redirections point at a host the client
 * was not given — 127.0.0.2, which is still loopback, so a fake can listen there and count
 * the connections it gets (none, when refused: no socket, no credentials).
 */
import { afterEach, describe, expect, it } from "vitest";
import { keySlot } from "../../src/command/slot.js";
import {
  ConnectionError,
  MaxRedirectionsError,
  RedisCluster,
  type RedisClusterOptions,
} from "../../src/index.js";
import { describeError } from "../helpers/client.js";
import { watchEscapes } from "../helpers/escapes.js";
import { closeAllFakes, error, FakeCluster, type FakeServer, startFakeServer } from "./resp-server.js";

const OUTSIDE_HOST = "127.0.0.2";
const escaped = watchEscapes();
const clients: RedisCluster[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await closeAllFakes();
  expect(escaped.splice(0), "unhandled rejections").toEqual([]);
});

function client(nodes: string[], options: Omit<RedisClusterOptions, "nodes"> = {}): RedisCluster {
  const cluster = new RedisCluster({ nodes, refreshInterval: 0, commandTimeout: 600, ...options });
  clients.push(cluster);
  return cluster;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    const value = await promise;
    throw new Error(`expected a rejection, got ${String(value)}`);
  } catch (error) {
    return error as Error;
  }
}

/** The message of an error and of its causes. */
function messages(error: unknown): string {
  const parts: string[] = [];
  for (let at = error; at instanceof Error; at = at.cause) parts.push(at.message);
  return parts.join(" <- ");
}

/** A fake on 127.0.0.2 holding `k`, and a one-node fake cluster whose node redirects GETs there. */
async function redirectingCluster() {
  const outside = await startFakeServer(0, OUTSIDE_HOST);
  outside.store.set("k", Buffer.from("from outside"));
  const cluster = await FakeCluster.start(1);
  const [node] = cluster.nodes as [FakeServer];
  node.handle("GET", (command) => error(`MOVED ${keySlot(command.argv[0]!)} ${outside.address}`));
  return { cluster, outside };
}

describe('connectTo: "cluster" (the default)', () => {
  it("a MOVED to a host that is neither a seed nor in the topology is refused: no connection, a typed error", async () => {
    const { cluster, outside } = await redirectingCluster();
    const redis = client(cluster.seeds, { password: "secret-for-the-cluster-only" });
    const failure = await rejection(redis.get("k"));
    expect(
      [ConnectionError, MaxRedirectionsError].some((type) => failure instanceof type),
      describeError(failure),
    ).toBe(true);
    expect(messages(failure)).toMatch(
      /refused to connect to 127\.0\.0\.2:\d+: it is neither a seed nor a node/,
    );
    expect(outside.connections).toHaveLength(0);
  });

  it("a refusal stands once a topology refresh has not named the host: one retry, not retries until the deadline", async () => {
    const { cluster } = await redirectingCluster();
    // A deadline far away: the old behaviour retried the refused target until it passed.
    const redis = client(cluster.seeds, { commandTimeout: 20_000 });
    const failure = await rejection(redis.get("k"));
    expect(failure, describeError(failure)).toBeInstanceOf(ConnectionError);
    expect(failure.message).toMatch(/^refused to connect to 127\.0\.0\.2:\d+/);
    // MOVED (a retry), refused, one retry after the refresh that started, MOVED again (a
    // retry), refused: final. Before, it went round until maxRedirections (16) ran out.
    expect(redis.stats().retries).toBe(3);
  });

  it("a host that the topology names is part of the cluster: connected to", async () => {
    const cluster = await FakeCluster.start(2);
    const [, b] = cluster.nodes as [FakeServer, FakeServer];
    // b's slots are announced as served from 127.0.0.2 (a fake listens there); the seed is a.
    const outside = await startFakeServer(0, OUTSIDE_HOST);
    cluster.info.get(b)!.endpoint = OUTSIDE_HOST;
    cluster.info.get(b)!.port = outside.port;
    const redis = client([cluster.nodes[0]!.address]);
    await redis.connect();
    expect([...redis.topology!.nodes.keys()]).toContain(outside.address);
    // The topology named it: a command for its slots goes there (the fake there answers).
    const key = keyOwnedBy(cluster, b);
    outside.store.set(key, Buffer.from("v"));
    expect(await redis.get(key)).toBe("v");
    expect(outside.connections.length).toBeGreaterThan(0);
  });
});

describe('connectTo: "any"', () => {
  it("follows the MOVED to any host (the behaviour before connectTo existed)", async () => {
    const { cluster, outside } = await redirectingCluster();
    const redis = client(cluster.seeds, { connectTo: "any" });
    expect(await redis.get("k")).toBe("from outside");
    expect(outside.connections).toHaveLength(1);
  });
});

describe("connectTo: { hosts, cidrs }", () => {
  it("a topology entry outside the list is not connected to; the listed nodes serve", async () => {
    const cluster = await FakeCluster.start(2);
    const [a, b] = cluster.nodes as [FakeServer, FakeServer];
    const outside = await startFakeServer(0, OUTSIDE_HOST);
    cluster.info.get(b)!.endpoint = OUTSIDE_HOST;
    cluster.info.get(b)!.port = outside.port;
    const redis = client([a.address], { connectTo: { hosts: ["127.0.0.1"] }, password: "pw" });
    const onA = keyOwnedBy(cluster, a);
    a.store.set(onA, Buffer.from("v"));
    expect(await redis.get(onA)).toBe("v");
    const failure = await rejection(redis.get(keyOwnedBy(cluster, b)));
    expect(failure).toBeInstanceOf(ConnectionError);
    expect(messages(failure)).toMatch(
      /refused to connect to 127\.0\.0\.2:\d+: it is outside the connectTo option/,
    );
    expect(outside.connections).toHaveLength(0);
  });

  it("a CIDR that covers the redirection target lets it through", async () => {
    const { cluster, outside } = await redirectingCluster();
    const redis = client(cluster.seeds, { connectTo: { cidrs: ["127.0.0.0/30"] } });
    expect(await redis.get("k")).toBe("from outside");
    expect(outside.connections).toHaveLength(1);
  });

  it("a narrower CIDR refuses it", async () => {
    const { cluster, outside } = await redirectingCluster();
    const redis = client(cluster.seeds, { connectTo: { cidrs: ["127.0.0.1/32"] } });
    const failure = await rejection(redis.get("k"));
    expect(messages(failure)).toMatch(/outside the connectTo option/);
    expect(outside.connections).toHaveLength(0);
  });
});

function keyOwnedBy(cluster: FakeCluster, node: FakeServer): string {
  for (let i = 0; ; i++) {
    const key = `allow:${i}`;
    if (cluster.ownerOf(keySlot(key)) === node) return key;
  }
}
