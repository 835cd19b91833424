/**
 * Blocking commands on the real cluster: a BLPOP waits on a connection of its own, so a GET
 * to the same node is answered while 50 of them block. Checked by the order of events (the
 * GET is answered while every BLPOP still waits) and by what the server sees (CLIENT LIST).
 */
import { beforeAll, describe, expect, it } from "vitest";
import { keySlot } from "../../src/command/slot.js";
import type { DevCluster } from "../../src/dev/index.js";
import { useClients } from "../helpers/client.js";
import { sharedDevCluster } from "../helpers/cluster.js";
import { waitFor } from "../helpers/wait.js";

const clients = useClients();
let dev: DevCluster;
beforeAll(async () => {
  dev = await sharedDevCluster();
});

/** The port of the primary serving `slot`. */
function primaryPortOf(cluster: DevCluster, slot: number): number {
  const owner = cluster.nodes.find(
    (node) => node.role === "primary" && node.slots.some(([start, end]) => slot >= start && slot <= end),
  );
  if (owner === undefined) throw new Error(`no primary serves slot ${slot}`);
  return owner.port;
}

/** CLIENT LIST of one node, one record per connection. */
async function clientList(port: number): Promise<Array<Map<string, string>>> {
  const text = String(await dev.command(port, "CLIENT", "LIST"));
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) => {
      const fields = new Map<string, string>();
      for (const field of line.trim().split(" ")) {
        const equals = field.indexOf("=");
        fields.set(field.slice(0, equals), field.slice(equals + 1));
      }
      return fields;
    });
}

describe("blocking commands", () => {
  it("50 BLPOPs blocking on a node do not delay a GET to it; each has a connection of its own", async () => {
    const stamp = `${process.pid}-${Date.now()}`;
    const tag = `{blocking-${stamp}}`;
    const port = primaryPortOf(dev, keySlot(tag));
    const clientName = `blocking-test-${stamp}`;
    const client = clients.create({ nodes: dev.seeds, clientName });
    await client.connect();
    await client.set(`${tag}:plain`, "answered");

    const events: string[] = [];
    const lists = Array.from({ length: 50 }, (_, i) => `${tag}:list:${i}`);
    const pops = lists.map((list, i) =>
      client.blpop(list, 5).then((value) => {
        events.push(`blpop ${i}`);
        return value;
      }),
    );
    // Every BLPOP is blocked at the server, each on a connection of its own.
    const ours = async () =>
      (await clientList(port)).filter((connection) => connection.get("name") === clientName);
    await waitFor("50 BLPOPs blocked at the server", 10_000, async () => {
      const blocked = (await ours()).filter((connection) => connection.get("cmd") === "blpop");
      return blocked.length === 50;
    });
    const duringBlocking = await ours();
    expect(duringBlocking.filter((connection) => connection.get("flags")?.includes("b"))).toHaveLength(50);
    // 50 dedicated connections and the node's shared one (today: one new connection per call).
    expect(duringBlocking).toHaveLength(51);

    const get = client.get(`${tag}:plain`).then((value) => {
      events.push("get");
      return value;
    });
    expect(await get).toBe("answered");
    expect(events).toEqual(["get"]);

    // Release them: each BLPOP gets the value pushed to its list.
    await Promise.all(lists.map((list, i) => client.lpush(list, `item-${i}`)));
    expect(await Promise.all(pops)).toEqual(lists.map((list, i) => [list, `item-${i}`]));
    expect(events[0]).toBe("get");
    expect(events).toHaveLength(51);
    // Answered, their connections are closed: only the shared one is left.
    await waitFor("the dedicated connections to close", 10_000, async () => (await ours()).length === 1);
  });
});
