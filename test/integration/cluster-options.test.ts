/**
 * The resty-redis-cluster option names against the shared cluster: they are accepted and
 * do what SPEC section 1 says (the mapping itself is unit-tested in test/unit/options.test.ts).
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { DevCluster, DevNode } from "../../src/dev/index.js";
import { pollUntil } from "../../src/dev/poll.js";
import { useClients } from "../helpers/client.js";
import { sharedDevCluster } from "../helpers/cluster.js";

let cluster: DevCluster;
const clients = useClients();

beforeAll(async () => {
  cluster = await sharedDevCluster();
});

/** `cmdstat_get` calls on a node. */
async function getCalls(node: DevNode): Promise<number> {
  const info = String(await cluster.command(node.port, "INFO", "commandstats"));
  return Number(/cmdstat_get:calls=(\d+)/.exec(info)?.[1] ?? 0);
}

/** Connections on a node whose CLIENT SETNAME is `name`. */
async function connectionsNamed(node: DevNode, name: string): Promise<number> {
  const list = String(await cluster.command(node.port, "CLIENT", "LIST"));
  return list.split("\n").filter((line) => line.includes(` name=${name} `)).length;
}

describe("resty option names", () => {
  it("serv_list seeds the client and name names it", async () => {
    const client = clients.create({
      name: "resty-style",
      serv_list: cluster.seeds.map((seed) => {
        const [ip, port] = seed.split(":");
        return { ip: ip!, port: Number(port) };
      }),
      connection_timout: 1000,
      keepalive_cons: 100,
    });
    expect(client.name).toBe("resty-style");
    expect(await client.set("resty:k", "v")).toBe("OK");
    expect(await client.get("resty:k")).toBe("v");
    await client.del("resty:k");
  });

  it("enableSlaveRead: true sends reads to replicas and primaries alike (readFrom: any)", async () => {
    const client = clients.create({ nodes: cluster.seeds, enableSlaveRead: true });
    const keys = Array.from({ length: 30 }, (_, i) => `slave-read:${i}`);
    await client.mset(...keys.flatMap((key) => [key, "v"]));
    const nodes = cluster.nodes;
    const before = await Promise.all(nodes.map(getCalls));
    for (let round = 0; round < 10; round++) await Promise.all(keys.map((key) => client.get(key)));
    const after = await Promise.all(nodes.map(getCalls));
    const served = nodes.map((node, i) => ({ role: node.role, gets: after[i]! - before[i]! }));
    const byRole = (role: string) =>
      served.filter((entry) => entry.role === role).reduce((sum, entry) => sum + entry.gets, 0);
    // 300 reads, each to a random node of its shard: both kinds get a good share.
    expect(byRole("replica") + byRole("primary")).toBe(300);
    expect(byRole("replica")).toBeGreaterThan(50);
    expect(byRole("primary")).toBeGreaterThan(50);
    // Writes still go to primaries only (a replica would answer MOVED or READONLY).
    expect(await client.set(keys[0]!, "w")).toBe("OK");
    expect(await client.del(...keys)).toBe(keys.length);
  });

  it("keepalive_timeout closes idle connections, and the next command reconnects", async () => {
    const name = `rc-keepalive-${process.pid}`;
    const client = clients.create({ nodes: cluster.seeds, keepalive_timeout: 300, clientName: name });
    expect(await client.dbsize()).toBeGreaterThanOrEqual(0); // one connection per primary
    const primaries = cluster.nodes.filter((node) => node.role === "primary");
    const open = await Promise.all(primaries.map((node) => connectionsNamed(node, name)));
    expect(open.every((count) => count === 1)).toBe(true);
    await pollUntil("idle connections to be closed", 5000, async () => {
      const counts = await Promise.all(primaries.map((node) => connectionsNamed(node, name)));
      return counts.every((count) => count === 0) ? undefined : `still open: ${counts.join(", ")}`;
    });
    expect(await client.ping()).toBe("PONG");
    expect(await client.set("keepalive:k", "v")).toBe("OK");
    await client.del("keepalive:k");
  });
});
