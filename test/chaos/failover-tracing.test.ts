/**
 * Tracing through a failover, on a cluster of this file's own (issue 13: the channels were
 * only seen on a steady cluster): every command sent while a primary hands over to its
 * replica is one complete `rediscluster:command` trace, ending on the node that answered it,
 * its redirections counted as the client's stats count them; `rediscluster:topology`
 * reports the two nodes whose roles changed.
 */
import { afterEach, describe, expect, it } from "vitest";
import type { DevNode } from "../../src/dev/index.js";
import { CHANNELS, type TopologyMessage } from "../../src/index.js";
import { useClients } from "../helpers/client.js";
import { withDevCluster } from "../helpers/cluster.js";
import { keyInSlot } from "../helpers/keys.js";
import { recordChannel, recordTracing, traces } from "../helpers/tracing.js";

const cluster = withDevCluster({ primaries: 3, replicasPerPrimary: 1 });
const clients = useClients();

/** The failover a test did, undone after it (the old primary takes its role back). */
const undo: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const step of undo.splice(0).reverse()) await step();
});

describe("tracing through a failover", () => {
  it("one complete trace per command, ending on the node that answered; the roles that changed are published", async () => {
    const dev = cluster();
    const nodes = await dev.refresh();
    const replica = nodes.filter((node) => node.role === "replica").sort((a, b) => a.port - b.port)[0]!;
    const primary = nodes.find((node) => node.id === replica.primaryId) as DevNode;
    const key = keyInSlot(primary.slots[0]![0] + 3, "traced-failover");
    const client = clients.create({ nodes: dev.seeds });
    expect(await client.set(key, "v")).toBe("OK");

    const recorded = recordTracing(CHANNELS.command);
    const topology = recordChannel(CHANNELS.topology) as TopologyMessage[];
    let sent = 0;
    let stop = false;
    const worker = async () => {
      while (!stop) {
        sent++;
        expect(await client.get(key)).toBe("v");
      }
    };
    const workers = Array.from({ length: 4 }, worker);
    await dev.failover(replica.port);
    undo.push(async () => {
      await dev.failover(primary.port);
      await dev.waitForHealthy();
    });
    // Traffic on, until a command has been answered by the new primary.
    const newPrimaryAnswered = () =>
      traces(recorded).some((trace) => trace.at(-1)?.snapshot.serverPort === replica.port);
    while (!newPrimaryAnswered()) await client.get(key);
    stop = true;
    await Promise.all(workers);

    const commandTraces = traces(recorded);
    // The GETs of the loop above are traced too: at least as many traces as the workers sent.
    expect(commandTraces.length).toBeGreaterThanOrEqual(sent);
    for (const trace of commandTraces) {
      expect(trace.map(({ event }) => event)).toEqual(["start", "end", "asyncStart", "asyncEnd"]);
      const last = trace.at(-1)!.snapshot;
      expect([primary.port, replica.port]).toContain(last.serverPort);
      expect(last.attempts as number).toBeGreaterThan(last.redirections as number);
    }
    // Redirections in the traces are the ones the client followed.
    const redirections = commandTraces.reduce(
      (sum, trace) => sum + (trace.at(-1)!.snapshot.redirections as number),
      0,
    );
    const stats = client.stats();
    expect(redirections).toBe(stats.moved + stats.ask);
    // The refresh that the first MOVED asked for (or this one, if it is still deferred) saw
    // the failover: the replica is now a primary, the primary a replica.
    await client.refreshTopology();
    const changes = topology.flatMap((message) => message.rolesChanged);
    expect(changes).toEqual(
      expect.arrayContaining([
        { address: `${replica.host}:${replica.port}`, from: "replica", to: "primary" },
        { address: `${primary.host}:${primary.port}`, from: "primary", to: "replica" },
      ]),
    );
  });
});
