/**
 * What happens to a command before it is sent, on the real shared cluster: key prefixing on
 * every path, cross-slot splits issued before the topology is known, replica reads inside a
 * pipeline that wrote the same slot, node roles by their ioredis names. Each case was a
 * defect of issue 9 or 17 (named in the test).
 */
import { describe, expect, it } from "vitest";
import { ArgumentError } from "../../src/index.js";
import { useClients } from "../helpers/client.js";
import { sharedDevCluster } from "../helpers/cluster.js";

const clients = useClients();

describe("describing commands", () => {
  it("an MSET of 30,000 keys across slots, issued before the topology is known, sets them all (17.6)", async () => {
    const dev = await sharedDevCluster();
    const redis = clients.create({ nodes: dev.seeds });
    const prefix = `early:${Date.now()}:`;
    const pairs: Record<string, string> = {};
    for (let i = 0; i < 30_000; i++) pairs[`${prefix}${i}`] = String(i);
    expect(await redis.mset(pairs)).toBe("OK");
    const values = await redis.mget(...Object.keys(pairs));
    expect(values.filter((value, i) => value === String(i))).toHaveLength(30_000);
  });

  it('nodes("master") and nodes("slave") are the primaries and replicas; an unknown role is an ArgumentError (9.17)', async () => {
    const dev = await sharedDevCluster();
    const redis = clients.create({ nodes: dev.seeds });
    await redis.connect();
    const addresses = (role: Parameters<typeof redis.nodes>[0]) =>
      redis
        .nodes(role)
        .map((node) => node.address)
        .sort();
    expect(addresses("master")).toEqual(addresses("primary"));
    expect(addresses("slave")).toEqual(addresses("replica"));
    expect(addresses("primary")).toHaveLength(3);
    expect(() => redis.nodes("masters" as never)).toThrow(ArgumentError);
  });

  it("with replica reads, a pipeline's read of a key it wrote reads the write (9.16)", async () => {
    const dev = await sharedDevCluster();
    const redis = clients.create({ nodes: dev.seeds, readFrom: "replica" });
    const key = `ryw:${Date.now()}`;
    for (let round = 0; round < 50; round++) {
      const [set, get, other] = await redis
        .pipeline()
        .set(key, `v${round}`)
        .get(key)
        .get(`${key}:untouched`)
        .exec();
      expect(set).toBe("OK");
      expect(get).toBe(`v${round}`);
      expect(other).toBeNull();
    }
  });
});
