/**
 * TLS through the client, against real TLS clusters (`port 0`, `tls-port`, `tls-cluster yes`,
 * `tls-replication yes`): every kind of command, replicas, redirections, SNI; mutual TLS;
 * and the failures a user meets (wrong CA, expired certificate, no client certificate,
 * plain text on a TLS port), each one typed error that says what failed, soon, and without
 * a reconnect loop hammering the nodes.
 */
import { checkServerIdentity, type PeerCertificate } from "node:tls";
import { describe, expect, it } from "vitest";
import type { DevCluster, DevNode, DevTlsMaterial } from "../../src/dev/index.js";
import { ConnectionError, type RedisCluster, type RedisClusterOptions } from "../../src/index.js";
import { countLogLines, difference, maxAttemptsWithin, pressFor } from "../helpers/attempts.js";
import { useClients } from "../helpers/client.js";
import { withDevCluster } from "../helpers/cluster.js";
import { keyInSlot } from "../helpers/keys.js";
import { commandCalls } from "../helpers/node-stats.js";
import { waitFor } from "../helpers/wait.js";

const clients = useClients();

/** How a failing client is set up: short budgets, so that failures come soon. */
const CONNECT_TIMEOUT_MS = 1000;
const COMMAND_TIMEOUT_MS = 1000;
/**
 * connect() asks up to three nodes at once, each bounded by connectTimeout; on a shared,
 * loaded machine a timer may fire late, hence the slack (still far below a hang).
 */
const SCHEDULING_SLACK_MS = 1000;
/** How long a refused client is kept busy while its connection attempts are counted. */
const PRESS_WINDOW_MS = 2000;
/** What redis.log says for each refused TLS connection. */
const REFUSED_CONNECTION = /Error accepting a client connection/;

function primaries(dev: DevCluster): DevNode[] {
  return dev.nodes.filter((node) => node.role === "primary");
}

/** A key of each primary, so that one command of each reaches every node. */
function keyPerPrimary(dev: DevCluster, suffix: string): string[] {
  return primaries(dev).map((node) => keyInSlot(node.slots[0]![0], suffix));
}

function tlsOf(material: DevTlsMaterial, withClientCertificate: boolean) {
  return withClientCertificate
    ? { ca: material.ca, cert: material.cert, key: material.key }
    : { ca: material.ca };
}

/**
 * Expects connect() to fail with one ConnectionError within connectTimeout (+ slack), whose
 * message matches `says`; returns it.
 */
async function expectRefused(client: RedisCluster, says: RegExp): Promise<ConnectionError> {
  const startedAt = performance.now();
  const error = await client.connect().then(
    () => undefined,
    (caught: unknown) => caught,
  );
  const elapsedMs = performance.now() - startedAt;
  expect(error).toBeInstanceOf(ConnectionError);
  expect((error as Error).message).toMatch(says);
  expect(elapsedMs).toBeLessThan(CONNECT_TIMEOUT_MS + SCHEDULING_SLACK_MS);
  return error as ConnectionError;
}

/**
 * Keeps a refused client busy and checks, in the nodes' logs, that no node saw more refused
 * connections from it than the reconnect backoff allows (one connection per node).
 */
async function expectBackoff(dev: DevCluster, client: RedisCluster): Promise<void> {
  const before = countLogLines(dev, REFUSED_CONNECTION);
  const windowMs = await pressFor(client, PRESS_WINDOW_MS);
  // The last refusals may reach the log a moment after the client gave up; counting early
  // could only undercount, so wait until the counts stop moving instead.
  let settled = countLogLines(dev, REFUSED_CONNECTION);
  await waitFor("the refusals to be logged", 5_000, () => {
    const now = countLogLines(dev, REFUSED_CONNECTION);
    const same = [...now].every(([port, count]) => settled.get(port) === count);
    settled = now;
    return same;
  });
  const attempts = difference(before, settled);
  const allowed = maxAttemptsWithin(windowMs);
  for (const [port, count] of attempts) {
    expect(count, `refused connections on ${port} in ${Math.round(windowMs)} ms`).toBeLessThanOrEqual(
      allowed,
    );
  }
  // The client did try (the counting works): the seeds saw it.
  expect([...attempts.values()].some((count) => count > 0)).toBe(true);
}

describe("a TLS cluster", () => {
  // Nodes also announce `localhost` as their hostname (CLUSTER SHARDS' `hostname` field), while
  // their endpoint stays the IP address: what SNI is set from.
  const cluster = withDevCluster({
    primaries: 3,
    replicasPerPrimary: 1,
    tls: true,
    announce: { hostname: "localhost" },
  });

  function options(dev: DevCluster, extra: Partial<RedisClusterOptions> = {}): RedisClusterOptions {
    return { nodes: dev.seeds, tls: tlsOf(dev.tls!, false), ...extra };
  }

  it("has no plain-text port: every reply below came over TLS", async () => {
    const dev = cluster();
    for (const node of dev.nodes) {
      expect(await dev.command(node.port, "CONFIG", "GET", "port")).toEqual(["port", "0"]);
      expect(await dev.command(node.port, "CONFIG", "GET", "tls-port")).toEqual([
        "tls-port",
        String(node.port),
      ]);
    }
  });

  it("serves single-key commands, cross-slot MGET/MSET and a pipeline across every primary", async () => {
    const dev = cluster();
    const client = clients.create(options(dev));
    const keys = keyPerPrimary(dev, "tls-basic");
    expect(await client.set(keys[0]!, "one")).toBe("OK");
    expect(await client.get(keys[0]!)).toBe("one");
    await client.mset(Object.fromEntries(keys.map((key, i) => [key, `v${i}`])));
    expect(await client.mget(...keys)).toEqual(["v0", "v1", "v2"]);
    const pipeline = client.pipeline();
    for (const key of keys) pipeline.incr(`${key}:n`);
    for (const key of keys) pipeline.get(key);
    expect(await pipeline.exec()).toEqual([1, 1, 1, "v0", "v1", "v2"]);
    // Topology from CLUSTER SHARDS' tls-port: the client knows every node by its TLS port.
    expect(
      client
        .nodes("all")
        .map((node) => node.address)
        .sort(),
    ).toEqual(dev.nodes.map((node) => node.address).sort());
    expect(await client.del(...keys, ...keys.map((key) => `${key}:n`))).toBe(6);
  });

  it("reads from replicas over TLS (readFrom: replica)", async () => {
    const dev = cluster();
    const client = clients.create(options(dev, { readFrom: "replica" }));
    const [key] = keyPerPrimary(dev, "tls-replica");
    const [owner] = primaries(dev);
    const replica = dev.nodes.find((node) => node.primaryId === owner!.id)!;
    await client.set(key!, "replicated");
    const getsBefore = await commandCalls(dev, replica.port, "get");
    // The replica may not have the write yet: read until it has, each read going to the replica.
    await waitFor(
      "the replica to serve the value",
      10_000,
      async () => (await client.get(key!)) === "replicated",
    );
    expect(await commandCalls(dev, replica.port, "get")).toBeGreaterThan(getsBefore);
    await client.del(key!);
  });

  it("follows MOVED to the new owner of a slot after a reshard", async () => {
    const dev = cluster();
    const client = clients.create(options(dev, { refreshInterval: 0 }));
    const [source, target] = primaries(dev);
    const slot = source!.slots[0]![0] + 7;
    const key = keyInSlot(slot, "tls-moved");
    await client.set(key, "before");
    const moved: Array<{ slot: number; to: string }> = [];
    client.on("moved", (event: { slot: number; to: string }) => moved.push(event));
    await dev.migrateSlots(source!.port, target!.port, [slot]);
    try {
      expect(await client.get(key)).toBe("before");
      expect(await client.set(key, "after")).toBe("OK");
      expect(moved).toContainEqual(expect.objectContaining({ slot, to: target!.address }));
      expect(await dev.command(target!.port, "GET", key)).toBe("after");
    } finally {
      await dev.migrateSlots(target!.port, source!.port, [slot]);
    }
    expect(await client.get(key)).toBe("after");
    await client.del(key);
  });

  it("sets SNI to the node's hostname from CLUSTER SHARDS, and never to an IP address", async () => {
    const dev = cluster();
    // Node checks the certificate against the server name it sent (SNI) or, without one,
    // against the host: what this hook is called with tells which one was used.
    const checkedNames: string[] = [];
    const warnings: string[] = [];
    const onWarning = (warning: Error & { code?: string }) => warnings.push(warning.code ?? warning.message);
    process.on("warning", onWarning);
    try {
      const [seed, ...others] = primaries(dev);
      const client = clients.create({
        nodes: [seed!.address],
        tls: {
          ca: dev.tls!.ca,
          checkServerIdentity: (name: string, certificate: PeerCertificate) => {
            checkedNames.push(name);
            return checkServerIdentity(name, certificate);
          },
        },
      });
      await client.connect();
      // The seed was reached by IP before anything was known of it: no SNI, checked by IP.
      expect(checkedNames).toEqual(["127.0.0.1"]);
      // Nodes learnt from CLUSTER SHARDS (hostname "localhost") are connected with SNI.
      for (const node of others) await client.get(keyInSlot(node.slots[0]![0], "sni"));
      expect(checkedNames.slice(1)).toEqual(others.map(() => "localhost"));
    } finally {
      process.off("warning", onWarning);
    }
    // DEP0123: "Setting the TLS ServerName to an IP address is not permitted".
    expect(warnings).not.toContain("DEP0123");
  });

  it("speaks RESP3 over TLS too (HELLO 3), topology included", async () => {
    const dev = cluster();
    const client = clients.create({ ...options(dev), protocol: 3 });
    const [key] = keyPerPrimary(dev, "tls-resp3");
    await client.hset(key!, "field", "value");
    expect(await client.hgetall(key!)).toEqual({ field: "value" });
    await client.del(key!);
  });

  it("refuses a node whose certificate is not signed by the CA the client trusts", async () => {
    const dev = cluster();
    const other = dev.issueCertificate({ otherCa: true });
    const client = clients.create(
      options(dev, {
        tls: { ca: other.ca },
        connectTimeout: CONNECT_TIMEOUT_MS,
        commandTimeout: COMMAND_TIMEOUT_MS,
      }),
    );
    const error = await expectRefused(
      client,
      /not signed by a CA you trust: set tls\.ca.*SELF_SIGNED_CERT_IN_CHAIN/,
    );
    // A command fails the same way, once its budget is spent, and says the same.
    await expect(client.get("k")).rejects.toThrow(/SELF_SIGNED_CERT_IN_CHAIN/);
    // A permanent failure (no retry helps) is the refusing node's own error, with its address.
    expect(error.address).toMatch(/^127\.0\.0\.1:\d+$/);
  });

  it("refuses a node whose certificate has expired", async () => {
    const dev = cluster();
    const [node] = primaries(dev);
    const expired = dev.issueCertificate({ expired: true });
    const current = (await dev.command(node!.port, "CONFIG", "GET", "tls-*-file")) as string[];
    const restore = Object.entries(pairs(current)).filter(
      ([name]) => name === "tls-cert-file" || name === "tls-key-file",
    );
    await dev.command(
      node!.port,
      "CONFIG",
      "SET",
      "tls-cert-file",
      expired.certFile,
      "tls-key-file",
      expired.keyFile,
    );
    try {
      const client = clients.create(
        options(dev, {
          nodes: [node!.address],
          connectTimeout: CONNECT_TIMEOUT_MS,
          commandTimeout: COMMAND_TIMEOUT_MS,
        }),
      );
      await expectRefused(client, /certificate has expired \(CERT_HAS_EXPIRED\)/);
    } finally {
      await dev.command(node!.port, "CONFIG", "SET", ...restore.flat());
    }
  });

  it("refuses a plain-text client on a TLS port with a hint, and backs off", async () => {
    const dev = cluster();
    const client = clients.create({
      nodes: primaries(dev).map((node) => node.address),
      connectTimeout: CONNECT_TIMEOUT_MS,
      commandTimeout: COMMAND_TIMEOUT_MS,
    });
    await expectRefused(client, /before it answered anything \(a TLS port\? then set the tls option\)/);
    await expectBackoff(dev, client);
  });
});

describe("a mutual-TLS cluster", () => {
  const cluster = withDevCluster({ primaries: 3, replicasPerPrimary: 0, tls: { mutual: true } });

  function refusedClient(dev: DevCluster, tls: RedisClusterOptions["tls"]): RedisCluster {
    return clients.create({
      nodes: dev.seeds,
      tls,
      connectTimeout: CONNECT_TIMEOUT_MS,
      commandTimeout: COMMAND_TIMEOUT_MS,
    });
  }

  it("serves a client that presents a certificate of the cluster's CA", async () => {
    const dev = cluster();
    expect(await dev.command(dev.nodes[0]!.port, "CONFIG", "GET", "tls-auth-clients")).toEqual([
      "tls-auth-clients",
      "yes",
    ]);
    const client = clients.create({ nodes: dev.seeds, tls: tlsOf(dev.tls!, true) });
    const keys = keyPerPrimary(dev, "mtls");
    await client.mset(Object.fromEntries(keys.map((key) => [key, "1"])));
    expect(await client.mget(...keys)).toEqual(["1", "1", "1"]);
    expect(await client.del(...keys)).toBe(3);
  });

  it("refuses a client without a certificate, says so, and backs off", async () => {
    const dev = cluster();
    const client = refusedClient(dev, tlsOf(dev.tls!, false));
    await expectRefused(client, /requires a client certificate \(mutual TLS\): set tls\.cert and tls\.key/);
    await expectBackoff(dev, client);
  });

  it("refuses an expired client certificate", async () => {
    const dev = cluster();
    const expired = dev.issueCertificate({ expired: true });
    const client = refusedClient(dev, { ca: dev.tls!.ca, cert: expired.cert, key: expired.key });
    await expectRefused(client, /refused the client certificate: it has expired/);
  });

  it("refuses a client certificate from another CA", async () => {
    const dev = cluster();
    const other = dev.issueCertificate({ otherCa: true });
    const client = refusedClient(dev, { ca: dev.tls!.ca, cert: other.cert, key: other.key });
    await expectRefused(client, /does not trust the CA of the client certificate/);
  });
});

function pairs(flat: readonly string[]): Record<string, string> {
  const record: Record<string, string> = {};
  for (let i = 0; i + 1 < flat.length; i += 2) record[flat[i]!] = flat[i + 1]!;
  return record;
}
