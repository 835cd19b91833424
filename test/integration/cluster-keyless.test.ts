/**
 * Keyless commands through the client, by the server's request/response policy tips:
 * DBSIZE summed over primaries, KEYS merged, FLUSHALL on every primary, PING to one node,
 * and per-node handles for the rest. Runs on the shared cluster (it empties its data,
 * which no other file relies on between files; roles and slots stay as they were).
 */
import { beforeAll, describe, expect, it } from "vitest";
import type { DevCluster, DevNode } from "../../src/dev/index.js";
import { type RedisCluster, ReplyError } from "../../src/index.js";
import { useClients } from "../helpers/client.js";
import { sharedDevCluster } from "../helpers/cluster.js";

let cluster: DevCluster;
const clients = useClients("all");
let client: RedisCluster;

beforeAll(async () => {
  cluster = await sharedDevCluster();
  client = clients.create({ nodes: cluster.seeds });
  await client.connect();
});

function primaries(): DevNode[] {
  return cluster.nodes.filter((node) => node.role === "primary");
}

async function serverKeyCounts(): Promise<number[]> {
  return Promise.all(primaries().map(async (node) => Number(await cluster.command(node.port, "DBSIZE"))));
}

describe("keyless commands", () => {
  const written = Array.from({ length: 500 }, (_, i) => `keyless:${i}`);

  it("FLUSHALL empties every primary", async () => {
    await client.mset(...written.flatMap((key) => [key, "x"]));
    expect((await serverKeyCounts()).filter((count) => count > 0).length).toBe(3);
    expect(await client.flushall()).toBe("OK");
    expect(await serverKeyCounts()).toEqual([0, 0, 0]);
  });

  it("DBSIZE is the sum over the primaries: exactly the keys written", async () => {
    await client.flushall();
    expect(await client.dbsize()).toBe(0);
    expect(await client.mset(...written.flatMap((key) => [key, "x"]))).toBe("OK");
    const perPrimary = await serverKeyCounts();
    // The keys really are spread, so a sum of one node's count would not pass.
    expect(perPrimary.every((count) => count > 0 && count < written.length)).toBe(true);
    expect(await client.dbsize()).toBe(written.length);
  });

  it("KEYS merges the answers of every primary", async () => {
    const keys = (await client.keys("keyless:*")) as string[];
    expect([...keys].sort()).toEqual([...written].sort());
    expect(await client.keys("no-such-prefix:*")).toEqual([]);
  });

  it("PING answers PONG, and with a message echoes it", async () => {
    expect(await client.ping()).toBe("PONG");
    expect(await client.ping("hello")).toBe("hello");
  });

  it("nodes() gives a handle per node whose commands go to that node", async () => {
    const primaryHandles = client.nodes("primary");
    expect(primaryHandles).toHaveLength(3);
    expect(client.nodes("replica")).toHaveLength(3);
    expect(client.nodes("all")).toHaveLength(6);
    expect(primaryHandles.map((handle) => handle.address).sort()).toEqual(
      primaries()
        .map((node) => node.address)
        .sort(),
    );
    for (const handle of primaryHandles) {
      expect(handle.nodeRole).toBe("primary");
      const info = (await handle.call("INFO", "server")) as string;
      const port = Number(/tcp_port:(\d+)/.exec(info)?.[1]);
      expect(handle.address).toBe(`127.0.0.1:${port}`);
      expect(await handle.call("INFO")).toMatch(/redis_version:/);
      const own = Number(await cluster.command(port, "DBSIZE"));
      expect(await handle.dbsize()).toBe(own);
    }
    for (const handle of client.nodes("replica")) {
      expect(handle.nodeRole).toBe("replica");
      expect(await handle.call("ROLE")).toEqual(expect.arrayContaining(["slave"]));
    }
  });

  it("a node handle takes its node's answer, MOVED included", async () => {
    const key = written[0]!;
    const handles = client.nodes("primary");
    const outcomes = await Promise.all(
      handles.map((handle) =>
        handle.get(key).then(
          (value) => value,
          (error: unknown) => error,
        ),
      ),
    );
    expect(outcomes.filter((outcome) => outcome === "x")).toHaveLength(1);
    const moved = outcomes.filter((outcome) => outcome instanceof ReplyError);
    expect(moved).toHaveLength(2);
    for (const error of moved) expect((error as ReplyError).code).toBe("MOVED");
  });

  it("cleans up", async () => {
    expect(await client.flushall()).toBe("OK");
    expect(await client.dbsize()).toBe(0);
  });
});
