/**
 * A primary that stops answering without closing anything (a blackhole between the client
 * and that node only, through the fault proxy; the cluster itself sees nothing wrong):
 * its commands end at their deadline with TimeoutError, the client refreshes its topology,
 * and commands to the other primaries go on as if nothing happened — no head-of-line
 * blocking across nodes.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { DevNode } from "../../src/dev/index.js";
import { ConnectionError, type RedisCluster, TimeoutError } from "../../src/index.js";
import { describeError, useClients } from "../helpers/client.js";
import { withDevCluster } from "../helpers/cluster.js";
import { type ProxiedCluster, proxyCluster } from "../helpers/fault-proxy.js";
import { keyInSlot, slotsOfRanges } from "../helpers/keys.js";
import { waitFor } from "../helpers/wait.js";

const COMMAND_TIMEOUT_MS = 1500;
/** Timers on a busy 2-core machine fire late; a deadline is kept if it is kept within this. */
const TIMER_SLACK_MS = 300;
/** Commands sent to the blackholed primary at once. */
const FAULTED_COMMANDS = 50;
/** Sequential workers on the healthy primaries, while the fault lasts and before it. */
const WORKERS = 8;

const cluster = withDevCluster({ primaries: 3, replicasPerPrimary: 0 });
const clients = useClients();
let proxied: ProxiedCluster;

beforeAll(async () => {
  proxied = await proxyCluster(cluster());
});
afterAll(async () => {
  await proxied?.close();
});

interface Settled {
  startedAt: number;
  settledAt: number;
  error?: unknown;
}

async function timed(call: () => Promise<unknown>): Promise<Settled> {
  const startedAt = performance.now();
  try {
    await call();
    return { startedAt, settledAt: performance.now() };
  } catch (error) {
    return { startedAt, settledAt: performance.now(), error };
  }
}

/** `WORKERS` loops of GET/SET on `keys`, one command at a time each, until `stop()` is true. */
async function loadUntil(client: RedisCluster, keys: string[], stop: () => boolean): Promise<Settled[]> {
  const outcomes: Settled[] = [];
  let next = 0;
  await Promise.all(
    Array.from({ length: WORKERS }, async () => {
      while (!stop()) {
        const key = keys[next++ % keys.length]!;
        outcomes.push(await timed(() => (next % 2 === 0 ? client.get(key) : client.set(key, "v"))));
      }
    }),
  );
  return outcomes;
}

const latency = (outcome: Settled) => outcome.settledAt - outcome.startedAt;

function quantile(values: number[], q: number): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]!;
}

describe("a blackholed primary", () => {
  it("its commands fail at their deadline, a refresh runs, the other primaries are not held up", async () => {
    const { client, victim, victimKeys, otherKeys } = await setUp();
    // Its connection to the victim is open and has answered (the next test is about one that has not).
    expect(await client.set(victimKeys[0]!, "warm")).toBe("OK");

    // The unfaulted level: the same load on the same keys, everything healthy.
    let baselineCount = 0;
    const baseline = await loadUntil(client, otherKeys, () => baselineCount++ >= 2000);
    expect(baseline.filter((outcome) => outcome.error).map((o) => describeError(o.error))).toEqual([]);

    const refreshesBefore = client.stats().refreshes;
    const proxy = proxied.proxyOf(victim.port);
    try {
      proxy.blackhole("both");
      const faultedAt = performance.now();
      // Issued together: commands for the blackholed node, and a burst for the others.
      const faulted = Promise.all(
        victimKeys
          .slice(0, FAULTED_COMMANDS)
          .map((key, i) => timed(() => (i % 2 ? client.get(key) : client.set(key, "v")))),
      );
      const burst = Promise.all(
        otherKeys.slice(0, FAULTED_COMMANDS).map((key) => timed(() => client.get(key))),
      );
      let faultedDone = false;
      const during = loadUntil(client, otherKeys, () => faultedDone);
      const faultedOutcomes = await faulted;
      faultedDone = true;
      const burstOutcomes = await burst;
      const duringOutcomes = await during;

      // The blackholed node's commands: a typed error at their deadline, not before (the
      // node may answer yet), not long after. Which error is the next test's subject.
      const untyped = faultedOutcomes.filter(
        (outcome) => !(outcome.error instanceof TimeoutError || outcome.error instanceof ConnectionError),
      );
      expect(untyped.map((outcome) => describeError(outcome.error))).toEqual([]);
      expect(faultedOutcomes.some((outcome) => outcome.error instanceof TimeoutError)).toBe(true);
      for (const outcome of faultedOutcomes) {
        expect(outcome.settledAt - faultedAt).toBeGreaterThanOrEqual(COMMAND_TIMEOUT_MS - 1);
        expect(latency(outcome)).toBeLessThan(COMMAND_TIMEOUT_MS + TIMER_SLACK_MS);
      }
      const firstFaultedSettledAt = Math.min(...faultedOutcomes.map((outcome) => outcome.settledAt));

      // The others: every one succeeded, and the burst issued with the faulted commands all
      // settled before the first of those did — long before, relative to the deadline.
      const failedOthers = [...burstOutcomes, ...duringOutcomes].filter((outcome) => outcome.error);
      expect(failedOthers.map((outcome) => describeError(outcome.error))).toEqual([]);
      const lastBurstSettledAt = Math.max(...burstOutcomes.map((outcome) => outcome.settledAt));
      expect(lastBurstSettledAt).toBeLessThan(firstFaultedSettledAt);
      expect(lastBurstSettledAt - faultedAt).toBeLessThan(COMMAND_TIMEOUT_MS / 2);
      // Head-of-line blocking would put the others' commands at the deadline too: their
      // median stays near its unfaulted level (within 10×, or a few ms, whichever is more),
      // and their slowest is far from the deadline.
      const baselineMedian = quantile(baseline.map(latency), 0.5);
      const duringMedian = quantile(duringOutcomes.map(latency), 0.5);
      expect(duringOutcomes.length).toBeGreaterThan(100);
      expect(duringMedian).toBeLessThan(Math.max(10 * baselineMedian, 20));
      expect(Math.max(...duringOutcomes.map(latency))).toBeLessThan(COMMAND_TIMEOUT_MS / 2);

      // The client looked at the topology again (the node stalled; it may have moved).
      await waitFor(
        "a topology refresh",
        COMMAND_TIMEOUT_MS * 2,
        () => client.stats().refreshes > refreshesBefore,
      );
      expect(client.stats().timeouts).toBeGreaterThan(0);
    } finally {
      proxy.heal();
    }
    await expectRecovered(client, victimKeys[0]!);
  });

  // Was a bug: with less budget left than one retry backoff after the stall reset that its
  // siblings' deadline triggered, a command ended with ConnectionError, not TimeoutError.
  it("its commands, issued over a few dozen ms, all end with TimeoutError", async () => {
    const { client, victim, victimKeys } = await setUp();
    expect(await client.set(victimKeys[0]!, "warm")).toBe("OK"); // its connection is open
    const proxy = proxied.proxyOf(victim.port);
    try {
      proxy.blackhole("both");
      const outcomes: Array<Promise<Settled>> = [];
      for (const key of victimKeys.slice(0, FAULTED_COMMANDS)) {
        outcomes.push(timed(() => client.get(key)));
        await new Promise((resolve) => setTimeout(resolve, 2)); // an application's steady trickle
      }
      const settled = await Promise.all(outcomes);
      expect(
        settled.filter((o) => !(o.error instanceof TimeoutError)).map((o) => describeError(o.error)),
      ).toEqual([]);
    } finally {
      proxy.heal();
    }
    await expectRecovered(client, victimKeys[0]!);
  });

  // Was a bug: a connection opened into a silent node counted its opening as a read, so the
  // first commands' expiry was no sign of a stall (no reset, no refresh).
  it("blackholed before the client ever opened a connection to it: its commands time out and a refresh runs", async () => {
    const { client, victim, victimKeys } = await setUp();
    const proxy = proxied.proxyOf(victim.port);
    const refreshesBefore = client.stats().refreshes;
    try {
      proxy.blackhole("both");
      const settled = await Promise.all(victimKeys.slice(0, 10).map((key) => timed(() => client.get(key))));
      expect(settled.every((outcome) => outcome.error instanceof TimeoutError)).toBe(true);
      await waitFor(
        "a topology refresh",
        COMMAND_TIMEOUT_MS * 2,
        () => client.stats().refreshes > refreshesBefore,
      );
    } finally {
      proxy.heal();
    }
    await expectRecovered(client, victimKeys[0]!);
  });
});

/**
 * A client through the proxies, the primary to blackhole, keys on it and on the others.
 * The victim is not among the seeds: the client opens its connection to it only when a
 * command needs it.
 */
async function setUp() {
  const dev = cluster();
  const primaries = (await dev.refresh()).filter((node) => node.role === "primary");
  const victim = primaries[0]!;
  const victimProxy = proxied.proxyOf(victim.port).address;
  const client = clients.create({
    nodes: proxied.seeds.filter((seed) => seed !== victimProxy),
    natMap: proxied.natMap,
    commandTimeout: COMMAND_TIMEOUT_MS,
  });
  await client.connect();
  return {
    client,
    victim,
    victimKeys: keysOn([victim], "victim", 100),
    otherKeys: keysOn(primaries.slice(1), "other", 400),
  };
}

/** Healed: the same client reaches the node again by itself. */
async function expectRecovered(client: RedisCluster, key: string): Promise<void> {
  await waitFor("the blackholed primary to answer again", 10 * COMMAND_TIMEOUT_MS, async () => {
    try {
      return (await client.set(key, "back")) === "OK";
    } catch {
      return false;
    }
  });
  expect(await client.get(key)).toBe("back");
}

/** `count` keys spread over the slots of `nodes`. */
function keysOn(nodes: DevNode[], label: string, count: number): string[] {
  const slots = nodes.flatMap((node) => slotsOfRanges(node.slots));
  return Array.from({ length: count }, (_, i) =>
    keyInSlot(slots[(i * 997) % slots.length]!, `${label}-${i}`),
  );
}
