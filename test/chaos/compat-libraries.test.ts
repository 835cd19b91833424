/**
 * The libraries through what breaks a cluster, on a cluster of this file's own: BullMQ
 * (on `rediscluster/ioredis`) and an Express session (connect-redis on
 * `rediscluster/node-redis`) through a `CLUSTER FAILOVER` of the primary that holds their
 * keys, and the Socket.IO sharded adapter through a reshard of its channel's slot. The
 * native client follows the new primary or slot owner; the libraries see no error that
 * costs them a job, a session or a message.
 */
import { type Job, Queue, Worker } from "bullmq";
import { afterEach, describe, expect, it } from "vitest";
import { keySlot } from "../../src/command/slot.js";
import { Cluster } from "../../src/compat/ioredis/index.js";
import type { DevCluster, DevNode } from "../../src/dev/index.js";
import { tagFor } from "../compat/facades.js";
import { browser, type SessionApp, startSessionApp } from "../compat/session-app.js";
import { type AdapterServer, connectTo, nextEvent, startAdapterServer } from "../compat/socket-io-servers.js";
import { withDevCluster } from "../helpers/cluster.js";
import { restoreNodesAfterEach } from "../helpers/restore.js";
import { waitFor } from "../helpers/wait.js";

const cluster = withDevCluster({ primaries: 3, replicasPerPrimary: 1 });
const cleanups: Array<() => Promise<unknown> | unknown> = [];
afterEach(async () => {
  // Last made, first closed: workers before queues before clients.
  for (const cleanup of cleanups.splice(0).reverse()) await cleanup();
});
restoreNodesAfterEach(cluster);

/** The primary serving `slot`, and one of its replicas. */
async function ownerOf(dev: DevCluster, slot: number): Promise<{ primary: DevNode; replica: DevNode }> {
  const nodes = await dev.refresh();
  const primary = nodes.find(
    (node) => node.role === "primary" && node.slots.some(([start, end]) => slot >= start && slot <= end),
  )!;
  const replica = nodes.find((node) => node.primaryId === primary.id)!;
  return { primary, replica };
}

describe("libraries through failover and resharding", () => {
  it("BullMQ loses no job through a CLUSTER FAILOVER of its queue's primary", async () => {
    const dev = cluster();
    const tag = tagFor("bullfo");
    const producer = new Cluster(dev.seeds);
    cleanups.push(() => producer.quit());
    const queue = new Queue("failover", { connection: producer, prefix: tag });
    cleanups.push(() => queue.close());
    const runs = new Map<string, number>();
    for (let index = 0; index < 2; index++) {
      const connection = new Cluster(dev.seeds);
      cleanups.push(() => connection.quit());
      const worker = new Worker(
        "failover",
        async (job: Job) => {
          runs.set(job.id!, (runs.get(job.id!) ?? 0) + 1);
          return job.data.n;
        },
        { connection, prefix: tag, concurrency: 4 },
      );
      cleanups.push(() => worker.close());
      await worker.waitUntilReady();
    }
    let total = 0;
    const add = async (count: number) => {
      const from = total;
      total += count;
      await queue.addBulk(Array.from({ length: count }, (_, i) => ({ name: "n", data: { n: from + i } })));
    };
    await add(200);
    // Fail over while the workers are busy and the producer keeps adding, until after it.
    const { replica } = await ownerOf(dev, keySlot(tag));
    let failedOver = false;
    let batchesAfter = 0;
    const adding = (async () => {
      while (batchesAfter < 3) {
        await add(20);
        if (failedOver) batchesAfter++;
      }
    })();
    await dev.failover(replica.port);
    failedOver = true;
    await adding;
    await waitFor("every job to complete", 60_000, async () => (await queue.getCompletedCount()) === total);
    // At least once, as BullMQ promises: every job ran; none failed or is left behind.
    expect(runs.size).toBe(total);
    expect(await queue.getJobCounts("failed", "waiting", "active", "delayed")).toEqual({
      failed: 0,
      waiting: 0,
      active: 0,
      delayed: 0,
    });
    // The queue's slot is on the former replica now.
    expect((await ownerOf(dev, keySlot(tag))).primary.id).toBe(replica.id);
  });

  it("keeps an Express session through a CLUSTER FAILOVER of the session's primary", async () => {
    const dev = cluster();
    const prefix = `${tagFor("sessfo")}:`;
    const app: SessionApp = await startSessionApp(dev.seeds, prefix);
    cleanups.push(() => app.close());
    const visit = browser(app.url);
    expect((await visit("/visit")).body.visits).toBe(1);
    const { body } = await visit("/visit");
    expect(body.visits).toBe(2);
    const { replica } = await ownerOf(dev, keySlot(`${prefix}${body.id as string}`));
    await dev.failover(replica.port);
    // The same cookie finds the same session, now on the promoted replica.
    const after = await visit("/visit");
    expect(after.status).toBe(200);
    expect(after.body).toEqual({ visits: 3, id: body.id });
  });

  it("broadcasts through the Socket.IO sharded adapter across a reshard of its channel's slot", async () => {
    const dev = cluster();
    const channelPrefix = tagFor("sioreshard");
    const servers: AdapterServer[] = await Promise.all([
      startAdapterServer(dev.seeds, channelPrefix),
      startAdapterServer(dev.seeds, channelPrefix),
    ]);
    cleanups.push(() => Promise.all(servers.map((server) => server.close())));
    const [a, b] = servers as [AdapterServer, AdapterServer];
    const countServers = () => a.io.of("/").adapter.serverCount();
    await waitFor("both servers to be subscribed", 10_000, async () => (await countServers()) === 2);
    const onA = await connectTo(a);
    const onB = await connectTo(b);
    cleanups.push(() => {
      onA.disconnect();
      onB.disconnect();
    });
    const before = nextEvent(onA, "tick");
    b.io.emit("tick", "before");
    expect(await before).toBe("before");

    // The channel's slot (the prefix's hash tag) moves to another primary.
    const slot = keySlot(`${channelPrefix}#/#`);
    const { primary: from } = await ownerOf(dev, slot);
    const to = (await dev.refresh()).find((node) => node.role === "primary" && node.id !== from.id)!;
    await dev.migrateSlots(from.port, to.port, [slot]);
    expect((await ownerOf(dev, slot)).primary.id).toBe(to.id);

    // Both subscribers follow the slot: the new owner counts them, and messages flow both ways.
    await waitFor(
      "both servers to be subscribed on the new owner",
      20_000,
      async () => (await countServers()) === 2,
    );
    const onBothSides = Promise.all([nextEvent(onA, "tick"), nextEvent(onB, "tick")]);
    a.io.emit("tick", "after");
    expect(await onBothSides).toEqual(["after", "after"]);
    const back = nextEvent(onA, "tick");
    b.io.emit("tick", "back");
    expect(await back).toBe("back");
  });
});
