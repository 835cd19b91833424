/**
 * A primary partitioned from the client (blackholed both ways by the fault proxy) while the
 * cluster, which talks node-to-node directly, fails over behind it: its replica takes over
 * with `CLUSTER FAILOVER TAKEOVER`. The client cannot hear from the old primary, so nothing
 * but its own deadlines and refreshes tells it; it must still follow the new primary:
 * every command issued once the promotion is done succeeds within `commandTimeout`.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parseClusterNodes } from "../../src/dev/cluster-view.js";
import type { DevCluster } from "../../src/dev/index.js";
import { pollUntil } from "../../src/dev/poll.js";
import { ConnectionError, TimeoutError } from "../../src/index.js";
import { describeError, useClients } from "../helpers/client.js";
import { withDevCluster } from "../helpers/cluster.js";
import { type ProxiedCluster, proxyCluster } from "../helpers/fault-proxy.js";
import { keyInSlot, slotsOfRanges } from "../helpers/keys.js";

const COMMAND_TIMEOUT_MS = 2000;
/** Timers on a busy 2-core machine fire late; a deadline is kept if it is kept within this. */
const TIMER_SLACK_MS = 300;
/** The load: this many commands every TICK_MS. */
const COMMANDS_PER_TICK = 4;
const TICK_MS = 5;
/** Added to every reply of the nodes that are not cut off, during the partition. */
const NETWORK_DELAY_MS = 30;
/** After the client noticed (one deadline after the promotion), the time it may take to follow. */
const RECOVERY_BUDGET_MS = 1000;

const cluster = withDevCluster({ primaries: 3, replicasPerPrimary: 1 });
const clients = useClients();
let proxied: ProxiedCluster;

beforeAll(async () => {
  proxied = await proxyCluster(cluster());
});
afterAll(async () => {
  await proxied?.close();
});

interface Outcome {
  startedAt: number;
  settledAt: number;
  error?: unknown;
}

/** `performance.now()` once every running node reports node `id` as a primary. */
async function everyNodeSeesPrimary(dev: DevCluster, id: string): Promise<number> {
  await pollUntil(
    `node ${id.slice(0, 8)} to be primary for every node`,
    20_000,
    async () => {
      for (const port of dev.nodes.map((node) => node.port)) {
        const text = await dev.command(port, "CLUSTER", "NODES").catch(() => "");
        const entry = parseClusterNodes(String(text)).find((candidate) => candidate.id === id);
        if (entry?.role !== "primary") return `${port} does not see it as primary yet`;
      }
      return undefined;
    },
    10,
  );
  return performance.now();
}

interface PartitionRun {
  outcomes: Outcome[];
  /** When every node reported the heir as primary. */
  promotedAt: number;
  /** Bytes the blackhole swallowed: the partition was real. */
  discardedBytes: number;
  /** The client's primary for the victim's first slot at the end, and the heir's proxy. */
  primaryAtEnd: string | undefined;
  heirAddress: string;
  /** Writes and reads a key of the victim's slots (after heal). */
  probe(): Promise<[unknown, unknown]>;
}

let partitionRun: Promise<PartitionRun> | undefined;

/** The scenario, run once for the file's tests (each checks its own property of it). */
function partition(): Promise<PartitionRun> {
  partitionRun ??= runPartition();
  return partitionRun;
}

async function runPartition(): Promise<PartitionRun> {
  const dev = cluster();
  const nodes = await dev.refresh();
  const heir = nodes.find((node) => node.role === "replica")!;
  const victim = nodes.find((node) => node.id === heir.primaryId)!;
  const slots = slotsOfRanges(victim.slots);
  const client = clients.create({
    nodes: proxied.seeds,
    natMap: proxied.natMap,
    commandTimeout: COMMAND_TIMEOUT_MS,
  });
  await client.connect();

  // Open-loop load on the victim's slots (a few commands every few ms, whatever is still in
  // flight), so that commands are issued all through the partition and the promotion.
  // Idempotent writes and reads only: any of them may be resent.
  const outcomes: Outcome[] = [];
  const pending = new Set<Promise<void>>();
  let next = 0;
  const issue = () => {
    for (let n = 0; n < COMMANDS_PER_TICK; n++) {
      const i = next++;
      const key = keyInSlot(slots[(i * 31) % slots.length]!, `partition-${i % 500}`);
      const startedAt = performance.now();
      const settled = (i % 2 === 0 ? client.set(key, "v") : client.get(key)).then(
        () => {
          outcomes.push({ startedAt, settledAt: performance.now() });
        },
        (error: unknown) => {
          outcomes.push({ startedAt, settledAt: performance.now(), error });
        },
      );
      pending.add(settled);
      void settled.finally(() => pending.delete(settled));
    }
  };
  const ticker = setInterval(issue, TICK_MS);

  const proxy = proxied.proxyOf(victim.port);
  let promotedAt: number;
  try {
    while (outcomes.length < 200) await new Promise((resolve) => setTimeout(resolve, TICK_MS));
    // A network with some latency, so that a topology refresh takes a few round trips'
    // time, as it does outside one machine; and the victim cut off.
    for (const other of proxied.proxies) if (other !== proxy) other.delay(NETWORK_DELAY_MS, "toClient");
    proxy.blackhole("both");
    // The partition lasts half a deadline before the cluster fails over behind it.
    await new Promise((resolve) => setTimeout(resolve, COMMAND_TIMEOUT_MS / 2));
    await dev.command(heir.port, "CLUSTER", "FAILOVER", "TAKEOVER");
    promotedAt = await everyNodeSeesPrimary(dev, heir.id);
    // Load keeps coming until well after the promotion: 2 deadlines' worth.
    while (performance.now() < promotedAt + 2 * COMMAND_TIMEOUT_MS) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    clearInterval(ticker);
    await Promise.all(pending);
  } finally {
    clearInterval(ticker);
    proxied.healAll();
  }
  // The old primary rejoins as a replica of its heir.
  await dev.waitForHealthy();
  const probeKey = keyInSlot(slots[0]!, "after-heal");
  return {
    outcomes,
    promotedAt,
    discardedBytes: proxy.counters.discarded.toServer,
    primaryAtEnd: client.topology?.shardOf(slots[0]!)?.primary.address,
    heirAddress: proxied.proxyOf(heir.port).address,
    probe: async () => [await client.set(probeKey, "1"), await client.get(probeKey)],
  };
}

describe("a primary partitioned from the client while the cluster fails over behind it", () => {
  it("every command ends by its deadline with a typed error or a reply; soon after the promotion, all succeed", async () => {
    const run = await partition();
    expect(run.discardedBytes).toBeGreaterThan(0);
    const late = run.outcomes.filter((o) => o.settledAt - o.startedAt > COMMAND_TIMEOUT_MS + TIMER_SLACK_MS);
    expect(late.length).toBe(0);
    const failures = run.outcomes.filter((o) => o.error !== undefined);
    const untyped = failures.filter(
      (o) => !(o.error instanceof TimeoutError || o.error instanceof ConnectionError),
    );
    expect(untyped.map((o) => describeError(o.error))).toEqual([]);
    // The client cannot hear from the old primary: it finds out when that node's commands
    // reach their deadline (and the connection is reset as stalled), then refreshes. From
    // one deadline plus RECOVERY_BUDGET_MS after the promotion on, nothing fails.
    const settledDown = run.outcomes.filter(
      (o) => o.startedAt >= run.promotedAt + COMMAND_TIMEOUT_MS + RECOVERY_BUDGET_MS,
    );
    expect(settledDown.length).toBeGreaterThan(100);
    expect(settledDown.filter((o) => o.error).map((o) => describeError(o.error))).toEqual([]);
    expect(run.primaryAtEnd).toBe(run.heirAddress);
    expect(await run.probe()).toEqual(["OK", "1"]);
  });

  // Was a bug: after the stall reset, commands were resent by the old table (before the
  // refresh it triggered had ended), onto a new connection to the same silent node.
  it("commands issued after the promotion succeed within commandTimeout", async () => {
    const run = await partition();
    const afterPromotion = run.outcomes.filter((o) => o.startedAt >= run.promotedAt);
    expect(afterPromotion.length).toBeGreaterThan(100);
    expect(afterPromotion.filter((o) => o.error).map((o) => describeError(o.error))).toEqual([]);
  });
});
