/**
 * Blocking calls through the client, on the real shared cluster: each runs on a pooled
 * dedicated connection of its node (bounded by maxBlockingConnections, reused), never on
 * the shared one; WAIT runs on the shared one, whose writes it waits for. Every blocking
 * command of Redis 7 that a queue or a stream consumer uses is woken by the write it waits
 * for; an AbortSignal (`withOptions({ signal })`) cuts one short by closing its connection.
 * (Through a failover: test/chaos/failover-scripts.test.ts.)
 */
import { describe, expect, it } from "vitest";
import { keySlot } from "../../src/command/slot.js";
import type { DevCluster } from "../../src/dev/index.js";
import { AbortError, ArgumentError, ClosedError, type RedisCluster, TimeoutError } from "../../src/index.js";
import { useClients } from "../helpers/client.js";
import { sharedDevCluster } from "../helpers/cluster.js";
import { waitFor } from "../helpers/wait.js";

const clients = useClients();

/** The port of the primary that serves `key`. */
async function primaryOf(dev: DevCluster, key: string): Promise<number> {
  const slot = keySlot(key);
  const nodes = await dev.refresh();
  return nodes.find((node) => node.role === "primary" && node.slots.some(([s, e]) => slot >= s && slot <= e))!
    .port;
}

/** Connections of the client named `name` on a node, as the node lists them. */
async function connectionsNamed(dev: DevCluster, port: number, name: string): Promise<number> {
  const list = String(await dev.command(port, "CLIENT", "LIST"));
  return list.split("\n").filter((line) => line.includes(` name=${name} `)).length;
}

/** Connections of the client named `name` blocked in `command` (BLPOP by default) on a node. */
async function blockedOn(dev: DevCluster, port: number, name: string, command = "blpop"): Promise<number> {
  const list = String(await dev.command(port, "CLIENT", "LIST"));
  return list
    .split("\n")
    .filter(
      (line) =>
        line.includes(` name=${name} `) && line.includes(` cmd=${command} `) && line.includes(" flags=b"),
    ).length;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    const value = await promise;
    throw new Error(`expected a rejection, got ${JSON.stringify(value)}`);
  } catch (error) {
    return error as Error;
  }
}

/** CLIENT LIST of one node, one record per connection. */
async function clientList(dev: DevCluster, port: number): Promise<Array<Map<string, string>>> {
  const text = String(await dev.command(port, "CLIENT", "LIST"));
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const fields = new Map<string, string>();
      for (const field of line.trim().split(" ")) {
        const equals = field.indexOf("=");
        fields.set(field.slice(0, equals), field.slice(equals + 1));
      }
      return fields;
    });
}

function open(
  dev: DevCluster,
  name: string,
  options: { maxBlockingConnections?: number } = {},
): RedisCluster {
  return clients.create({ nodes: dev.seeds, clientName: name, ...options });
}

describe("blocking calls on a real cluster", () => {
  it("50 BLPOPs blocking on a node do not delay a GET to it; each has a connection of its own", async () => {
    const stamp = `${process.pid}-${Date.now()}`;
    const tag = `{blocking-${stamp}}`;
    const dev = await sharedDevCluster();
    const port = await primaryOf(dev, tag);
    const clientName = `blocking-test-${stamp}`;
    const client = clients.create({ nodes: dev.seeds, clientName });
    await client.connect();
    await client.set(`${tag}:plain`, "answered");

    const events: string[] = [];
    const lists = Array.from({ length: 50 }, (_, i) => `${tag}:list:${i}`);
    const pops = lists.map((list, i) =>
      client.blpop(list, 5).then((value) => {
        events.push(`blpop ${i}`);
        return value;
      }),
    );
    // Every BLPOP is blocked at the server, each on a connection of its own.
    const ours = async () =>
      (await clientList(dev, port)).filter((connection) => connection.get("name") === clientName);
    await waitFor("50 BLPOPs blocked at the server", 10_000, async () => {
      const blocked = (await ours()).filter((connection) => connection.get("cmd") === "blpop");
      return blocked.length === 50;
    });
    const duringBlocking = await ours();
    expect(duringBlocking.filter((connection) => connection.get("flags")?.includes("b"))).toHaveLength(50);
    // 50 dedicated connections (within the default cap of 64) and the node's shared one.
    expect(duringBlocking).toHaveLength(51);

    const get = client.get(`${tag}:plain`).then((value) => {
      events.push("get");
      return value;
    });
    expect(await get).toBe("answered");
    expect(events).toEqual(["get"]);

    // Release them: each BLPOP gets the value pushed to its list.
    await Promise.all(lists.map((list, i) => client.lpush(list, `item-${i}`)));
    expect(await Promise.all(pops)).toEqual(lists.map((list, i) => [list, `item-${i}`]));
    expect(events[0]).toBe("get");
    expect(events).toHaveLength(51);
    // Answered, their connections wait idle for the next blocking calls, which reuse them.
    const again = lists.map((list) => client.blpop(list, 5));
    await waitFor("50 BLPOPs blocked again", 10_000, async () => {
      const blocked = (await ours()).filter((connection) => connection.get("cmd") === "blpop");
      return blocked.length === 50;
    });
    expect(await ours()).toHaveLength(51);
    await Promise.all(lists.map((list, i) => client.lpush(list, `again-${i}`)));
    expect(await Promise.all(again)).toEqual(lists.map((list, i) => [list, `again-${i}`]));
  });
  it("a BLPOP is woken by an LPUSH of the same client: the push does not wait behind it", async () => {
    const dev = await sharedDevCluster();
    const redis = open(dev, "wake");
    const queue = `blocking:wake:${Date.now()}`;
    const popped = redis.blpop(queue, 0);
    const port = await primaryOf(dev, queue);
    await waitFor("the BLPOP to block", 5000, async () => {
      const list = String(await dev.command(port, "CLIENT", "LIST"));
      return list.split("\n").some((line) => line.includes(" name=wake ") && line.includes(" cmd=blpop "));
    });
    expect(await redis.lpush(queue, "job")).toBe(1);
    expect(await popped).toEqual([queue, "job"]);
  });

  it("twenty concurrent BLPOPs with maxBlockingConnections 4 use at most 4 dedicated connections of the node", async () => {
    const dev = await sharedDevCluster();
    const redis = open(dev, "capped", { maxBlockingConnections: 4 });
    const queue = `blocking:capped:{${Date.now()}}`;
    const port = await primaryOf(dev, queue);
    await redis.get(queue); // the shared connection, so that it is counted below
    const pops = Array.from({ length: 20 }, () => redis.blpop(queue, 0));
    // Four block at the server; sixteen wait in line for one of their connections.
    await waitFor("four BLPOPs to block", 5000, async () => (await blockedOn(dev, port, "capped")) === 4);
    for (let i = 0; i < 5; i++) expect(await connectionsNamed(dev, port, "capped")).toBe(4 + 1);
    for (let i = 0; i < 20; i++) await redis.rpush(queue, `item${i}`);
    const results = await Promise.all(pops);
    expect(results.map((result) => (result as [string, string])[1]).sort()).toEqual(
      Array.from({ length: 20 }, (_, i) => `item${i}`).sort(),
    );
    expect(await connectionsNamed(dev, port, "capped")).toBeLessThanOrEqual(4 + 1);
  });

  it("a loop of blocking calls reuses its dedicated connection instead of opening one per call", async () => {
    const dev = await sharedDevCluster();
    const redis = open(dev, "looping");
    const queue = `blocking:loop:${Date.now()}`;
    const port = await primaryOf(dev, queue);
    await redis.blpop(queue, 0.01);
    const before = Number(
      /total_connections_received:(\d+)/.exec(String(await dev.command(port, "INFO", "stats")))![1],
    );
    for (let i = 0; i < 10; i++) expect(await redis.blpop(queue, 0.01)).toBeNull();
    const after = Number(
      /total_connections_received:(\d+)/.exec(String(await dev.command(port, "INFO", "stats")))![1],
    );
    // Our own INFO calls count once each; the ten BLPOPs add nothing.
    expect(after - before).toBeLessThanOrEqual(2);
  });

  it("XREAD BLOCK waits on a dedicated connection and answers the entry added after it", async () => {
    const dev = await sharedDevCluster();
    const redis = open(dev, "xread");
    const stream = `blocking:stream:${Date.now()}`;
    const read = redis.xread("BLOCK", 5000, "STREAMS", stream, "$");
    const port = await primaryOf(dev, stream);
    await waitFor("the XREAD to block", 5000, async () => {
      const list = String(await dev.command(port, "CLIENT", "LIST"));
      return list.split("\n").some((line) => line.includes(" name=xread ") && line.includes(" cmd=xread "));
    });
    const id = await redis.xadd(stream, "*", "field", "value");
    expect(await read).toEqual([[stream, [[id, ["field", "value"]]]]]);
  });

  it("WAIT answers how many replicas acknowledged this client's writes, from every primary", async () => {
    const dev = await sharedDevCluster();
    const redis = open(dev, "waiter");
    await redis.mset({ "wait:a": "1", "wait:b": "2", "wait:c": "3" });
    // One replica per primary in the shared cluster; WAIT takes the smallest count.
    expect(await redis.wait(1, 2000)).toBe(1);
    await expect(redis.wait(1, 0)).rejects.toBeInstanceOf(ArgumentError);
  });

  it("close() cuts short a BLPOP blocked for ever: it rejects with ClosedError, and close() ends", async () => {
    const dev = await sharedDevCluster();
    const redis = open(dev, "closing");
    const queue = `blocking:forever:${Date.now()}`;
    const popped = redis.blpop(queue, 0).catch((e: unknown) => e);
    const port = await primaryOf(dev, queue);
    await waitFor("the BLPOP to block", 5000, async () => {
      const list = String(await dev.command(port, "CLIENT", "LIST"));
      return list.split("\n").some((line) => line.includes(" name=closing ") && line.includes(" cmd=blpop "));
    });
    await redis.close();
    expect(await popped).toBeInstanceOf(ClosedError);
    // The server drops each connection once it reads its end, which may take a moment.
    await waitFor("the node to see every connection closed", 5000, async () => {
      return (await connectionsNamed(dev, port, "closing")) === 0;
    });
  });
});

describe("every blocking command of a queue or stream consumer", () => {
  /** Starts `call`, waits until it blocks at the key's node, then runs `wake` and returns both results. */
  async function blockThenWake<T>(
    name: string,
    key: string,
    command: string,
    call: (redis: RedisCluster) => Promise<T>,
    wake: (redis: RedisCluster) => Promise<unknown>,
  ): Promise<T> {
    const dev = await sharedDevCluster();
    const redis = open(dev, name);
    const port = await primaryOf(dev, key);
    const pending = call(redis);
    await waitFor(`${command} to block`, 5000, async () => (await blockedOn(dev, port, name, command)) === 1);
    await wake(redis);
    return pending;
  }

  const tag = () => `{blocking:${Date.now()}:${Math.random()}}`;

  it("BRPOP", async () => {
    const q = `${tag()}:q`;
    const popped = await blockThenWake(
      "brpop",
      q,
      "brpop",
      (r) => r.brpop(q, 5),
      (r) => r.lpush(q, "a", "b"),
    );
    expect(popped).toEqual([q, "a"]);
  });

  it("BLMOVE", async () => {
    const t = tag();
    const [from, to] = [`${t}:from`, `${t}:to`];
    let redis: RedisCluster | undefined;
    const moved = await blockThenWake(
      "blmove",
      from,
      "blmove",
      (r) => {
        redis = r;
        return r.blmove(from, to, "LEFT", "RIGHT", 5);
      },
      (r) => r.rpush(from, "job"),
    );
    expect(moved).toBe("job");
    expect(await redis!.lrange(to, 0, -1)).toEqual(["job"]);
  });

  it("BZPOPMIN", async () => {
    const z = `${tag()}:z`;
    const popped = await blockThenWake(
      "bzpopmin",
      z,
      "bzpopmin",
      (r) => r.bzpopmin(z, 5),
      (r) => r.zadd(z, 2, "b", 1, "a"),
    );
    expect(popped).toEqual([z, "a", "1"]);
  });

  it("BLMPOP", async () => {
    const t = tag();
    const [first, second] = [`${t}:1`, `${t}:2`];
    const popped = await blockThenWake(
      "blmpop",
      first,
      "blmpop",
      (r) => r.blmpop(5, 2, first, second, "LEFT", "COUNT", 2),
      (r) => r.rpush(second, "x", "y", "z"),
    );
    expect(popped).toEqual([second, ["x", "y"]]);
  });

  it("XREADGROUP BLOCK", async () => {
    const stream = `${tag()}:s`;
    const dev = await sharedDevCluster();
    const setup = open(dev, "xgroup-setup");
    await setup.xgroup("CREATE", stream, "workers", "$", "MKSTREAM");
    let id: unknown;
    const read = await blockThenWake(
      "xreadgroup",
      stream,
      "xreadgroup",
      (r) => r.xreadgroup("GROUP", "workers", "w1", "COUNT", 1, "BLOCK", 5000, "STREAMS", stream, ">"),
      async (r) => {
        id = await r.xadd(stream, "*", "job", "1");
      },
    );
    expect(read).toEqual([[stream, [[id, ["job", "1"]]]]]);
  });
});

describe("AbortSignal: withOptions({ signal })", () => {
  it("aborting a blocked BLPOP rejects it with AbortError and closes its connection; a later push stays in the list", async () => {
    const dev = await sharedDevCluster();
    const redis = open(dev, "aborted");
    const queue = `blocking:abort:{${Date.now()}}`;
    const port = await primaryOf(dev, queue);
    const controller = new AbortController();
    const popped = redis.withOptions({ signal: controller.signal }).blpop(queue, 0);
    await waitFor("the BLPOP to block", 5000, async () => (await blockedOn(dev, port, "aborted")) === 1);
    controller.abort(new Error("shutting down"));
    const error = await rejection(popped);
    expect(error).toBeInstanceOf(AbortError);
    expect((error as AbortError).code).toBe("RC_ABORTED");
    expect((error.cause as Error).message).toBe("shutting down");
    await waitFor(
      "the blocked connection to close",
      5000,
      async () => (await blockedOn(dev, port, "aborted")) === 0,
    );
    expect(await redis.rpush(queue, "kept")).toBe(1);
    expect(await redis.lrange(queue, 0, -1)).toEqual(["kept"]);
  });

  it("aborting a call waiting in line for a dedicated connection: it leaves the line, the pool keeps working", async () => {
    const dev = await sharedDevCluster();
    const redis = open(dev, "aborted-line", { maxBlockingConnections: 1 });
    const queue = `blocking:line:{${Date.now()}}`;
    const port = await primaryOf(dev, queue);
    const first = redis.blpop(queue, 5);
    await waitFor(
      "the first BLPOP to block",
      5000,
      async () => (await blockedOn(dev, port, "aborted-line")) === 1,
    );
    const controller = new AbortController();
    const second = redis.withOptions({ signal: controller.signal }).blpop(queue, 5);
    controller.abort();
    expect(await rejection(second)).toBeInstanceOf(AbortError);
    await redis.rpush(queue, "one");
    expect(await first).toEqual([queue, "one"]);
    // The aborted call never took the connection: the next one gets it and blocks.
    const third = redis.blpop(queue, 5);
    await waitFor(
      "the third BLPOP to block",
      5000,
      async () => (await blockedOn(dev, port, "aborted-line")) === 1,
    );
    await redis.rpush(queue, "two");
    expect(await third).toEqual([queue, "two"]);
  });

  it("a signal already aborted: the call rejects at once and nothing is sent", async () => {
    const dev = await sharedDevCluster();
    const redis = open(dev, "pre-aborted");
    const queue = `blocking:pre:{${Date.now()}}`;
    await redis.rpush(queue, "untouched");
    const signal = AbortSignal.abort();
    expect(await rejection(redis.withOptions({ signal }).lpop(queue))).toBeInstanceOf(AbortError);
    expect(await rejection(redis.withOptions({ signal }).blpop(queue, 1))).toBeInstanceOf(AbortError);
    expect(await redis.lrange(queue, 0, -1)).toEqual(["untouched"]);
  });

  it("timeoutMs is the call's own budget; readFrom sends its reads to replicas", async () => {
    const dev = await sharedDevCluster();
    const redis = open(dev, "per-call");
    await redis.connect();
    // DEBUG SLEEP holds one node for 300 ms: past a 50 ms budget.
    const slow = redis.withOptions({ timeoutMs: 50 }).call("DEBUG", "SLEEP", "0.3");
    expect(await rejection(slow)).toBeInstanceOf(TimeoutError);
    const key = `blocking:read:{${Date.now()}}`;
    await redis.set(key, "v");
    const replicas = (await dev.refresh()).filter((node) => node.role === "replica");
    const gets = async () => {
      let total = 0;
      for (const node of replicas) {
        const info = String(await dev.command(node.port, "INFO", "commandstats"));
        total += Number(/cmdstat_get:calls=(\d+)/.exec(info)?.[1] ?? 0);
      }
      return total;
    };
    const before = await gets();
    const fromReplicas = redis.withOptions({ readFrom: "replica" });
    // Replicas get reads once their health was checked (the view started the checks).
    await waitFor("a GET to be served by a replica", 5000, async () => {
      await fromReplicas.get(key);
      return (await gets()) > before;
    });
    expect(() => redis.withOptions({ timeoutMs: -1 })).toThrow(ArgumentError);
    expect(() => redis.withOptions({ readFrom: "somewhere" as never })).toThrow(ArgumentError);
  });
});
