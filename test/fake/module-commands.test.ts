/**
 * Commands the built-in table does not know (a module's): learned from the server once
 * (`COMMAND INFO`), routed by their key specs; located with `COMMAND GETKEYS` when the specs
 * cannot tell; sent to any node when the server does not know them either — in order.
 */
import { afterEach, describe, expect, it } from "vitest";
import { keySlot } from "../../src/command/slot.js";
import { CrossSlotError, RedisCluster, ReplyError } from "../../src/index.js";
import { moduleCommandInfo } from "../helpers/command-info.js";
import { closeAllFakes, delayed, error, FakeCluster, type FakeServer } from "./resp-server.js";

const clients: RedisCluster[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await closeAllFakes();
});

function client(cluster: FakeCluster): RedisCluster {
  const redis = new RedisCluster({ nodes: cluster.seeds, refreshInterval: 0, commandTimeout: 2000 });
  clients.push(redis);
  return redis;
}

function keyOn(cluster: FakeCluster, node: FakeServer, prefix = "key"): string {
  for (let i = 0; ; i++) {
    const key = `${prefix}:${i}`;
    if (cluster.ownerOf(keySlot(key)) === node) return key;
  }
}

describe("module commands", () => {
  it("are learned once with COMMAND INFO and routed by their key specs", async () => {
    const cluster = await FakeCluster.start(2);
    const [a, b] = cluster.nodes as [FakeServer, FakeServer];
    for (const node of cluster.nodes) {
      node.handle("COMMAND INFO", [moduleCommandInfo("mod.get", "first")]);
      node.handle("MOD.GET", "module value");
    }
    const redis = client(cluster);
    const key = keyOn(cluster, b, "mod");
    expect(await redis.call("MOD.GET", key)).toBe("module value");
    expect(await redis.call("mod.get", key)).toBe("module value");
    expect(b.count("MOD.GET")).toBe(2);
    expect(a.count("MOD.GET")).toBe(0);
    expect(cluster.count("COMMAND INFO")).toBe(1);
  });

  it("with movable keys and no key specs: routed by COMMAND GETKEYS", async () => {
    const cluster = await FakeCluster.start(2);
    const [a, b] = cluster.nodes as [FakeServer, FakeServer];
    const key = keyOn(cluster, b, "movable");
    for (const node of cluster.nodes) {
      node.handle("COMMAND INFO", [moduleCommandInfo("mod.move", "movable")]);
      node.handle("COMMAND GETKEYS", (command) => [command.args[3]!]); // GETKEYS MOD.MOVE KEYS <key>
      node.handle("MOD.MOVE", "moved");
    }
    const redis = client(cluster);
    expect(await redis.call("MOD.MOVE", "KEYS", key)).toBe("moved");
    expect(b.count("MOD.MOVE")).toBe(1);
    expect(a.count("MOD.MOVE")).toBe(0);
    expect(cluster.count("COMMAND GETKEYS")).toBe(1);
  });

  it("with a keyPrefix, a command located by its key specs gets its key prefixed", async () => {
    const cluster = await FakeCluster.start(2);
    for (const node of cluster.nodes) {
      node.handle("COMMAND INFO", [moduleCommandInfo("mod.get", "first")]);
      node.handle("MOD.GET", (command) => `saw ${command.argv.join(" ")}`);
    }
    const redis = new RedisCluster({ nodes: cluster.seeds, refreshInterval: 0, keyPrefix: "app:" });
    clients.push(redis);
    const key = "plain";
    expect(await redis.call("MOD.GET", key)).toBe("saw app:plain");
    expect(cluster.ownerOfKey("app:plain").count("MOD.GET")).toBe(1);
  });

  // Was a bug (issue 9, item 7): such keys were sent, and routed, without the prefix.
  it("with a keyPrefix, keys located by COMMAND GETKEYS are prefixed too, and routed by the prefixed key", async () => {
    const cluster = await FakeCluster.start(2);
    const [a, b] = cluster.nodes as [FakeServer, FakeServer];
    // A key whose prefixed form lives on b and its bare form on a: routing tells them apart.
    let key = "";
    for (let i = 0; key === ""; i++) {
      const candidate = `getkeys:${i}`;
      if (cluster.ownerOfKey(`app:${candidate}`) === b && cluster.ownerOfKey(candidate) === a)
        key = candidate;
    }
    for (const node of cluster.nodes) {
      node.handle("COMMAND INFO", [moduleCommandInfo("mod.move", "movable")]);
      node.handle("COMMAND GETKEYS", (command) => [command.args[3]!]); // GETKEYS MOD.MOVE KEYS <key>
      node.handle("MOD.MOVE", (command) => `saw ${command.argv.join(" ")}`);
    }
    const redis = new RedisCluster({ nodes: cluster.seeds, refreshInterval: 0, keyPrefix: "app:" });
    clients.push(redis);
    expect(await redis.call("MOD.MOVE", "KEYS", key)).toBe(`saw KEYS app:${key}`);
    expect(b.count("MOD.MOVE")).toBe(1);
  });

  it("keys in different slots named by COMMAND GETKEYS: CrossSlotError, nothing sent", async () => {
    const cluster = await FakeCluster.start(2);
    const [a, b] = cluster.nodes as [FakeServer, FakeServer];
    for (const node of cluster.nodes) {
      node.handle("COMMAND INFO", [moduleCommandInfo("mod.two", "movable")]);
      node.handle("COMMAND GETKEYS", (command) => command.args.slice(2));
      node.handle("MOD.TWO", "never");
    }
    const redis = client(cluster);
    const failure = await redis
      .call("MOD.TWO", keyOn(cluster, a, "x"), keyOn(cluster, b, "y"))
      .catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(CrossSlotError);
    expect(cluster.count("MOD.TWO")).toBe(0);
  });

  it("unknown to the server too: one node answers, with its error", async () => {
    const cluster = await FakeCluster.start(2);
    for (const node of cluster.nodes) node.handle("COMMAND INFO", [null]);
    const redis = client(cluster);
    const failure = await redis.call("NOPE.NOTHING", "x").catch((e: unknown) => e);
    expect(failure).toBeInstanceOf(ReplyError);
    expect((failure as ReplyError).command).toBe("NOPE.NOTHING");
    // Asked once: the next call does not ask again.
    await redis.call("NOPE.NOTHING", "y").catch(() => {});
    expect(cluster.count("COMMAND INFO")).toBe(1);
  });

  it("concurrent first calls share one COMMAND INFO and keep their order; other commands are not held back", async () => {
    const cluster = await FakeCluster.start(1);
    const [a] = cluster.nodes as [FakeServer];
    // The answer comes late: whatever the client does not hold back reaches the server first.
    a.handle("COMMAND INFO", delayed(150, [moduleCommandInfo("mod.set", "first")]));
    a.handle("MOD.SET", (command) => {
      a.store.set(String(command.args[0]), Buffer.from(String(command.args[1])));
      return "OK";
    });
    const redis = client(cluster);
    await redis.connect();
    const sets = [1, 2, 3, 4, 5].map((n) => redis.call("MOD.SET", "k", `v${n}`));
    const get = redis.get("other");
    expect(await get).toBeNull();
    expect(await Promise.all(sets)).toEqual(["OK", "OK", "OK", "OK", "OK"]);
    // The GET did not wait for the module command's description: it reached the server
    // right after COMMAND INFO, before any MOD.SET.
    const getIndex = a.received("GET")[0]!.index;
    expect(getIndex).toBeLessThan(a.received("MOD.SET")[0]!.index);
    expect(a.received("COMMAND")[0]!.index).toBeLessThan(getIndex);
    expect(cluster.count("COMMAND INFO")).toBe(1);
    expect(a.received("MOD.SET").map((command) => command.argv[1])).toEqual(["v1", "v2", "v3", "v4", "v5"]);
    expect(a.store.get("k")?.toString()).toBe("v5");
  });

  it("a server that refuses COMMAND GETKEYS: the command goes to a node, which answers", async () => {
    const cluster = await FakeCluster.start(1);
    const [a] = cluster.nodes as [FakeServer];
    a.handle("COMMAND INFO", [moduleCommandInfo("mod.odd", "movable")]);
    a.handle("COMMAND GETKEYS", error("ERR Invalid arguments specified for command"));
    a.handle("MOD.ODD", "answered");
    const redis = client(cluster);
    expect(await redis.call("MOD.ODD", "x")).toBe("answered");
  });
});
