/**
 * The diagnostics_channel channels (src/observe/channels.ts) on the shared real cluster:
 * one `rediscluster:command` trace per command sent to a node, its events in
 * `tracePromise` order, its context naming the node, slot, attempts and redirections and
 * never an argument or a reply; `rediscluster:connect` and the connection channels for each
 * socket; `rediscluster:topology` for the first topology.
 */
import { beforeAll, describe, expect, it } from "vitest";
import { keySlot } from "../../src/command/slot.js";
import type { DevCluster, DevNode } from "../../src/dev/index.js";
import { ArgumentError, CHANNELS, ReplyError } from "../../src/index.js";
import { useClients } from "../helpers/client.js";
import { sharedDevCluster } from "../helpers/cluster.js";
import { keyInSlot } from "../helpers/keys.js";
import { recordChannel, recordTracing, traces } from "../helpers/tracing.js";

let dev: DevCluster;
beforeAll(async () => {
  dev = await sharedDevCluster();
});
const clients = useClients();

/** Argument and reply values the tests use: none may show in any published context. */
const SECRET_KEY = "trace-key-5a1f";
const SECRET_VALUE = "trace-value-c93e";

function ownerOf(slot: number): DevNode {
  const owner = dev.nodes.find(
    (node) => node.role === "primary" && node.slots.some(([start, end]) => slot >= start && slot <= end),
  );
  if (owner === undefined) throw new Error(`no primary serves slot ${slot}`);
  return owner;
}

function expectNoValues(what: string, value: unknown): void {
  const text = JSON.stringify(value);
  expect(text.includes(SECRET_KEY), `${what} shows a key`).toBe(false);
  expect(text.includes(SECRET_VALUE), `${what} shows a value`).toBe(false);
}

describe("rediscluster:command", () => {
  it("traces a command: start, end, asyncStart, asyncEnd; node, slot, attempts; no key, no value", async () => {
    const client = clients.create({ nodes: dev.seeds });
    await client.connect();
    const recorded = recordTracing(CHANNELS.command);
    expect(await client.set(SECRET_KEY, SECRET_VALUE)).toBe("OK");
    expect(await client.get(SECRET_KEY)).toBe(SECRET_VALUE);
    await client.del(SECRET_KEY);

    const [set, get] = traces(recorded);
    const owner = ownerOf(keySlot(SECRET_KEY));
    for (const [trace, command] of [
      [set, "SET"],
      [get, "GET"],
    ] as const) {
      expect(trace!.map(({ event }) => event)).toEqual(["start", "end", "asyncStart", "asyncEnd"]);
      const last = trace!.at(-1)!.snapshot;
      expect(last).toMatchObject({
        command,
        database: 0,
        serverAddress: owner.host,
        serverPort: owner.port,
        slot: keySlot(SECRET_KEY),
        attempts: 1,
        redirections: 0,
      });
      expect(last).not.toHaveProperty("args");
      expect(last).not.toHaveProperty("result");
      // At start the command is not routed yet; by end (its dispatch returned) it was sent.
      expect(trace![0]!.snapshot.serverAddress).toBeUndefined();
      expect(trace![1]!.snapshot.serverPort).toBe(owner.port);
    }
    expectNoValues("the command contexts", recorded);
  });

  it("a failed command publishes error (the ReplyError, never its arguments) before asyncStart", async () => {
    const client = clients.create({ nodes: dev.seeds });
    await client.set(SECRET_KEY, SECRET_VALUE);
    const recorded = recordTracing(CHANNELS.command);
    const failure = await client.hget(SECRET_KEY, "field").catch((caught: unknown) => caught);
    await client.del(SECRET_KEY);
    expect(failure).toBeInstanceOf(ReplyError);
    const [hget] = traces(recorded);
    expect(hget!.map(({ event }) => event)).toEqual(["start", "end", "error", "asyncStart", "asyncEnd"]);
    expect(hget![2]!.snapshot.error).toBe(failure);
    expect((failure as ReplyError).code).toBe("WRONGTYPE");
    expectNoValues("the failed command's context", hget!.at(-1)!.snapshot);
  });

  it("a command refused during its dispatch still publishes end before its outcome", async () => {
    const client = clients.create({ nodes: dev.seeds });
    await client.connect();
    const recorded = recordTracing(CHANNELS.command);
    // MEMORY STATS is a per-node report: refused by the executor as it routes it.
    await expect(client.call("MEMORY", "STATS")).rejects.toThrow(ArgumentError);
    const [refused] = traces(recorded);
    expect(refused!.map(({ event }) => event)).toEqual(["start", "end", "error", "asyncStart", "asyncEnd"]);
    expect(refused![0]!.snapshot.command).toBe("MEMORY STATS");
  });

  it("a command redirected by MOVED is one trace: two attempts, one redirection, the new owner", async () => {
    const client = clients.create({ nodes: dev.seeds });
    const slot = 123;
    const key = keyInSlot(slot, "moved-trace");
    const source = ownerOf(slot);
    const target = dev.nodes.find((node) => node.role === "primary" && node.port !== source.port)!;
    await client.set(key, "1");
    await dev.migrateSlots(source.port, target.port, [slot]);
    try {
      const recorded = recordTracing(CHANNELS.command);
      expect(await client.get(key)).toBe("1");
      const [get] = traces(recorded);
      expect(get!.map(({ event }) => event)).toEqual(["start", "end", "asyncStart", "asyncEnd"]);
      expect(get!.at(-1)!.snapshot).toMatchObject({
        command: "GET",
        serverPort: target.port,
        attempts: 2,
        redirections: 1,
        slot,
      });
    } finally {
      await dev.migrateSlots(target.port, source.port, [slot]);
      await dev.refresh();
    }
    await client.del(key);
  });

  it("a pipeline is one batch trace and each of its commands a command trace under it; a fan-out one trace per node", async () => {
    const client = clients.create({ nodes: dev.seeds });
    await client.connect();
    const commands = recordTracing(CHANNELS.command);
    const batches = recordTracing(CHANNELS.batch);
    const keys = [0, 6000, 12000].map((slot) => keyInSlot(slot, "pipe-trace"));
    await client.pipeline().set(keys[0]!, "a").set(keys[1]!, "b").set(keys[2]!, "c").exec();
    await client.dbsize();
    await client.del(...keys);

    const [pipeline, ...otherBatches] = traces(batches);
    expect(otherBatches).toEqual([]);
    expect(pipeline!.map(({ event }) => event)).toEqual(["start", "end", "asyncStart", "asyncEnd"]);
    expect(pipeline![0]!.snapshot).toMatchObject({ batchMode: "PIPELINE", batchSize: 3, database: 0 });
    const [a, b, c, ...rest] = traces(commands);
    for (const [i, trace] of [a, b, c].entries()) {
      expect(trace!.map(({ event }) => event)).toEqual(["start", "end", "asyncStart", "asyncEnd"]);
      expect(trace!.at(-1)!.snapshot).toMatchObject({
        command: "SET",
        serverPort: ownerOf(keySlot(keys[i]!)).port,
        batchMode: "PIPELINE",
        batchSize: 3,
      });
      // Its parent: the pipeline's context, the same object the batch events carry.
      expect(trace![0]!.snapshot.batch).toBe(pipeline![0]!.context);
    }
    // The commands start inside the pipeline's start..end and settle before it does.
    const order = [...batches, ...commands].sort((x, y) => x.seq - y.seq);
    const pipelineStart = order.findIndex((entry) => entry.context === pipeline![0]!.context);
    const pipelineEnd = order.findIndex(
      (entry) => entry.context === pipeline![0]!.context && entry.event === "end",
    );
    const pipelineAsyncEnd = order.findIndex(
      (entry) => entry.context === pipeline![0]!.context && entry.event === "asyncEnd",
    );
    for (const trace of [a, b, c]) {
      const start = order.indexOf(trace![0]!);
      expect(start).toBeGreaterThan(pipelineStart);
      expect(start).toBeLessThan(pipelineEnd);
      expect(order.indexOf(trace!.at(-1)!)).toBeLessThan(pipelineAsyncEnd);
    }
    const dbsize = rest.map((trace) => trace.at(-1)!.snapshot).filter((trace) => trace.command === "DBSIZE");
    expect(dbsize.map((trace) => trace.serverPort).sort()).toEqual(
      dev.nodes
        .filter((node) => node.role === "primary")
        .map((node) => node.port)
        .sort(),
    );
    expectNoValues("the pipeline's contexts", [...batches, ...commands]);
  });

  it("a transaction is one MULTI batch trace on its node, not a command trace", async () => {
    const client = clients.create({ nodes: dev.seeds });
    await client.connect();
    const commands = recordTracing(CHANNELS.command);
    const batches = recordTracing(CHANNELS.batch);
    const tagged = keyInSlot(42, SECRET_KEY);
    expect(await client.multi().set(tagged, SECRET_VALUE).incr(`${tagged}:n`).exec()).toEqual(["OK", 1]);
    expect(commands).toEqual([]);
    const [tx] = traces(batches);
    expect(tx!.map(({ event }) => event)).toEqual(["start", "end", "asyncStart", "asyncEnd"]);
    expect(tx!.at(-1)!.snapshot).toMatchObject({
      command: "MULTI",
      batchMode: "MULTI",
      batchSize: 2,
      slot: 42,
      serverPort: ownerOf(42).port,
      attempts: 1,
    });
    expectNoValues("the transaction's context", batches);
    // A transaction that fails (EXECABORT: a wrong arity queued) publishes error.
    const failed = await client
      .multi()
      .call("SET", tagged)
      .exec()
      .catch((caught: unknown) => caught);
    expect(failed).toBeInstanceOf(Error);
    const [, aborted] = traces(batches);
    expect(aborted!.map(({ event }) => event)).toEqual(["start", "end", "error", "asyncStart", "asyncEnd"]);
    expect(aborted!.at(-1)!.snapshot.error).toBe(failed);
    await client.del(tagged, `${tagged}:n`);
  });

  it("publishes nothing when nobody listens, and the same client traces once someone does", async () => {
    const client = clients.create({ nodes: dev.seeds });
    await client.get("untraced");
    const recorded = recordTracing(CHANNELS.command);
    await client.get("traced");
    expect(traces(recorded).map((trace) => trace.at(-1)!.snapshot.command)).toEqual(["GET"]);
  });
});

describe("connection and topology channels", () => {
  it("traces each socket's connect and reports ready, then closed when the client closes", async () => {
    const connects = recordTracing(CHANNELS.connect);
    const ready = recordChannel(CHANNELS.connectionReady);
    const closed = recordChannel(CHANNELS.connectionClosed);
    const topology = recordChannel(CHANNELS.topology);
    const client = clients.create({ nodes: [dev.seeds[0]!] });
    await client.set(SECRET_KEY, "1");
    await client.del(SECRET_KEY);
    const opened = traces(connects);
    expect(opened.length).toBeGreaterThan(0);
    for (const trace of opened) {
      expect(trace.map(({ event }) => event)).toEqual(["start", "end", "asyncStart", "asyncEnd"]);
      expect(trace[0]!.snapshot).toMatchObject({ tls: false, serverAddress: "127.0.0.1" });
    }
    expect(ready.length).toBe(opened.length);
    expect(topology).toEqual([
      expect.objectContaining({ initial: true, shards: 3, nodes: 6, nodesRemoved: [] }),
    ]);
    await client.close();
    expect(closed.length).toBe(ready.length);
    expect(closed.every((message) => (message as { reason: string }).reason === "closed")).toBe(true);
  });

  it("a connection refused: connect's error, connection:error, closed with reason error", async () => {
    const connects = recordTracing(CHANNELS.connect);
    const errors = recordChannel(CHANNELS.connectionError);
    const closed = recordChannel(CHANNELS.connectionClosed);
    // A port nobody listens on: a stopped node is the same to the client.
    const client = clients.create({ nodes: ["127.0.0.1:1"], connectTimeout: 500 });
    await expect(client.connect()).rejects.toThrow();
    const [attempt] = traces(connects);
    expect(attempt!.map(({ event }) => event)).toEqual(["start", "end", "error", "asyncStart", "asyncEnd"]);
    expect(errors[0]).toMatchObject({ address: "127.0.0.1:1", serverPort: 1 });
    expect(closed[0]).toMatchObject({ reason: "error", address: "127.0.0.1:1" });
  });
});
