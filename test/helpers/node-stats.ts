/**
 * What one node of a dev cluster did, read from the node itself: the tests' proof that a
 * command went where it should (or did not go at all).
 */
import type { DevCluster } from "../../src/dev/index.js";
import { keySlot } from "../../src/index.js";

/**
 * `calls` of a command on the node at `port`, from `INFO commandstats` (`get`, `evalsha`,
 * `cluster|shards`, ...); 0 when the node never ran it.
 */
export async function commandCalls(dev: DevCluster, port: number, command: string): Promise<number> {
  const info = String(await dev.command(port, "INFO", "commandstats"));
  const name = command.toLowerCase().replace("|", "\\|");
  const match = new RegExp(`^cmdstat_${name}:calls=(\\d+)`, "m").exec(info);
  return match ? Number(match[1]) : 0;
}

/** The port of the primary that serves `key`, as the cluster says now. */
export async function primaryPortOf(dev: DevCluster, key: string): Promise<number> {
  const slot = keySlot(key);
  const nodes = await dev.refresh();
  const owner = nodes.find(
    (node) => node.role === "primary" && node.slots.some(([first, last]) => slot >= first && slot <= last),
  );
  if (owner === undefined) throw new Error(`no primary serves slot ${slot}`);
  return owner.port;
}
