// @ts-check
/**
 * The other clients' adapters on the shared dev cluster: every workload's operation answers
 * what the cluster holds (the same reply check the bench runs before it times anything), and
 * W10's subscriber gets each message once; the Node floor (floor.mjs) answers W1's and W3's.
 * rediscluster's adapter is not here: it loads the built package (dist/), which `npm test`
 * does not build; the rest of the suite covers its API.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { RedisCluster } from "../../src/index.ts";
import { sharedDevCluster } from "../../test/helpers/cluster.ts";
import { waitFor } from "../../test/helpers/wait.ts";
import { CLIENTS } from "../clients.mjs";
import { NODE_FLOOR } from "../floor.mjs";
import { buildBenchData } from "../keys.mjs";
import { CHANNELS } from "../pubsub.mjs";
import { verifyReplies, WORKLOADS } from "../workloads.mjs";

const data = buildBenchData();
const indexOfKey = new Map(data.keys.map((key, index) => [key, index]));
/** The keys the reply checks read: the first 16 steps of the walk and of the batches. */
const checkedIndexes = [
  ...new Set([
    ...data.order.slice(0, 16),
    ...data.batches.slice(0, 16).flatMap((batch) => batch.map((key) => indexOfKey.get(key) ?? 0)),
  ]),
];

/** @type {RedisCluster} */
let admin;
/** @type {string[]} */
let seeds;

beforeAll(async () => {
  const dev = await sharedDevCluster();
  seeds = [...dev.seeds];
  admin = new RedisCluster({ nodes: seeds });
  await admin.connect();
  const pairs = checkedIndexes.flatMap((index) => [data.keys[index] ?? "", data.values[index] ?? ""]);
  await admin.mset(...pairs);
});

afterAll(async () => {
  if (admin === undefined) return;
  await admin.del(
    ...checkedIndexes.map((index) => data.keys[index] ?? ""),
    ...checkedIndexes.map((index) => data.counterKeys[index] ?? ""),
  );
  await admin.close();
});

describe.each(CLIENTS.filter((spec) => spec.id !== "rediscluster").map((spec) => [spec.id, spec]))(
  "the %s adapter",
  (_, spec) => {
    it("answers every workload's reply check", async () => {
      const client = await spec.connect(seeds);
      try {
        for (const workload of WORKLOADS)
          await verifyReplies(workload, workload.operation(client, data), data);
        expect(client.stats()).toEqual({});
      } finally {
        await client.close();
      }
    });

    it("W10: subscribes to every channel, and gets each sharded message once", async () => {
      const subscriber = await spec.connectSubscriber(seeds);
      const publisher = await spec.connect(seeds);
      try {
        /** @type {Map<string, string[]>} */
        const received = new Map();
        await subscriber.ssubscribe(CHANNELS, (channel, message) => {
          received.set(channel, [...(received.get(channel) ?? []), message]);
        });
        for (const channel of CHANNELS) await publisher.spublish(channel, `check:${channel}`);
        await waitFor("every channel's message", 10_000, () => received.size === CHANNELS.length);
        // One more round trip on every channel: a duplicate of the first would have arrived by now.
        for (const channel of CHANNELS) await publisher.spublish(channel, `again:${channel}`);
        await waitFor("every channel's second message", 10_000, () =>
          CHANNELS.every((channel) => received.get(channel)?.length === 2),
        );
        for (const channel of CHANNELS) {
          expect(received.get(channel)).toEqual([`check:${channel}`, `again:${channel}`]);
        }
      } finally {
        await publisher.close();
        await subscriber.close();
      }
    });
  },
);

describe("the Node floor", () => {
  it("answers W1's reply check (MOVED fills its empty slot table) and refuses the other workloads", async () => {
    const floor = await NODE_FLOOR.connect(seeds);
    try {
      for (const workload of WORKLOADS.filter(({ id }) => id === "W1" || id === "W3")) {
        await verifyReplies(workload, workload.operation(floor, data), data);
      }
      // W3's shape: many GETs of one tick, one write per node, the replies in order.
      const many = checkedIndexes.map((index) => floor.get(data.keys[index] ?? ""));
      expect(await Promise.all(many)).toEqual(checkedIndexes.map((index) => data.values[index]));
      // Every checked key, wherever its slot lives (the slot table starts empty: MOVED fills it).
      for (const index of checkedIndexes)
        expect(await floor.get(data.keys[index] ?? "")).toBe(data.values[index]);
      expect(await floor.get("bench:floor:missing")).toBeNull();
      await expect(floor.set("a", "b")).rejects.toThrow("the Node floor runs W1 and W3 (GET) only");
    } finally {
      await floor.close();
    }
  });
});
