/**
 * Hostile or broken servers (issue 17.2, 17.5, 17.8, 17.9, 9.10): addresses that are not
 * addresses (in CLUSTER SHARDS/SLOTS, MOVED, or from natMap), a reply of an expired command
 * that never ends, invalid or untrusted TLS, timers past their range, a flood of commands
 * for a node that does not answer. Every command ends in a typed error with bounded memory:
 * no hang, no crash, no unhandled rejection.
 */
import { execFileSync } from "node:child_process";
import { once } from "node:events";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createTlsServer, type Server as TlsServer } from "node:tls";
import { setFlagsFromString } from "node:v8";
import { runInNewContext } from "node:vm";
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from "vitest";
import { keySlot } from "../../src/command/slot.js";
import { Connection, EXPIRED_REPLY_MAX_BYTES } from "../../src/connection/connection.js";
import type { Sendable } from "../../src/connection/types.js";
import {
  ClusterDownError,
  ConnectionError,
  ProtocolError,
  RedisCluster,
  type RedisClusterError,
  type RedisClusterOptions,
  ReplyError,
  TimeoutError,
} from "../../src/index.js";
import type { RespValue } from "../../src/resp/types.js";
import { describeError, isTypedError } from "../helpers/client.js";
import { watchEscapes } from "../helpers/escapes.js";
import { waitFor } from "../helpers/wait.js";
import {
  closeAllFakes,
  clusterShardsReply,
  clusterSlotsReply,
  delayed,
  error,
  FakeCluster,
  type FakeConnection,
  type FakeServer,
  OK,
  STALL,
  startFakeServer,
} from "./resp-server.js";

const escaped = watchEscapes();
const clients: RedisCluster[] = [];
const connections: Connection[] = [];
afterEach(async () => {
  vi.restoreAllMocks();
  for (const client of clients.splice(0)) client.disconnect();
  for (const connection of connections.splice(0)) connection.destroy();
  await closeAllFakes();
  expect(escaped.splice(0), "unhandled rejections").toEqual([]);
});

function client(nodes: string[], options: Omit<RedisClusterOptions, "nodes"> = {}): RedisCluster {
  // Short deadlines: several tests wait for one (a slot nobody can serve).
  const cluster = new RedisCluster({ nodes, refreshInterval: 0, commandTimeout: 500, ...options });
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

/**
 * Settles `promise`, failing the test if it takes more than `boundMs` (a multiple of the
 * configured timeout: the command must settle by its deadline; this only turns a hang into
 * a failure instead of the test timeout).
 */
async function settledWithin<T>(promise: Promise<T>, boundMs: number): Promise<PromiseSettledResult<T>> {
  let timer: NodeJS.Timeout | undefined;
  const hung = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(`still pending after ${boundMs} ms`)), boundMs);
  });
  try {
    const [result] = await Promise.race([Promise.allSettled([promise]), hung]);
    return result;
  } finally {
    clearTimeout(timer);
  }
}

/** A key whose slot `node` owns in `cluster`. */
function keyOn(cluster: FakeCluster, node: FakeServer, prefix = "key"): string {
  for (let i = 0; ; i++) {
    const key = `${prefix}:${i}`;
    if (cluster.ownerOf(keySlot(key)) === node) return key;
  }
}

// ── addresses that are not addresses (17.2) ─────────────────────────────────────────────

describe("invalid addresses from the server or natMap never reach net.connect", () => {
  it.each([
    ["port 70000", 70000],
    ["port -1", -1],
    ["port 0", 0],
  ])(
    "CLUSTER SHARDS announcing %s: that node is skipped, ready is emitted, every command settles typed",
    async (_name, port) => {
      const cluster = await FakeCluster.start(2);
      const [a, b] = cluster.nodes as [FakeServer, FakeServer];
      cluster.info.get(b)!.port = port;
      const redis = client([a.address]);
      let ready = false;
      redis.on("ready", () => {
        ready = true;
      });
      const onA = keyOn(cluster, a);
      const onB = keyOn(cluster, b);
      a.store.set(onA, Buffer.from("v"));
      const [good, bad] = await Promise.all([
        settledWithin(redis.get(onA), 3000),
        settledWithin(redis.get(onB), 3000),
      ]);
      expect(good).toEqual({ status: "fulfilled", value: "v" });
      expect(bad.status).toBe("rejected");
      const failure = (bad as PromiseRejectedResult).reason;
      expect(isTypedError(failure), describeError(failure)).toBe(true);
      expect(failure).toBeInstanceOf(ClusterDownError);
      expect(ready).toBe(true);
      expect(redis.topology!.nodes.has(a.address)).toBe(true);
      expect([...redis.topology!.nodes.keys()].some((address) => address.endsWith(`:${port}`))).toBe(false);
    },
  );

  it("CLUSTER SLOTS with a port of 99999 or a host with spaces: those nodes skipped, the rest kept", async () => {
    const cluster = await FakeCluster.start(3);
    const [a, b, c] = cluster.nodes as [FakeServer, FakeServer, FakeServer];
    a.handle("CLUSTER SHARDS", error("ERR unknown subcommand 'SHARDS'"));
    const shards = cluster.shards();
    shards[1]!.nodes[0] = { ...shards[1]!.nodes[0]!, port: 99999 };
    shards[2]!.nodes[0] = { ...shards[2]!.nodes[0]!, endpoint: "evil host\r\n" };
    a.handle("CLUSTER SLOTS", clusterSlotsReply(shards));
    const redis = client([a.address]);
    const onA = keyOn(cluster, a);
    a.store.set(onA, Buffer.from("v"));
    expect(await redis.get(onA)).toBe("v");
    expect([...redis.topology!.nodes.keys()]).toEqual([a.address]);
    for (const node of [b, c]) {
      const failure = await rejection(redis.get(keyOn(cluster, node)));
      expect(failure).toBeInstanceOf(ClusterDownError);
    }
  });

  it("a replica with an invalid port is skipped; its primary still serves", async () => {
    const cluster = await FakeCluster.start(1);
    const [a] = cluster.nodes as [FakeServer];
    const replica = {
      id: "f".repeat(40),
      port: 123456,
      endpoint: "127.0.0.1",
      ip: "127.0.0.1",
      role: "replica" as const,
    };
    a.handle("CLUSTER SHARDS", () =>
      clusterShardsReply(cluster.shards().map((shard) => ({ ...shard, nodes: [...shard.nodes, replica] }))),
    );
    const redis = client(cluster.seeds, { readFrom: "replica" });
    expect(await redis.set("k", "v")).toBe("OK");
    expect(await redis.get("k")).toBe("v");
    expect(redis.topology!.nodes.size).toBe(1);
  });

  it.each([
    ["returns port 70000", (host: string) => ({ host, port: 70000 })],
    ["returns an empty host", (_host: string, port: number) => ({ host: "", port })],
    ["returns a string", () => "127.0.0.1:7000" as never],
    [
      "throws",
      () => {
        throw new Error("natMap bug");
      },
    ],
  ])("a natMap function that %s: that node is unusable, commands settle typed", async (_name, natMap) => {
    const cluster = await FakeCluster.start(2);
    const [a, b] = cluster.nodes as [FakeServer, FakeServer];
    const redis = client([a.address], {
      natMap: (host, port) => (port === b.port ? natMap(host, port) : { host, port }),
    });
    const onA = keyOn(cluster, a);
    a.store.set(onA, Buffer.from("v"));
    expect(await redis.get(onA)).toBe("v");
    const bad = await settledWithin(redis.get(keyOn(cluster, b)), 3000);
    expect(bad.status).toBe("rejected");
    expect(isTypedError((bad as PromiseRejectedResult).reason)).toBe(true);
    expect(b.connections).toHaveLength(0);
  });

  it.each([
    ["port 70000", "127.0.0.1:70000"],
    ["a hex port", "127.0.0.1:0x1b58"],
    ["a port with a space", "127.0.0.1: 7000"],
    ["no port", "127.0.0.1"],
  ])(
    "MOVED to an address with %s: the command fails with that ReplyError at once, nothing followed",
    async (_name, target) => {
      const cluster = await FakeCluster.start(1);
      const [a] = cluster.nodes as [FakeServer];
      a.handle("GET", (command) => error(`MOVED ${keySlot(command.argv[0]!)} ${target}`));
      const redis = client(cluster.seeds, { commandTimeout: 5000 });
      const failure = await rejection(redis.get("k"));
      expect(failure).toBeInstanceOf(ReplyError);
      expect((failure as ReplyError).code).toBe("MOVED");
      expect(redis.stats().moved).toBe(0);
    },
  );

  it("a MOVED whose target natMap turns into an invalid address: typed error by the deadline, no throw", async () => {
    const cluster = await FakeCluster.start(1);
    const [a] = cluster.nodes as [FakeServer];
    a.handle("GET", (command) => error(`MOVED ${keySlot(command.argv[0]!)} 10.1.2.3:7000`));
    const redis = client(cluster.seeds, {
      natMap: (host, port) => (host === "10.1.2.3" ? { host, port: 70000 } : { host, port }),
    });
    const result = await settledWithin(redis.get("k"), 3000);
    expect(result.status).toBe("rejected");
    expect(isTypedError((result as PromiseRejectedResult).reason)).toBe(true);
  });

  it("a Connection to port 70000 fails its commands with ConnectionError instead of throwing", async () => {
    const connection = new Connection({ host: "127.0.0.1", port: 70000 });
    connections.push(connection);
    const failure = await rejection(connection.command("PING"));
    expect(failure).toBeInstanceOf(ConnectionError);
    expect(failure.message).toMatch(/not a valid address/);
  });
});

// ── TLS that cannot work (17.9) ─────────────────────────────────────────────────────────

describe("TLS misconfiguration fails fast with its cause", () => {
  it("invalid tls options (ca of the wrong type): ConnectionError with Node's error as cause, before the deadline", async () => {
    const fake = await startFakeServer();
    const redis = client([fake.address], { tls: { ca: 42 as never }, commandTimeout: 20_000 });
    const startedAt = performance.now();
    const failure = await rejection(redis.get("k"));
    expect(performance.now() - startedAt).toBeLessThan(20_000);
    expect(failure).toBeInstanceOf(ConnectionError);
    expect((failure.cause as NodeJS.ErrnoException).code).toBe("ERR_INVALID_ARG_TYPE");
    expect(fake.connections).toHaveLength(0);
  });

  describe("against a TLS server with a self-signed certificate", () => {
    let dir: string | undefined;
    let server: TlsServer | undefined;
    let port = 0;
    let otherCa = "";

    beforeAll(async () => {
      dir = mkdtempSync(join(tmpdir(), "rediscluster-tls-"));
      const cert = (name: string) => {
        execFileSync(
          "openssl",
          ["req", "-x509", "-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"]
            .concat(["-keyout", join(dir!, `${name}.key`), "-out", join(dir!, `${name}.pem`)])
            .concat(["-days", "1", "-subj", `/CN=${name}`]),
          { stdio: "ignore" },
        );
        return {
          key: readFileSync(join(dir!, `${name}.key`)),
          cert: readFileSync(join(dir!, `${name}.pem`)),
        };
      };
      const own = cert("localhost");
      otherCa = cert("other-ca").cert.toString();
      server = createTlsServer({ key: own.key, cert: own.cert }, (socket) => socket.on("error", () => {}));
      server.on("tlsClientError", () => {});
      server.listen(0, "127.0.0.1");
      await once(server, "listening");
      port = (server.address() as { port: number }).port;
    });

    afterAll(async () => {
      if (server) await new Promise((resolve) => server!.close(resolve));
      if (dir) rmSync(dir, { recursive: true, force: true });
    });

    it.each([
      ["the system CAs (tls: true)", () => true as const],
      ["another CA", () => ({ ca: otherCa })],
    ])(
      "trusting %s: ConnectionError naming the certificate, its cause kept, before the deadline",
      async (_name, tls) => {
        const redis = client([`127.0.0.1:${port}`], { tls: tls(), commandTimeout: 20_000 });
        const startedAt = performance.now();
        const failure = await rejection(redis.get("k"));
        expect(performance.now() - startedAt).toBeLessThan(20_000);
        expect(failure).toBeInstanceOf(ConnectionError);
        expect(failure.message).toMatch(/certificate/);
        expect((failure.cause as NodeJS.ErrnoException).code).toMatch(/CERT|SIGNED|ISSUER/);
      },
    );
  });
});

// ── the reply of an expired command (17.5) ──────────────────────────────────────────────

/** `*134217727` (just under the default aggregate limit): a reply that could go on for ages. */
const HUGE_ARRAY_HEADER = Buffer.from("*134217727\r\n");
/** 64 KiB of `:1\r\n` elements. */
const ELEMENTS = Buffer.from(":1\r\n".repeat(16 * 1024));

/** A fake answering GET with the huge array's header and `before` bytes of elements, then silence. */
async function hugeReplyServer(before: number) {
  const fake = await startFakeServer();
  let stream: FakeConnection | undefined;
  fake.handle("GET", (command) => {
    stream = command.connection;
    command.connection.send(HUGE_ARRAY_HEADER);
    for (let sent = 0; sent < before; sent += ELEMENTS.length) command.connection.send(ELEMENTS);
    return STALL;
  });
  return { fake, stream: () => stream! };
}

/** The heap after a full collection, when the test process lets us ask for one. */
function collectedHeapBytes(): number | undefined {
  try {
    setFlagsFromString("--expose-gc");
    const gc = runInNewContext("gc") as (() => void) | undefined;
    if (typeof gc !== "function") return undefined;
    gc();
    gc();
    return process.memoryUsage().heapUsed;
  } catch {
    return undefined;
  }
}

describe("the reply of an expired command is not accumulated (17.5)", () => {
  it("already past 1 MiB when the command expires: TimeoutError, and the connection is reset at once", async () => {
    const { fake } = await hugeReplyServer(2 * 1024 * 1024);
    const connection = new Connection({ host: fake.host, port: fake.port });
    connections.push(connection);
    const failure = await rejection(connection.request("GET", ["k"], { timeoutMs: 1000 }));
    expect(failure).toBeInstanceOf(TimeoutError);
    await waitFor("the connection to be reset", 2000, () => fake.connections[0]!.closed);
    expect(connection.bufferedReplyBytes).toBe(0);
  });

  it("still arriving after the deadline: read no further than 1 MiB (plus one socket read); heap back near where it was", async () => {
    const { fake, stream } = await hugeReplyServer(128 * 1024);
    const connection = new Connection({ host: fake.host, port: fake.port });
    connections.push(connection);
    await connection.command("PING");
    const heapBefore = collectedHeapBytes();
    const failure = await rejection(connection.request("GET", ["k"], { timeoutMs: 1000 }));
    expect(failure).toBeInstanceOf(TimeoutError);
    // Now the rest comes, fast: up to 64 MiB more, unless the client cuts it short.
    const socket = stream();
    let most = connection.bufferedReplyBytes;
    let sent = 0;
    while (!socket.closed && sent < 64 * 1024 * 1024) {
      socket.send(ELEMENTS);
      sent += ELEMENTS.length;
      most = Math.max(most, connection.bufferedReplyBytes);
      await new Promise((resolve) => setImmediate(resolve));
    }
    await waitFor("the connection to be reset", 5000, () => socket.closed);
    expect(most).toBeLessThanOrEqual(EXPIRED_REPLY_MAX_BYTES + 64 * 1024);
    expect(connection.bufferedReplyBytes).toBe(0);
    const heapAfter = collectedHeapBytes();
    // Without the reset, 64 MiB of elements would be an array of 16M numbers held (> 128 MB).
    if (heapBefore !== undefined && heapAfter !== undefined) {
      expect(heapAfter - heapBefore).toBeLessThan(32 * 1024 * 1024);
    }
  });

  it("through the cluster client: TimeoutError within commandTimeout, the node's connection reset", async () => {
    const cluster = await FakeCluster.start(1);
    const [a] = cluster.nodes as [FakeServer];
    a.handle("GET", (command) => {
      command.connection.send(HUGE_ARRAY_HEADER);
      for (let i = 0; i < 40; i++) command.connection.send(ELEMENTS); // 2.5 MiB
      return STALL;
    });
    const redis = client(cluster.seeds, { commandTimeout: 1000 });
    await redis.connect();
    const failure = await rejection(redis.get("k"));
    expect(failure).toBeInstanceOf(TimeoutError);
    await waitFor("the node connection to be reset", 3000, () =>
      a.connections.some(
        (connection) => connection.commands.some((c) => c.name === "GET") && connection.closed,
      ),
    );
  });

  it("maxReplyBytes bounds a reply that is still wanted: ProtocolError, the connection closed", async () => {
    const { fake } = await hugeReplyServer(4 * 1024 * 1024);
    const connection = new Connection({
      host: fake.host,
      port: fake.port,
      decoderLimits: { maxReplyBytes: 1024 * 1024 },
    });
    connections.push(connection);
    const failure = await rejection(connection.request("GET", ["k"], { timeoutMs: 10_000 }));
    expect(failure).toBeInstanceOf(ProtocolError);
    expect(failure.message).toMatch(/maxReplyBytes/);
    await waitFor("the connection to be closed", 2000, () => fake.connections[0]!.closed);
  });
});

// ── timers past their range (17.8) ──────────────────────────────────────────────────────

/** Every delay passed to setTimeout from now on. */
function watchTimerDelays(): number[] {
  const delays: number[] = [];
  const original = globalThis.setTimeout;
  vi.spyOn(globalThis, "setTimeout").mockImplementation(((callback: () => void, ms?: number) => {
    delays.push(ms ?? 0);
    return original(callback, ms);
  }) as typeof setTimeout);
  return delays;
}

const MAX_TIMER_MS = 2 ** 31 - 1;

describe("deadlines past the timer range (17.8)", () => {
  it("a connection's deadline timer is armed within range (and re-armed), never overflowing", async () => {
    const fake = await startFakeServer();
    fake.handle("GET", STALL);
    const connection = new Connection({ host: fake.host, port: fake.port });
    connections.push(connection);
    await connection.command("PING");
    const delays = watchTimerDelays();
    const pending = connection.request("GET", ["k"], { timeoutMs: 2 ** 31 + 60_000 });
    pending.catch(() => {});
    await waitFor("the GET to reach the server", 2000, () => fake.count("GET") === 1);
    expect(delays.length).toBeGreaterThan(0);
    expect(Math.max(...delays)).toBeLessThanOrEqual(MAX_TIMER_MS);
    connection.destroy();
    expect(await rejection(pending)).toBeInstanceOf(Error);
  });

  it("a blocking command waiting for the topology: the offline queue's timer stays within range", async () => {
    const fake = await startFakeServer();
    fake.handle("CLUSTER SHARDS", STALL);
    const redis = client([fake.address], { commandTimeout: 1000 });
    const delays = watchTimerDelays();
    const popped = redis.blpop("q", 3_000_000); // seconds: its deadline is ~3e9 ms away
    popped.catch(() => {});
    await waitFor("the topology query to be sent", 2000, () => fake.count("CLUSTER SHARDS") > 0);
    expect(redis.stats().offlineQueue).toBe(1);
    expect(Math.max(...delays)).toBeLessThanOrEqual(MAX_TIMER_MS);
    redis.disconnect();
    expect(await rejection(popped)).toBeInstanceOf(Error);
  });
});

// ── a node that does not keep up (9.10) ─────────────────────────────────────────────────

/** A Sendable recording how it ended. */
class Probe implements Sendable {
  readonly wantsBuffers = false;
  readonly deadlineAt = performance.now() + 10_000;
  readonly args = [];
  outcome: { kind: string; error?: RedisClusterError; written?: boolean; value?: RespValue } | undefined;
  constructor(readonly name: string) {}
  settle(value: RespValue): void {
    this.outcome ??= { kind: "settle", value };
  }
  fail(error: RedisClusterError, written: boolean): void {
    this.outcome ??= { kind: "fail", error, written };
  }
  expire(): void {
    this.outcome ??= { kind: "expire" };
  }
}

describe("commands waiting on one connection are bounded (9.10)", () => {
  it("past maxWaiting, a command fails at once, unsent, with ConnectionError; the waiting ones go later", async () => {
    const fake = await startFakeServer();
    fake.handle("AUTH", delayed(200, OK)); // connecting for a while: commands wait
    const connection = new Connection({ host: fake.host, port: fake.port, password: "pw", maxWaiting: 3 });
    connections.push(connection);
    const probes = Array.from({ length: 5 }, () => new Probe("PING"));
    for (const probe of probes) connection.send(probe);
    expect(connection.waitingCount).toBe(3);
    for (const probe of probes.slice(3)) {
      expect(probe.outcome?.kind).toBe("fail");
      expect(probe.outcome?.written).toBe(false);
      expect(probe.outcome?.error).toBeInstanceOf(ConnectionError);
      expect(probe.outcome?.error?.message).toMatch(/maxQueuedPerNode/);
    }
    await waitFor("the waiting commands to be answered", 2000, () =>
      probes.slice(0, 3).every((probe) => probe.outcome !== undefined),
    );
    for (const probe of probes.slice(0, 3)) expect(probe.outcome).toEqual({ kind: "settle", value: "PONG" });
  });

  it("through the cluster client (maxQueuedPerNode): a flood at a slow node ends in replies or typed errors", async () => {
    const cluster = await FakeCluster.start(1);
    const [a] = cluster.nodes as [FakeServer];
    const redis = client(cluster.seeds, { maxInFlight: 1, maxQueuedPerNode: 5, commandTimeout: 2000 });
    await redis.connect();
    const results = await Promise.allSettled(Array.from({ length: 50 }, (_, i) => redis.set(`k${i}`, "v")));
    for (const result of results) {
      if (result.status === "fulfilled") expect(result.value).toBe("OK");
      else expect(isTypedError(result.reason), describeError(result.reason)).toBe(true);
    }
    expect(a.connections.every((connection) => connection.maxOutstanding <= 1)).toBe(true);
  });
});
