/**
 * Scripts, functions and blocked calls through what a shared cluster cannot be put through,
 * on a cluster of this file's own: a failover (the promoted replica has no cached scripts;
 * a BLPOP blocked on the old primary is released by the server and must be sent to the new
 * one), SCRIPT FLUSH on one node (EVALSHA's NOSCRIPT is answered by sending the script
 * again), FUNCTION FLUSH sent to every primary.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { DevCluster, DevNode } from "../../src/dev/index.js";
import { pollUntil } from "../../src/dev/poll.js";
import type { RedisCluster } from "../../src/index.js";
import { useClients } from "../helpers/client.js";
import { withDevCluster } from "../helpers/cluster.js";
import { keyInSlot } from "../helpers/keys.js";

const cluster = withDevCluster({ primaries: 3, replicasPerPrimary: 1 });
const clients = useClients();

/** Failovers a test did: undone after it (the old primary takes its role back). */
const undo: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of undo.splice(0).reverse()) await step();
});

/** Counters of a command on one node, from INFO commandstats. */
async function stats(
  dev: DevCluster,
  port: number,
  command: string,
): Promise<{ calls: number; failed: number }> {
  const info = String(await dev.command(port, "INFO", "commandstats"));
  const match = new RegExp(`cmdstat_${command}:calls=(\\d+),.*failed_calls=(\\d+)`).exec(info);
  return match ? { calls: Number(match[1]), failed: Number(match[2]) } : { calls: 0, failed: 0 };
}

/**
 * A primary, its replica, and a key of one of its slots. Each test fails over a shard of
 * its own (`shard`): a shard failed over and back moments ago is left alone.
 */
async function shardOf(
  dev: DevCluster,
  label: string,
  shard: number,
): Promise<{ primary: DevNode; replica: DevNode; key: string }> {
  const nodes = await dev.refresh();
  const replica = nodes.filter((node) => node.role === "replica").sort((a, b) => a.port - b.port)[shard]!;
  const primary = nodes.find((node) => node.id === replica.primaryId)!;
  return { primary, replica, key: keyInSlot(primary.slots[0]![0] + 7, label) };
}

/** Fails `replica` over and registers the way back. */
async function failOver(
  dev: DevCluster,
  client: RedisCluster | undefined,
  replica: DevNode,
  primary: DevNode,
) {
  await dev.failover(replica.port);
  undo.push(async () => {
    await dev.failover(primary.port);
    await dev.waitForHealthy();
  });
  if (client !== undefined) await client.refreshTopology();
}

describe("scripts through a failover", () => {
  it("a script defined before a failover runs after it: the promoted replica lacked it and got EVAL", async () => {
    const dev = cluster();
    const { primary, replica, key } = await shardOf(dev, "failover:n", 0);
    const client = clients.create({ nodes: dev.seeds });
    const incr = client.defineScript<number>({
      lua: `-- failover ${Date.now()}\nreturn redis.call('INCR', KEYS[1])`,
      numberOfKeys: 1,
    });
    expect(await incr(key)).toBe(1);
    expect(await incr(key)).toBe(2);
    // EVAL replicates the script's writes, not the script: the replica does not have it.
    expect(await dev.command(replica.port, "SCRIPT", "EXISTS", incr.sha)).toEqual([0]);
    const evalsBefore = await stats(dev, replica.port, "eval");
    await failOver(dev, undefined, replica, primary);
    expect(await incr(key)).toBe(3);
    expect(await incr(key)).toBe(4);
    const evalsAfter = await stats(dev, replica.port, "eval");
    expect(evalsAfter.calls - evalsBefore.calls).toBe(1); // once, then EVALSHA
    expect(await dev.command(replica.port, "SCRIPT", "EXISTS", incr.sha)).toEqual([1]);
  });

  it("SCRIPT FLUSH on one node is survived: EVALSHA answered NOSCRIPT there, the script is sent again", async () => {
    const dev = cluster();
    const { primary, key } = await shardOf(dev, "flush:n", 1);
    const client = clients.create({ nodes: dev.seeds });
    const incr = client.defineScript<number>({
      lua: `-- flush ${Date.now()}\nreturn redis.call('INCR', KEYS[1])`,
      numberOfKeys: 1,
    });
    expect(await incr(key)).toBe(1);
    expect(await incr(key)).toBe(2); // EVALSHA from now on, on this node
    expect(await dev.command(primary.port, "SCRIPT", "FLUSH")).toBe("OK");
    const evalshaBefore = await stats(dev, primary.port, "evalsha");
    const evalBefore = await stats(dev, primary.port, "eval");
    expect(await incr(key)).toBe(3);
    const evalshaAfter = await stats(dev, primary.port, "evalsha");
    const evalAfter = await stats(dev, primary.port, "eval");
    expect(evalshaAfter.failed - evalshaBefore.failed).toBe(1); // NOSCRIPT
    expect(evalAfter.calls - evalBefore.calls).toBe(1); // the fallback
    expect(await incr(key)).toBe(4);
    expect((await stats(dev, primary.port, "evalsha")).calls - evalshaAfter.calls).toBe(1);
  });

  it("SCRIPT FLUSH and FUNCTION FLUSH go to every node / primary", async () => {
    const dev = cluster();
    const client = clients.create({ nodes: dev.seeds });
    await client.connect();
    const sha = (await client.script("LOAD", "return 'cached'")) as string;
    const library = `flushlib${Date.now()}`;
    await client.function(
      "LOAD",
      `#!lua name=${library}\nredis.register_function('${library}_f', function() return 1 end)`,
    );
    expect(await client.script("EXISTS", sha)).toEqual([1]);
    expect(await client.script("FLUSH")).toBe("OK");
    expect(await client.function("FLUSH")).toBe("OK");
    for (const node of await dev.refresh()) {
      expect(await dev.command(node.port, "SCRIPT", "EXISTS", sha), String(node.port)).toEqual([0]);
      if (node.role === "primary") expect(await dev.command(node.port, "FUNCTION", "LIST")).toEqual([]);
    }
  });
});

describe("a blocked call through a failover", () => {
  it("BLPOP blocked on a primary that fails over: the server releases it (UNBLOCKED), it is sent to the new primary and gets the next push", async () => {
    const dev = cluster();
    const { primary, replica, key } = await shardOf(dev, "blocked:q", 2);
    const client = clients.create({ nodes: dev.seeds, clientName: "blocked", commandTimeout: 2000 });
    await client.connect();
    const startedAt = performance.now();
    const popped = client.blpop(key, 20).catch((error: unknown) => error);
    await pollUntil("the BLPOP to block on the primary", 5000, async () => {
      const list = String(await dev.command(primary.port, "CLIENT", "LIST"));
      return list.includes(" name=blocked ") && list.includes(" cmd=blpop ") ? undefined : "not yet";
    });
    await failOver(dev, client, replica, primary);
    await pollUntil("the BLPOP to block on the new primary", 10_000, async () => {
      const list = String(await dev.command(replica.port, "CLIENT", "LIST"));
      return list.includes(" name=blocked ") && list.includes(" cmd=blpop ") ? undefined : "not yet";
    });
    expect(await client.rpush(key, "after-failover")).toBe(1);
    expect(await popped).toEqual([key, "after-failover"]);
    // Within its deadline: its 20 s block plus commandTimeout.
    expect(performance.now() - startedAt).toBeLessThan(22_000);
  });
});
