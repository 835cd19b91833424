// @ts-check
import { describe, expect, it } from "vitest";
import { CLIENTS, groupPositions, parseAddress, scatterGather } from "../clients.mjs";

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
});
