/**
 * The two invariants that hold everywhere (issue 3): no input or failure produces an
 * unhandled rejection or an uncaught exception, and commands issued in some order on one
 * slot reach the server in that order whatever their kind. Plus: use after close(), and
 * seeds that do not answer.
 */
import { createServer, type Server, type Socket } from "node:net";
import { afterEach, beforeAll, describe, expect, it } from "vitest";
import type { DevCluster } from "../../src/dev/index.js";
import {
  ArgumentError,
  ClosedError,
  ConnectionError,
  CrossSlotError,
  type RedisCluster,
  ReplyError,
} from "../../src/index.js";
import { describeError, isTypedError, useClients } from "../helpers/client.js";
import { sharedDevCluster } from "../helpers/cluster.js";
import { watchEscapes } from "../helpers/escapes.js";
import { keyInSlot } from "../helpers/keys.js";

let cluster: DevCluster;
const clients = useClients();

beforeAll(async () => {
  cluster = await sharedDevCluster();
});

/** Everything that escapes to the process while a test runs. */
const escaped = watchEscapes();

/** Lets pending rejections surface: Node reports unhandled ones after the microtask queue drains. */
async function nextMacrotasks(count = 3): Promise<void> {
  for (let i = 0; i < count; i++) await new Promise<void>((resolve) => setImmediate(resolve));
}

/** A TCP port with nothing listening on it (taken from the OS, then released). */
async function closedPort(): Promise<number> {
  const server = createServer();
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const { port } = server.address() as { port: number };
  await new Promise<void>((resolve) => server.close(() => resolve()));
  return port;
}

describe("no unhandled rejection, no uncaught exception", () => {
  it('call("GET") without its key rejects with ArgumentError and nothing else happens', async () => {
    const client = clients.create({ nodes: cluster.seeds });
    const events: string[] = [];
    for (const event of ["error", "nodeError", "moved", "ask"] as const)
      client.on(event, () => events.push(event));
    await client.connect();
    const before = client.stats().commands;

    const error = await client.call("GET").catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ArgumentError);
    await nextMacrotasks();

    expect(escaped.map(describeError)).toEqual([]);
    expect(events).toEqual([]);
    expect(client.stats().commands).toBe(before); // nothing was sent
    expect(await client.ping()).toBe("PONG"); // and the client goes on
  });

  it("every malformed call rejects with a typed error, before or after connecting", async () => {
    const client = clients.create({ nodes: cluster.seeds });
    const attempts: Array<[string, () => Promise<unknown>]> = [
      ['call("")', () => client.call("")],
      ['call("GET", undefined)', () => client.call("GET", undefined as never)],
      ['call("SET", "k")', () => client.call("SET", "k")],
      ["get(null)", () => client.get(null as never)],
      ["get({})", () => client.get({} as never)],
      ["set(k, undefined)", () => client.set("k", undefined as never)],
      ["set(k, NaN)", () => client.set("k", Number.NaN)],
      ["set(k, [1])", () => client.set("k", [1] as never)],
      ["mget()", () => (client.mget as (...keys: string[]) => Promise<unknown>)()],
      ["mset()", () => (client.mset as (...args: string[]) => Promise<unknown>)()],
      ["msetnx cross-slot", () => client.msetnx("a", "1", "b", "2")],
      ["eval numkeys too big", () => client.eval("return 1", 5, "a")],
      ['call("NO-SUCH-COMMAND")', () => client.call("NO-SUCH-COMMAND", "x")],
      ["incr on a non-number", () => client.set("inv:str", "abc").then(() => client.incr("inv:str"))],
      ['call("GET", "a", "b")', () => client.call("GET", "a", "b")],
    ];
    for (const round of ["before connect", "after connect"]) {
      for (const [label, attempt] of attempts) {
        let error: unknown;
        try {
          await attempt();
        } catch (e) {
          error = e;
        }
        expect(isTypedError(error), `${round}, ${label}: ${describeError(error)}`).toBe(true);
      }
      await client.connect();
    }
    await client.del("inv:str");
    await nextMacrotasks();
    expect(escaped.map(describeError)).toEqual([]);
  });

  // Regression (bug D-1, fixed in ea5d33e): an odd MSET across slots was split into a valid
  // part that was written and a part with `undefined` as its value, which the encoder refused
  // and the executor then retried as if the connection had failed, until the deadline.
  it("MSET with a missing value across slots is an ArgumentError, and nothing is written", async () => {
    const commandTimeout = 1000;
    const client = clients.create({ nodes: cluster.seeds, commandTimeout });
    await client.connect();
    const [a, b] = [`odd-mset-a-${process.pid}`, `odd-mset-b-${process.pid}`];
    const retriesBefore = client.stats().retries;
    const startedAt = performance.now();
    const error = await client.mset(a, "1", b).catch((e: unknown) => e);
    const elapsedMs = performance.now() - startedAt;
    const retries = client.stats().retries - retriesBefore;
    const written = await client.exists(a, b);
    await client.del(a, b);
    // Refused before anything was sent: no retry, no write, well before the deadline (the bug
    // retried until it).
    expect({ error: describeError(error), retries, written }).toEqual({
      error: expect.stringMatching(/^ArgumentError: /),
      retries: 0,
      written: 0,
    });
    expect(elapsedMs).toBeLessThan(commandTimeout);
    expect(client.stats().connectionErrors).toBe(0);
  });

  it("ArgumentError and CrossSlotError are what the caller sees for their cases", async () => {
    const client = clients.create({ nodes: cluster.seeds });
    await expect(client.call("GET")).rejects.toBeInstanceOf(ArgumentError);
    await expect(client.get(undefined as never)).rejects.toBeInstanceOf(ArgumentError);
    await expect(client.rename("a", "b")).rejects.toBeInstanceOf(CrossSlotError);
    await expect(client.call("SET", "k")).rejects.toBeInstanceOf(ReplyError);
  });
});

describe("use after close()", () => {
  it("rejects every kind of call with ClosedError", async () => {
    const client = clients.create({ nodes: cluster.seeds });
    await client.set("closed:k", "v");
    const handle = client.nodes("primary")[0]!;
    await client.close();
    const attempts: Array<[string, () => Promise<unknown>]> = [
      ["get", () => client.get("closed:k")],
      ["set", () => client.set("closed:k", "w")],
      ["call", () => client.call("GET", "closed:k")],
      ["mget cross-slot", () => client.mget("a", "b", "c")],
      ["dbsize (fan-out)", () => client.dbsize()],
      [
        "pipeline",
        () => {
          const pipeline = client.pipeline();
          pipeline.get("a");
          pipeline.set("b", "1");
          return pipeline.exec();
        },
      ],
      ["connect", () => client.connect()],
      ["node handle", () => handle.call("PING")],
    ];
    for (const [label, attempt] of attempts) {
      const error = await attempt().catch((e: unknown) => e);
      expect(error, `${label}: ${describeError(error)}`).toBeInstanceOf(ClosedError);
    }
    await client.close(); // twice is fine
    await nextMacrotasks();
    expect(escaped.map(describeError)).toEqual([]);
  });

  it("lets the commands in flight finish when close() is called (graceful)", async () => {
    const client = clients.create({ nodes: cluster.seeds });
    await client.connect();
    const keys = Array.from({ length: 300 }, (_, i) => `closing:${i}`);
    const writes = keys.map((key) => client.set(key, "v"));
    const closing = client.close();
    const outcomes = await Promise.allSettled(writes);
    await closing;
    const failed = outcomes.filter((outcome) => outcome.status === "rejected");
    expect(failed.map((outcome) => describeError(outcome.reason))).toEqual([]);
    const check = clients.create({ nodes: cluster.seeds });
    expect(await check.exists(...keys)).toBe(keys.length);
    await check.del(...keys);
  });

  it("after disconnect(), pending and new commands reject with ClosedError", async () => {
    const client = clients.create({ nodes: cluster.seeds });
    await client.connect();
    const pending = Array.from({ length: 50 }, (_, i) => client.get(`disconnect:${i}`));
    client.disconnect();
    const outcomes = await Promise.allSettled(pending);
    for (const outcome of outcomes) {
      // Each either got its reply before the sockets went, or was failed with ClosedError.
      if (outcome.status === "rejected") expect(outcome.reason).toBeInstanceOf(ClosedError);
    }
    await expect(client.get("x")).rejects.toBeInstanceOf(ClosedError);
  });
});

describe("order on one slot", () => {
  /**
   * RPUSH of increasing numbers on one list, interleaved with commands of every other kind
   * touching it: a cross-slot DEL (split per slot) that empties it, a cross-slot MGET, a
   * single-slot multi-key command, keyless fan-outs, `call()`. All are issued in one go,
   * without awaiting; each RPUSH's reply (the list's length) and the final LRANGE show the
   * order in which the server ran them.
   */
  async function orderedRun(client: RedisCluster, label: string): Promise<void> {
    const slot = 4242;
    const list = keyInSlot(slot, `order-${label}-${process.pid}`);
    const sibling = keyInSlot(slot, `order-sibling-${label}-${process.pid}`);
    const elsewhere = keyInSlot(9000, `order-elsewhere-${label}-${process.pid}`);
    const pushes: Array<{ promise: Promise<unknown>; expectedLength: number }> = [];
    const others: Array<Promise<unknown>> = [];
    let length = 0;
    let expected: string[] = [];
    for (let i = 0; i < 600; i++) {
      if (i % 97 === 50) {
        others.push(client.del(list, elsewhere)); // split in two: one part on this slot
        length = 0;
        expected = [];
      } else if (i % 89 === 30) {
        others.push(client.mget(elsewhere, list, sibling)); // split too
      } else if (i % 83 === 20) {
        others.push(client.exists(list, sibling)); // one slot: not split
      } else if (i % 79 === 10) {
        others.push(client.dbsize()); // keyless, every primary
        others.push(client.ping());
      }
      const push = i % 5 === 0 ? client.call("RPUSH", list, String(i)) : client.rpush(list, String(i));
      length++;
      expected.push(String(i));
      pushes.push({ promise: push, expectedLength: length });
    }
    const lengths = await Promise.all(pushes.map((push) => push.promise));
    expect(lengths).toEqual(pushes.map((push) => push.expectedLength));
    await Promise.all(others);
    expect(await client.lrange(list, 0, -1)).toEqual(expected);
    await client.del(list, sibling, elsewhere);
  }

  it("holds on a connected client", async () => {
    const client = clients.create({ nodes: cluster.seeds });
    await client.connect();
    await orderedRun(client, "connected");
  });

  it("holds for commands issued before the first topology (offline queue)", async () => {
    const client = clients.create({ nodes: cluster.seeds });
    await orderedRun(client, "cold");
    expect(client.stats().queuedOffline).toBeGreaterThan(0);
  });

  it("holds without auto-pipelining", async () => {
    const client = clients.create({ nodes: cluster.seeds, autoPipelining: false });
    await orderedRun(client, "unpipelined");
  });
});

describe("seeds", () => {
  let silent: Server | undefined;
  const silentSockets = new Set<Socket>();
  afterEach(async () => {
    for (const socket of silentSockets) socket.destroy();
    silentSockets.clear();
    await new Promise<void>((resolve) => (silent ? silent.close(() => resolve()) : resolve()));
    silent = undefined;
  });

  it("connects through the others when the first seed is a closed port", async () => {
    const dead = await closedPort();
    // Seeds are tried in random order: several clients, so that the dead one comes first for some.
    for (let i = 0; i < 6; i++) {
      const client = clients.create({ nodes: [`127.0.0.1:${dead}`, ...cluster.seeds.slice(0, 2)] });
      await client.connect();
      expect(await client.set(`seed:${i}`, "v")).toBe("OK");
      expect(await client.get(`seed:${i}`)).toBe("v");
      expect(client.nodes("primary")).toHaveLength(3);
      await client.del(`seed:${i}`);
    }
  });

  it("connects quickly when a seed accepts connections but never answers", async () => {
    silent = createServer((socket) => silentSockets.add(socket));
    await new Promise<void>((resolve) => silent!.listen(0, "127.0.0.1", resolve));
    const { port } = silent.address() as { port: number };
    const commandTimeout = 5000;
    const client = clients.create({ nodes: [`127.0.0.1:${port}`, cluster.seeds[0]!], commandTimeout });
    const startedAt = performance.now();
    await client.connect();
    // One silent node of those asked at once does not hold the refresh to its timeout (the
    // commandTimeout, which bounds a topology query).
    expect(performance.now() - startedAt).toBeLessThan(commandTimeout);
    expect(await client.ping()).toBe("PONG");
  });

  it("rejects with ConnectionError naming the seeds when none is reachable", async () => {
    const ports = [await closedPort(), await closedPort()];
    const client = clients.create({
      nodes: ports.map((port) => `127.0.0.1:${port}`),
      connectTimeout: 500,
      commandTimeout: 1500,
    });
    const error = await client.connect().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ConnectionError);
    for (const port of ports) expect((error as Error).message).toContain(`127.0.0.1:${port}`);
    const startedAt = performance.now();
    const commandError = await client.get("k").catch((e: unknown) => e);
    expect(isTypedError(commandError), describeError(commandError)).toBe(true);
    expect(performance.now() - startedAt).toBeLessThan(1500 + 300);
    await nextMacrotasks();
    expect(escaped.map(describeError)).toEqual([]);
  });
});
