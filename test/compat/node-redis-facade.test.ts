/**
 * `rediscluster/node-redis` on the shared cluster: node-redis's camelCase names, SET's and
 * SCAN's option objects, `multi().exec()` (values; rejects when a command failed) and
 * `execAsPipeline()`, `isOpen`/`isReady` and connecting again after `close()`.
 */
import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { createCluster, type NodeRedisCluster, nodeRedisArgs } from "../../src/compat/node-redis/index.js";
import { ReplyError } from "../../src/index.js";
import { sharedDevCluster } from "../helpers/cluster.js";
import { tagFor } from "./facades.js";

const open: NodeRedisCluster[] = [];
afterEach(async () => {
  await Promise.all(open.splice(0).map((client) => client.close()));
});

async function connected() {
  const dev = await sharedDevCluster();
  const client = createCluster({ rootNodes: dev.seeds.map((seed) => ({ url: `redis://${seed}` })) });
  open.push(client);
  return client.connect();
}

describe("rediscluster/node-redis", () => {
  it("turns node-redis's option objects into words", () => {
    expect(nodeRedisArgs("set", ["k", "v", { PX: 10, NX: true }])).toEqual(["k", "v", "PX", 10, "NX"]);
    expect(
      nodeRedisArgs("set", ["k", "v", { expiration: { type: "EX", value: 5 }, condition: "XX" }]),
    ).toEqual(["k", "v", "EX", 5, "XX"]);
    expect(nodeRedisArgs("scan", ["0", { MATCH: "a*", COUNT: 5, TYPE: "string" }])).toEqual([
      "0",
      "MATCH",
      "a*",
      "COUNT",
      5,
      "TYPE",
      "string",
    ]);
    expect(nodeRedisArgs("del", [["a", "b"]])).toEqual(["a", "b"]);
  });

  it("answers node-redis's names, and multi() as node-redis does", async () => {
    const client = await connected();
    expect(client.isOpen).toBe(true);
    expect(client.isReady).toBe(true);
    const tag = tagFor("nr");
    // node-redis's camelCase names answer too (untyped: TypeScript knows the lower-case ones).
    const named = client as unknown as Record<string, (...args: unknown[]) => Promise<unknown>>;
    expect(await client.set(`${tag}:a`, "1", { PX: 60_000 })).toBe("OK");
    expect(Number(await named.pTTL!(`${tag}:a`))).toBeGreaterThan(0);
    expect(await named.incrBy!(`${tag}:a`, 4)).toBe(5);
    await named.hSet!(`${tag}:h`, { f: "v" });
    expect(await named.hGetAll!(`${tag}:h`)).toEqual({ f: "v" });
    expect(await named.mGet!([`${tag}:a`, "compat:nr:elsewhere"])).toEqual(["5", null]);
    const multi = client.multi() as unknown as Record<string, (...args: unknown[]) => unknown> & {
      exec(): Promise<unknown[] | null>;
    };
    multi.incr!(`${tag}:a`);
    multi.get!(`${tag}:a`);
    expect(await multi.exec()).toEqual([6, "6"]);
    const failing = client.multi() as unknown as Record<string, (...args: unknown[]) => unknown> & {
      exec(): Promise<unknown[] | null>;
      execAsPipeline(): Promise<unknown[]>;
    };
    failing.incr!(`${tag}:a`);
    failing.lPush!(`${tag}:a`, "x");
    await expect(failing.exec()).rejects.toBeInstanceOf(ReplyError);
    await client.del([`${tag}:a`, `${tag}:h`]);
  });

  it("shows no password when inspected", () => {
    const client = createCluster({
      rootNodes: [{ url: "redis://127.0.0.1:1" }],
      defaults: { password: "s3cret-Pa55" },
    });
    expect(inspect(client, { depth: 10, showHidden: true })).not.toContain("s3cret-Pa55");
  });

  it("connects again after close()", async () => {
    const client = await connected();
    await client.close();
    expect(client.isOpen).toBe(false);
    await client.connect();
    expect(await client.ping()).toBe("PONG");
  });
});
