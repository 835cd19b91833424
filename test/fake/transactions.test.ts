/**
 * What a transaction does when the connection or the server misbehaves at a precise moment
 * — against a scripted node that queues like Redis, for the cases a real cluster will not
 * produce on demand: the connection lost right after EXEC left (may have run: not resent),
 * lost before it could be written (resent, runs once), MULTI itself refused, an EXEC reply
 * of the wrong shape, a WATCH session's transaction redirected.
 */
import { afterEach, describe, expect, it } from "vitest";
import { keySlot } from "../../src/command/slot.js";
import {
  ClosedError,
  ConnectionError,
  ProtocolError,
  RedisCluster,
  type RedisClusterOptions,
  ReplyError,
} from "../../src/index.js";
import { watchEscapes } from "../helpers/escapes.js";
import { raw } from "../helpers/reply-encoder.js";
import {
  type Action,
  close,
  closeAllFakes,
  error,
  FakeCluster,
  type FakeConnection,
  type FakeServer,
  OK,
  type ReceivedCommand,
} from "./resp-server.js";

const unhandled = watchEscapes();
const clients: RedisCluster[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await closeAllFakes();
  expect(unhandled.splice(0), "unhandled rejections").toEqual([]);
});

function client(nodes: string[], options: Omit<RedisClusterOptions, "nodes"> = {}): RedisCluster {
  const cluster = new RedisCluster({ nodes, refreshInterval: 0, commandTimeout: 2000, ...options });
  clients.push(cluster);
  return cluster;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    const value = await promise;
    throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
  } catch (error) {
    return error as Error;
  }
}

/**
 * Makes `node` queue INCR/GET between MULTI and EXEC like Redis (per connection), applying
 * them to its store at EXEC. `onExec` may replace EXEC's action (to close, say).
 */
function queueLikeRedis(node: FakeServer, onExec?: (command: ReceivedCommand) => Action | undefined): void {
  const queues = new WeakMap<FakeConnection, ReceivedCommand[]>();
  const run = (command: ReceivedCommand): Action => {
    const key = command.argv[0]!;
    const current = node.store.get(key);
    if (command.name === "GET") return current ?? null;
    const next = Number(current?.toString() ?? "0") + 1;
    node.store.set(key, Buffer.from(String(next)));
    return next;
  };
  node.handle("MULTI", (command) => {
    queues.set(command.connection, []);
    return OK;
  });
  for (const name of ["INCR", "GET"]) {
    node.handle(name, (command) => {
      const queue = queues.get(command.connection);
      if (queue === undefined) return run(command);
      queue.push(command);
      return raw("+QUEUED\r\n");
    });
  }
  node.handle("EXEC", (command) => {
    const replaced = onExec?.(command);
    if (replaced !== undefined) return replaced;
    const queue = queues.get(command.connection) ?? [];
    queues.delete(command.connection);
    return queue.map(run);
  });
}

async function oneNode(options: Omit<RedisClusterOptions, "nodes"> = {}) {
  const cluster = await FakeCluster.start(1);
  cluster.routing = false; // one node owns every slot; the handlers decide
  const node = cluster.nodes[0]!;
  const redis = client(cluster.seeds, options);
  await redis.connect();
  return { cluster, node, redis };
}

describe("a transaction and its connection", () => {
  it("lost after EXEC was written: ConnectionError with outcomeUnknown, and it is not sent again", async () => {
    const { node, redis } = await oneNode();
    queueLikeRedis(node, () => close());
    const error = await rejection(redis.multi().incr("{a}n").incr("{a}m").exec());
    expect(error).toBeInstanceOf(ConnectionError);
    expect((error as ConnectionError).outcomeUnknown).toBe(true);
    expect(node.count("EXEC")).toBe(1);
    // The client goes on: the next transaction runs (on a new connection), once.
    queueLikeRedis(node);
    expect(await redis.multi().incr("{a}n").exec()).toEqual([1]);
    expect(node.count("EXEC")).toBe(2);
  });

  it("a connection that could not take it (lost just before): resent, and it runs once", async () => {
    const { node, redis } = await oneNode();
    queueLikeRedis(node);
    node.handle("APPEND", close()); // not retried: its outcome is unknown
    // The node drops the connection; a transaction issued at that moment is refused by the
    // connection (its reconnect back-off: nothing written) and retried by the executor.
    let retriesBefore = 0;
    const issued = new Promise<Promise<unknown>>((resolve) =>
      redis.once("nodeError", () => {
        retriesBefore = redis.stats().retries;
        resolve(redis.multi().incr("{a}n").incr("{a}n").exec());
      }),
    );
    expect(await rejection(redis.append("{a}x", "y"))).toBeInstanceOf(ConnectionError);
    expect(await await issued).toEqual([1, 2]);
    expect(redis.stats().retries).toBeGreaterThan(retriesBefore); // refused once or more, never written
    expect(node.count("MULTI")).toBe(1);
    expect(node.count("EXEC")).toBe(1);
  });

  it("with retryUnsafeWrites, a transaction lost after EXEC is sent again (at least once)", async () => {
    const { node, redis } = await oneNode({ retryUnsafeWrites: true });
    let execs = 0;
    queueLikeRedis(node, () => (++execs === 1 ? close() : undefined));
    expect(await redis.multi().incr("{a}n").exec()).toEqual([1]);
    expect(node.count("EXEC")).toBe(2);
  });

  it("a transaction that only reads is resent after losing its connection, whatever retryUnsafeWrites says", async () => {
    const { node, redis } = await oneNode();
    let execs = 0;
    queueLikeRedis(node, () => (++execs === 1 ? close() : undefined));
    node.store.set("{a}k", Buffer.from("v"));
    expect(await redis.multi().get("{a}k").get("{a}k").exec()).toEqual(["v", "v"]);
    expect(node.count("EXEC")).toBe(2);
  });
});

describe("odd answers", () => {
  it("MULTI itself refused (an ACL user without +multi): rejects with that error, named MULTI", async () => {
    const { node, redis } = await oneNode();
    queueLikeRedis(node);
    node.handle("MULTI", error("NOPERM this user has no permissions to run the 'multi' command"));
    const refused = await rejection(redis.multi().incr("{a}n").exec());
    expect(refused).toBeInstanceOf(ReplyError);
    expect((refused as ReplyError).code).toBe("NOPERM");
    expect((refused as ReplyError).command).toBe("MULTI");
  });

  it("an EXEC reply that does not match the queued commands is a ProtocolError, not a wrong result", async () => {
    const { node, redis } = await oneNode();
    queueLikeRedis(node, () => [1, 2, 3]);
    expect(await rejection(redis.multi().incr("{a}n").exec())).toBeInstanceOf(ProtocolError);
  });

  it("a WATCH session whose queued command is redirected: exec() resolves null, nothing is resent elsewhere", async () => {
    const cluster = await FakeCluster.start(2);
    cluster.routing = false;
    const [a, b] = cluster.nodes as [FakeServer, FakeServer];
    const key = "{w}counter";
    cluster.assign(0, 16383, 0); // a owns every slot, as the client first learns it
    const redis = client(cluster.seeds);
    await redis.connect();
    for (const node of [a, b]) node.handle("WATCH", OK);
    queueLikeRedis(a, () => error("EXECABORT Transaction discarded because of previous errors."));
    queueLikeRedis(b);
    // The slot moves to b while the session watches on a: a refuses to queue.
    a.handle("INCR", (command) =>
      command.previous?.name === "MULTI" ? error(`MOVED ${keySlot(key)} ${b.address}`) : 1,
    );
    const outcome = await redis.watch(key, async (tx) => tx.multi().incr(key).exec());
    expect(outcome).toBeNull();
    expect(a.count("EXEC")).toBe(1);
    expect(b.count("MULTI")).toBe(0);
  });

  it("a session command still waiting for a retry when the callback returns: the connection is closed, not handed to another session", async () => {
    const { node, redis } = await oneNode();
    node.handle("WATCH", OK);
    node.handle("UNWATCH", OK);
    // The read is refused once (a replica loading): it waits for its retry, out of the
    // connection's queues, when the callback returns without awaiting it.
    let gets = 0;
    node.handle("GET", () => (++gets === 1 ? error("LOADING Redis is loading the dataset in memory") : "v"));
    let late: Promise<unknown> | undefined;
    const retriesBefore = redis.stats().retries;
    await redis.watch("{a}k", async (tx) => {
      late = tx.get("{a}k").catch((e: unknown) => e);
      // Return as soon as the refusal is in and the retry scheduled (it waits ≥ 10 ms).
      while (redis.stats().retries === retriesBefore) await new Promise((resolve) => setImmediate(resolve));
    });
    expect(await late).toBeInstanceOf(ClosedError);
    // It never went out again, on any connection (another session's, say).
    expect(gets).toBe(1);
    expect(node.count("UNWATCH")).toBe(0);
  });
});
