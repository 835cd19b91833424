// @ts-check
import { describe, expect, it } from "vitest";
import {
  CLIENTS,
  groupPositions,
  installedVersion,
  loadableClients,
  parseAddress,
  scatterGather,
} from "../clients.mjs";

describe("parseAddress", () => {
  it("splits host and port at the last colon", () => {
    expect(parseAddress("127.0.0.1:7001")).toEqual({ host: "127.0.0.1", port: 7001 });
    expect(parseAddress("::1:7001")).toEqual({ host: "::1", port: 7001 });
  });

  it.each(["127.0.0.1", ":7001", "127.0.0.1:0", "127.0.0.1:70000", "127.0.0.1:x"])(
    "rejects %s",
    (address) => {
      expect(() => parseAddress(address)).toThrow(/host:port/);
    },
  );
});

describe("groupPositions", () => {
  it("groups positions by label, in first-seen order", () => {
    const keys = ["a1", "b1", "a2", "c1", "b2"];
    expect(groupPositions(keys, (key) => key[0])).toEqual([[0, 2], [1, 4], [3]]);
  });
});

describe("scatterGather", () => {
  it("puts every group's replies back at their keys' positions, whatever order the groups settle in", async () => {
    const keys = ["a1", "b1", "a2", "c1", "b2"];
    const groups = groupPositions(keys, (key) => key[0]);
    /** @type {Array<() => void>} */
    const answers = [];
    const pending = scatterGather(keys, groups, (groupKeys) => {
      return new Promise((resolve) => {
        answers.push(() => resolve(groupKeys.map((key) => `value of ${key}`)));
      });
    });
    expect(answers).toHaveLength(3);
    // The last group answers first.
    for (const answer of answers.reverse()) answer();
    const results = await pending;
    expect(results).toEqual(keys.map((key) => `value of ${key}`));
  });

  it("rejects when one group fails", async () => {
    const keys = ["a1", "b1"];
    const failing = scatterGather(
      keys,
      groupPositions(keys, (key) => key[0]),
      async (groupKeys) => {
        if (groupKeys[0] === "b1") throw new Error("CROSSSLOT");
        return groupKeys;
      },
    );
    await expect(failing).rejects.toThrow("CROSSSLOT");
  });
});

describe("CLIENTS", () => {
  it("lists rediscluster first (ratios are taken against it) and has unique ids", () => {
    expect(CLIENTS[0]?.id).toBe("rediscluster");
    expect(new Set(CLIENTS.map((spec) => spec.id)).size).toBe(CLIENTS.length);
  });

  it("has GLIDE as the fifth, optional contender (a probe that loads its package), and reads its version", () => {
    expect(CLIENTS.map((spec) => spec.id)).toEqual([
      "rediscluster",
      "ioredis",
      "ioredis-auto",
      "node-redis",
      "glide",
    ]);
    const glide = CLIENTS.find((spec) => spec.id === "glide");
    expect(glide?.probe).toBeTypeOf("function");
    expect(CLIENTS.filter((spec) => spec.probe !== undefined).map((spec) => spec.id)).toEqual(["glide"]);
    // Its package.json is not exported: the version is read next to its entry point.
    expect(installedVersion("@valkey/valkey-glide")).toMatch(/^\d+\.\d+\.\d+/);
  });
});

describe("loadableClients", () => {
  it("keeps the clients that load, in order, and leaves out one whose package does not, with a one-line note", async () => {
    const [rediscluster, ioredis] = CLIENTS;
    const missing = {
      .../** @type {import("../clients.mjs").ClientSpec} */ (CLIENTS.find((spec) => spec.id === "glide")),
      probe: async () => {
        throw new Error("Cannot find module '@valkey/valkey-glide-linux-arm64'");
      },
    };
    const { clients, leftOut } = await loadableClients([
      /** @type {import("../clients.mjs").ClientSpec} */ (rediscluster),
      missing,
      /** @type {import("../clients.mjs").ClientSpec} */ (ioredis),
    ]);
    expect(clients.map((spec) => spec.id)).toEqual(["rediscluster", "ioredis"]);
    expect(leftOut).toEqual([
      {
        id: "glide",
        label: "GLIDE",
        note: "GLIDE left out: @valkey/valkey-glide does not load here (Error: Cannot find module '@valkey/valkey-glide-linux-arm64')",
      },
    ]);
  });

  it("keeps GLIDE where it loads (here: it is a devDependency)", async () => {
    const { clients, leftOut } = await loadableClients(CLIENTS);
    expect(leftOut).toEqual([]);
    expect(clients).toEqual(CLIENTS);
  });
});
