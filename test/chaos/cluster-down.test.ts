/**
 * The whole cluster down, on a cluster of this file's own: every node paused (sockets open,
 * no answers), then every node killed. Commands reject with a typed error within
 * `commandTimeout`; when the nodes are back, the same client works again.
 */
import { describe, expect, it } from "vitest";
import { parseInfo } from "../../src/dev/cluster-view.js";
import type { DevCluster } from "../../src/dev/index.js";
import { delay, pollUntil } from "../../src/dev/poll.js";
import { ClusterDownError, type RedisCluster, TimeoutError } from "../../src/index.js";
import {
  closeWithin,
  describeError,
  isLeakedClusterReply,
  isTypedError,
  useClients,
} from "../helpers/client.js";
import { withDevCluster } from "../helpers/cluster.js";
import { watchEscapes } from "../helpers/escapes.js";
import { keyInSlot } from "../helpers/keys.js";
import { restoreNodesAfterEach } from "../helpers/restore.js";

const COMMAND_TIMEOUT_MS = 1000;
/** Timers on a busy 2-core machine fire late; a deadline is kept if it is kept within this. */
const TIMER_SLACK_MS = 300;

const cluster = withDevCluster({ primaries: 3, replicasPerPrimary: 1 });
const clients = useClients();
// Whatever a test paused or killed is back before the next test (and before its clients close).
restoreNodesAfterEach(cluster);

/** Everything that escapes to the process while a test runs. */
const escaped = watchEscapes();

interface Timed {
  label: string;
  elapsedMs: number;
  error: unknown;
  value: unknown;
}

/** Runs every call at once; resolves with how each ended and how long it took. */
function timed(calls: Array<[string, () => Promise<unknown>]>): Promise<Timed[]> {
  return Promise.all(
    calls.map(async ([label, call]) => {
      const startedAt = performance.now();
      try {
        const value = await call();
        return { label, elapsedMs: performance.now() - startedAt, error: undefined, value };
      } catch (error) {
        return { label, elapsedMs: performance.now() - startedAt, error, value: undefined };
      }
    }),
  );
}

/** One call of every kind: single-key reads and writes across all slots, split, fan-out, pipeline. */
function everyKind(client: RedisCluster, label: string): Array<[string, () => Promise<unknown>]> {
  const calls: Array<[string, () => Promise<unknown>]> = [];
  for (let slot = 0; slot < 16384; slot += 1024) {
    calls.push([`get ${slot}`, () => client.get(keyInSlot(slot, label))]);
    calls.push([`set ${slot}`, () => client.set(keyInSlot(slot, label), "v")]);
  }
  calls.push(["incr", () => client.incr(`${label}:counter`)]);
  calls.push(["mget cross-slot", () => client.mget("a", "b", "c", "d")]);
  calls.push(["mset cross-slot", () => client.mset({ a: "1", b: "2", c: "3" })]);
  calls.push(["dbsize", () => client.dbsize()]);
  calls.push(["ping", () => client.ping()]);
  calls.push(["pipeline", () => client.pipeline().get("a").set("b", "1").exec()]);
  return calls;
}

/** Every call failed with a public error class, within the deadline. */
function expectTypedFailuresInTime(outcomes: Timed[]): void {
  const wrong = outcomes
    .filter((outcome) => {
      // A pipeline resolves with an array holding each command's error.
      const errors = Array.isArray(outcome.value) ? outcome.value : [outcome.error];
      return errors.some((error) => !isTypedError(error) || isLeakedClusterReply(error));
    })
    .map((outcome) => `${outcome.label}: ${describeError(outcome.error ?? outcome.value)}`);
  expect(wrong).toEqual([]);
  const late = outcomes
    .filter((outcome) => outcome.elapsedMs > COMMAND_TIMEOUT_MS + TIMER_SLACK_MS)
    .map((outcome) => `${outcome.label} took ${Math.round(outcome.elapsedMs)} ms`);
  expect(late).toEqual([]);
}

/** The same client serves every kind of call again. */
async function expectWorking(client: RedisCluster, label: string): Promise<void> {
  const outcomes = await timed(everyKind(client, label));
  const failed = outcomes
    .filter((outcome) => outcome.error !== undefined)
    .map((outcome) => `${outcome.label}: ${describeError(outcome.error)}`);
  expect(failed).toEqual([]);
  expect(await client.get(keyInSlot(0, label))).toBe("v");
}

function livePorts(dev: DevCluster): number[] {
  return dev.nodes.filter((node) => node.pid !== undefined).map((node) => node.port);
}

describe("whole cluster down", () => {
  it("every node paused: typed errors within commandTimeout; resumed: the same client works", async () => {
    const dev = cluster();
    const client = clients.create({ nodes: dev.seeds, commandTimeout: COMMAND_TIMEOUT_MS });
    await client.connect();
    await expectWorking(client, "before-pause");

    const ports = livePorts(dev);
    let outcomes: Timed[];
    for (const port of ports) dev.pauseNode(port);
    try {
      outcomes = await timed(everyKind(client, "paused"));
    } finally {
      for (const port of ports) dev.resumeNode(port);
    }
    expectTypedFailuresInTime(outcomes);
    expect(outcomes.every((outcome) => outcome.error !== undefined || Array.isArray(outcome.value))).toBe(
      true,
    );

    await dev.waitForHealthy();
    await expectWorking(client, "after-resume");
    expect(escaped.map(describeError)).toEqual([]);
  });

  it("every node killed: typed errors within commandTimeout; restarted: the same client works", async () => {
    const dev = cluster();
    const client = clients.create({ nodes: dev.seeds, commandTimeout: COMMAND_TIMEOUT_MS });
    await client.connect();
    await expectWorking(client, "before-kill");

    const ports = livePorts(dev);
    await Promise.all(ports.map((port) => dev.killNode(port)));
    const outcomes = await timed(everyKind(client, "killed"));
    expectTypedFailuresInTime(outcomes);
    // A second wave, once every connection is known to be down, fails the same way.
    expectTypedFailuresInTime(await timed(everyKind(client, "killed-again")));

    for (const port of ports) await dev.restartNode(port);
    await dev.waitForHealthy();
    await expectWorking(client, "after-restart");
    expect(escaped.map(describeError)).toEqual([]);
  });

  it("a client created during the outage queues its commands and runs them when the nodes answer", async () => {
    const dev = cluster();
    const ports = livePorts(dev);
    for (const port of ports) dev.pauseNode(port);
    let outcomes: Promise<Timed[]>;
    let cold: RedisCluster;
    try {
      cold = clients.create({ nodes: dev.seeds, commandTimeout: 3000 });
      outcomes = timed(everyKind(cold, "cold"));
      // Let the first topology request reach the paused nodes (no event for "sent").
      await delay(200);
      expect(cold.stats().offlineQueue).toBeGreaterThan(0);
    } finally {
      for (const port of ports) dev.resumeNode(port);
    }
    const failed = (await outcomes)
      .filter((outcome) => outcome.error !== undefined)
      .map((outcome) => `${outcome.label}: ${describeError(outcome.error)}`);
    expect(failed).toEqual([]);
    await dev.waitForHealthy();
    expect(escaped.map(describeError)).toEqual([]);
  });

  it("maxOfflineQueue bounds what waits for an unreachable cluster: the rest fails at once", async () => {
    const dev = cluster();
    const ports = livePorts(dev);
    for (const port of ports) dev.pauseNode(port);
    try {
      const client = clients.create({ nodes: dev.seeds, commandTimeout: 500, maxOfflineQueue: 5 });
      const startedAt = performance.now();
      /** Indexes of the calls in the order they settled. */
      const settleOrder: number[] = [];
      const calls = Array.from({ length: 20 }, (_, i) =>
        client.get(`offline:${i}`).then(
          () => ({ error: undefined as unknown, elapsedMs: performance.now() - startedAt }),
          (error: unknown) => ({ error, elapsedMs: performance.now() - startedAt }),
        ),
      );
      calls.forEach((call, i) => void call.finally(() => settleOrder.push(i)));
      const outcomes = await Promise.all(calls);
      for (const outcome of outcomes)
        expect(isTypedError(outcome.error), describeError(outcome.error)).toBe(true);
      // The first 5 wait (to their deadline); the 15 beyond the bound are refused without
      // waiting for anything: all of them settle before any of those that waited.
      expect(outcomes.slice(5).every((outcome) => outcome.error instanceof ClusterDownError)).toBe(true);
      expect(settleOrder.slice(0, 15).sort((a, b) => a - b)).toEqual(
        Array.from({ length: 15 }, (_, i) => i + 5),
      );
      expect(Math.max(...outcomes.map((outcome) => outcome.elapsedMs))).toBeLessThan(500 + TIMER_SLACK_MS);
    } finally {
      for (const port of ports) dev.resumeNode(port);
    }
    await dev.waitForHealthy();
  });

  it("a shard lost (primary and replica killed): ClusterDownError within the deadline, back after restart", async () => {
    const dev = cluster();
    const nodes = await dev.refresh();
    const primary = nodes.find((node) => node.role === "primary")!;
    const replica = nodes.find((node) => node.primaryId === primary.id)!;
    const client = clients.create({ nodes: dev.seeds, commandTimeout: COMMAND_TIMEOUT_MS });
    await client.connect();

    await dev.killNode(replica.port);
    await dev.killNode(primary.port);
    const survivor = livePorts(dev)[0]!;
    await pollUntil("the cluster to report itself down", 15_000, async () => {
      const info = parseInfo(String(await dev.command(survivor, "CLUSTER", "INFO")));
      return info.get("cluster_state") === "fail" ? undefined : "cluster_state is still ok";
    });

    // PING goes to one node, which may well be a live one (and answers PONG); every other
    // kind of call needs the lost shard or every primary, and fails.
    const all = await timed(everyKind(client, "shard-lost"));
    const ping = all.find((outcome) => outcome.label === "ping")!;
    if (ping.error === undefined) expect(ping.value).toBe("PONG");
    const outcomes = ping.error === undefined ? all.filter((outcome) => outcome !== ping) : all;
    expectTypedFailuresInTime(outcomes);
    // Slots of the surviving shards answer CLUSTERDOWN: that is ClusterDownError, not a ReplyError.
    const lostSlot = (label: string) => {
      const slot = Number(label.split(" ")[1]);
      return primary.slots.some(([start, end]) => slot >= start && slot <= end);
    };
    const survivingSingles = outcomes.filter(
      (outcome) => /^(get|set) /.test(outcome.label) && !lostSlot(outcome.label),
    );
    expect(survivingSingles.length).toBeGreaterThan(0);
    for (const outcome of survivingSingles) {
      // ClusterDownError; or, when the last retry was still in flight at the deadline (on a
      // busy machine, likely for a command that waited behind its slot's retry), a
      // TimeoutError — after at least one CLUSTERDOWN answer, never for a silent node.
      const error = outcome.error;
      const retriedUntilTheDeadline = error instanceof TimeoutError && error.attempts > 1;
      expect(
        error instanceof ClusterDownError || retriedUntilTheDeadline,
        `${outcome.label}: ${describeError(error)}`,
      ).toBe(true);
    }

    await dev.restartNode(primary.port);
    await dev.restartNode(replica.port);
    await dev.waitForHealthy();
    await expectWorking(client, "after-shard-back");
    expect(escaped.map(describeError)).toEqual([]);
  });

  it("close() during the outage: the commands pending settle with typed errors within their deadline", async () => {
    const dev = cluster();
    const client = clients.create({ nodes: dev.seeds, commandTimeout: COMMAND_TIMEOUT_MS });
    await client.connect();
    const ports = livePorts(dev);
    for (const port of ports) dev.pauseNode(port);
    try {
      const pending = timed(everyKind(client, "closing"));
      const closing = closeWithin(client, COMMAND_TIMEOUT_MS + TIMER_SLACK_MS);
      expectTypedFailuresInTime(await pending);
      await closing;
      await expect(client.get("after-close")).rejects.toThrow(/closed/);
    } finally {
      for (const port of ports) dev.resumeNode(port);
    }
    await dev.waitForHealthy();
    expect(escaped.map(describeError)).toEqual([]);
  });

  // Regression (bug D-3, fixed in a19bff7): a graceful close ended each socket with end()
  // and waited for the peer's FIN, which a node that answers nothing never sends.
  it("close() ends in bounded time while every node is paused", async () => {
    const dev = cluster();
    const idle = clients.create({ nodes: dev.seeds, commandTimeout: COMMAND_TIMEOUT_MS });
    await idle.connect();
    await idle.ping();
    const ports = livePorts(dev);
    for (const port of ports) dev.pauseNode(port);
    let closed: boolean;
    try {
      // Nothing is in flight: there is nothing to wait for beyond the commandTimeout.
      closed = await closeWithin(idle, 2 * COMMAND_TIMEOUT_MS + TIMER_SLACK_MS);
    } finally {
      for (const port of ports) dev.resumeNode(port);
    }
    await dev.waitForHealthy();
    expect(closed, "close() of an idle client finished while the nodes were paused").toBe(true);
  });
});
