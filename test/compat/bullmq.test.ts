/**
 * BullMQ on `rediscluster/ioredis`, on the shared cluster: a queue whose prefix is a hash
 * tag (every key of the queue in one slot, as BullMQ requires on a cluster), 1,000 jobs
 * added in bulk and processed by two workers (each with its blocking connection, a
 * `duplicate()`), a job that fails twice and succeeds on its third attempt, and a delayed
 * job. BullMQ drives the facade through `defineCommand` scripts called with one array (on
 * the client and in `multi()`), `bzpopmin` on the blocking duplicate, `info`, `status`, and
 * the `ready`/`end` events; QueueEvents reads with a blocking XREAD. Its run through a failover is in test/chaos/compat-libraries.test.ts.
 */
import { type Job, Queue, QueueEvents, Worker } from "bullmq";
import { afterEach, describe, expect, it } from "vitest";
import type { Cluster } from "../../src/compat/ioredis/index.js";
import { waitFor } from "../helpers/wait.js";
import { tagFor, useFacades } from "./facades.js";

const facades = useFacades();
const closing: Array<{ close(): Promise<void> }> = [];
afterEach(async () => {
  // Workers first (they stop taking jobs), then the queues; the facades after each test.
  await Promise.all(closing.splice(0).map((item) => item.close()));
});

function queueOn(connection: Cluster, name: string, prefix: string): Queue {
  const queue = new Queue(name, { connection, prefix });
  closing.push(queue);
  return queue;
}

function workerOn(
  connection: Cluster,
  name: string,
  prefix: string,
  processor: (job: Job) => Promise<unknown>,
  concurrency = 1,
): Worker {
  const worker = new Worker(name, processor, { connection, prefix, concurrency });
  closing.unshift(worker);
  return worker;
}

describe("BullMQ on rediscluster/ioredis", () => {
  it("processes 1,000 jobs with two workers, each exactly once", async () => {
    const prefix = tagFor("bull");
    const producer = await facades.ioredis();
    const queue = queueOn(producer, "bulk", prefix);
    const runs = new Map<string, number>();
    const byWorker = [0, 0];
    const processor = (index: number) => async (job: Job) => {
      runs.set(job.id!, (runs.get(job.id!) ?? 0) + 1);
      byWorker[index]!++;
      return job.data.n * 2;
    };
    const workers = [0, 1].map(async (index) =>
      workerOn(await facades.ioredis(), "bulk", prefix, processor(index), 8),
    );
    await Promise.all((await Promise.all(workers)).map((worker) => worker.waitUntilReady()));
    const total = 1000;
    for (let start = 0; start < total; start += 250) {
      await queue.addBulk(
        Array.from({ length: 250 }, (_, i) => ({ name: "double", data: { n: start + i } })),
      );
    }
    await waitFor("every job to complete", 60_000, async () => (await queue.getCompletedCount()) === total);
    expect(runs.size).toBe(total);
    expect([...runs.values()].every((count) => count === 1)).toBe(true);
    expect(byWorker[0]! + byWorker[1]!).toBe(total);
    // Both workers took part: each had eight slots and its own blocking connection.
    expect(byWorker[0]).toBeGreaterThan(0);
    expect(byWorker[1]).toBeGreaterThan(0);
    const [sample] = await queue.getCompleted(0, 0);
    expect(sample?.returnvalue).toBe(sample!.data.n * 2);
    expect(await queue.getJobCounts("failed", "waiting", "active", "delayed")).toEqual({
      failed: 0,
      waiting: 0,
      active: 0,
      delayed: 0,
    });
  });

  it("retries a failing job until its third attempt succeeds, and runs a delayed job after its delay", async () => {
    const prefix = tagFor("bull-retry");
    const producer = await facades.ioredis();
    const queue = queueOn(producer, "retries", prefix);
    const attemptsSeen: number[] = [];
    const startedAt = new Map<string, number>();
    workerOn(await facades.ioredis(), "retries", prefix, async (job) => {
      if (job.name === "flaky") {
        attemptsSeen.push(job.attemptsMade);
        if (job.attemptsMade < 2) throw new Error(`attempt ${job.attemptsMade + 1} fails`);
      }
      startedAt.set(job.id!, Date.now());
      return "done";
    });
    // QueueEvents reads the queue's event stream with a blocking XREAD on its own duplicate.
    const events = new QueueEvents("retries", { connection: await facades.ioredis(), prefix });
    closing.push(events);
    await events.waitUntilReady();
    const flaky = await queue.add("flaky", {}, { attempts: 3, backoff: { type: "fixed", delay: 50 } });
    const delayed = await queue.add("later", {}, { delay: 700 });
    const addedAt = delayed.timestamp;
    expect(await flaky.waitUntilFinished(events, 20_000)).toBe("done");
    expect(await delayed.waitUntilFinished(events, 20_000)).toBe("done");
    expect(attemptsSeen).toEqual([0, 1, 2]);
    const finished = await queue.getJob(flaky.id!);
    expect(finished?.attemptsMade).toBe(3);
    expect(finished?.stacktrace).toHaveLength(2);
    expect(finished?.returnvalue).toBe("done");
    expect(startedAt.get(delayed.id!)! - addedAt).toBeGreaterThanOrEqual(700);
    expect(await queue.getFailedCount()).toBe(0);
  });
});
