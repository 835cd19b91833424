/**
 * Maintenance notifications (src/cluster/maintenance.ts) against scripted fake nodes: no
 * local server sends them (they come from Redis Cloud / Redis Software, and from Redis 8's
 * atomic slot migration), so the fakes send the pushes exactly as those servers document
 * them. The handshake asks for them; MIGRATING / FAILING_OVER / SMIGRATING relax deadlines
 * until their end; MIGRATED / FAILED_OVER read the topology again; SMIGRATED patches the slot
 * table; MOVING moves traffic to the new endpoint before the old one drops.
 */
import { channel } from "node:diagnostics_channel";
import { afterEach, describe, expect, it } from "vitest";
import { keySlot } from "../../src/command/slot.js";
import type { RespVersion } from "../../src/command/types.js";
import {
  CHANNELS,
  ConfigError,
  type MaintenanceEvent,
  RedisCluster,
  type RedisClusterCommonOptions,
  TimeoutError,
  type UnroutedPush,
} from "../../src/index.js";
import { watchEscapes } from "../helpers/escapes.js";
import { keyInSlot } from "../helpers/keys.js";
import { PushFrame } from "../helpers/reply-encoder.js";
import { waitFor } from "../helpers/wait.js";
import {
  closeAllFakes,
  delayed,
  error,
  FakeCluster,
  type FakeServer,
  type ReceivedCommand,
  startFakeServer,
} from "./resp-server.js";

const unhandled = watchEscapes();

const clients: RedisCluster<RespVersion>[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await closeAllFakes();
  expect(unhandled.splice(0), "unhandled rejections").toEqual([]);
});

/** The command budget of these tests' clients; replies delayed past it time out unless relaxed. */
const COMMAND_TIMEOUT_MS = 800;
/** How late the fake answers a "slow" GET: well past the budget, well within the relaxed time. */
const SLOW_REPLY_MS = 2000;
const RELAXED_TIMEOUT_MS = 5000;

function client(
  nodes: string[],
  options: Omit<RedisClusterCommonOptions<RespVersion>, "nodes"> = {},
): RedisCluster<RespVersion> {
  const cluster = new RedisCluster<RespVersion>({
    nodes,
    protocol: 3,
    refreshInterval: 0,
    minRefreshInterval: 0,
    commandTimeout: COMMAND_TIMEOUT_MS,
    maintenanceNotifications: { relaxedTimeout: RELAXED_TIMEOUT_MS },
    ...options,
  });
  clients.push(cluster);
  return cluster;
}

function maintenanceEvents(redis: RedisCluster<RespVersion>): MaintenanceEvent[] {
  const events: MaintenanceEvent[] = [];
  redis.on("maintenance", (event) => events.push(event));
  return events;
}

/** GET answers: "slow" keys after SLOW_REPLY_MS, a push first when the key names one. */
function serveGets(node: FakeServer, pushes: Record<string, PushFrame> = {}): void {
  node.handle("GET", (command: ReceivedCommand) => {
    const key = command.argv[0] ?? "";
    const push = pushes[key];
    if (push !== undefined) command.connection.send(push);
    return key.includes("slow") ? delayed(SLOW_REPLY_MS, `v-${key}`) : `v-${key}`;
  });
}

describe("the handshake", () => {
  it("asks for notifications after HELLO 3 (internal-ip for a loopback node), on every command connection", async () => {
    const cluster = await FakeCluster.start(1);
    const redis = client(cluster.seeds);
    await redis.get("k");
    const asked = cluster.nodes[0]!.received("CLIENT").map(String);
    expect(asked.length).toBeGreaterThan(0);
    expect(new Set(asked)).toEqual(
      new Set(["CLIENT MAINT_NOTIFICATIONS ON moving-endpoint-type internal-ip"]),
    );
    // In the handshake: right after HELLO on its connection.
    const first = cluster.nodes[0]!.received("CLIENT")[0]!;
    expect(first.previous?.name).toBe("HELLO");
  });

  it("a server that does not know the command refuses it, and the connection works on", async () => {
    const cluster = await FakeCluster.start(1);
    const node = cluster.nodes[0]!;
    node.handle("CLIENT", error("ERR unknown subcommand 'MAINT_NOTIFICATIONS'. Try CLIENT HELP."));
    const redis = client(cluster.seeds, { idleTimeout: 200 });
    expect(await redis.set("k", "v")).toBe("OK");
    expect(await redis.get("k")).toBe("v");
    const asked = node.count("CLIENT");
    expect(asked).toBeGreaterThan(0);
    // Refused once, not asked again by this client while its sockets to the node end as it
    // chose: the reconnect after an idle close goes without.
    await waitFor("the idle close", 5_000, () => node.connections.every((connection) => connection.closed));
    const afterIdle = node.nextConnection();
    expect(await redis.get("k")).toBe("v");
    await afterIdle;
    expect(node.count("CLIENT")).toBe(asked);
    // A socket lost is maybe a node restarted as a version that has the command: asked again.
    for (const connection of node.connections) connection.destroy();
    const afterLoss = node.nextConnection();
    expect(await redis.get("k")).toBe("v");
    await afterLoss;
    expect(node.count("CLIENT")).toBe(asked + 1);
    // ... and, refused again, not after the next idle close.
    await waitFor("the idle close", 5_000, () => node.connections.every((connection) => connection.closed));
    const again = node.nextConnection();
    expect(await redis.get("k")).toBe("v");
    await again;
    expect(node.count("CLIENT")).toBe(asked + 1);
  });

  it("the endpoint type asked for can be chosen; false or RESP2 asks nothing; RESP2 + true is a ConfigError", async () => {
    const cluster = await FakeCluster.start(1);
    const none = client(cluster.seeds, { maintenanceNotifications: { endpointType: "none" } });
    await none.get("k");
    expect(cluster.nodes[0]!.received("CLIENT").map(String)).toContain(
      "CLIENT MAINT_NOTIFICATIONS ON moving-endpoint-type none",
    );
    cluster.nodes[0]!.clearRecords();
    await client(cluster.seeds, { maintenanceNotifications: false }).get("k");
    await client(cluster.seeds, { protocol: 2, maintenanceNotifications: undefined }).get("k");
    expect(cluster.nodes[0]!.received("CLIENT")).toEqual([]);
    expect(() => client(cluster.seeds, { protocol: 2, maintenanceNotifications: true })).toThrow(ConfigError);
    expect(() =>
      client(cluster.seeds, { maintenanceNotifications: { endpointType: "sideways" as "none" } }),
    ).toThrow(/endpointType must be one of/);
  });
});

describe.each([
  ["MIGRATING", "MIGRATED"],
  ["FAILING_OVER", "FAILED_OVER"],
] as const)("%s … %s", (start, end) => {
  it("relaxes the deadline of what is in flight and of what is sent while it lasts; then reads the topology", async () => {
    const cluster = await FakeCluster.start(1);
    const node = cluster.nodes[0]!;
    serveGets(node, {
      "slow-announced": new PushFrame([start, 7, 15, ["shard-1"]]),
      "end-now": new PushFrame([end, 8, ["shard-1"]]),
    });
    const redis = client(cluster.seeds);
    const events = maintenanceEvents(redis);
    await redis.connect();
    // Without a notification, a reply later than the budget is a timeout.
    await expect(redis.get("slow-unannounced")).rejects.toThrow(TimeoutError);
    // The push arrives before the slow reply, on the same connection: the GET waits for it.
    expect(await redis.get("slow-announced")).toBe("v-slow-announced");
    // While the window is open, a command sent to the node gets the relaxed time too.
    expect(await redis.get("slow-later")).toBe("v-slow-later");
    const refreshesBefore = redis.stats().refreshes;
    expect(await redis.get("end-now")).toBe("v-end-now");
    await waitFor("a refresh after the end", 5_000, () => redis.stats().refreshes > refreshesBefore);
    await expect(redis.get("slow-after")).rejects.toThrow(TimeoutError);
    expect(events.map(({ kind, seq, address }) => [kind, seq, address])).toEqual([
      [start, 7, node.address],
      [end, 8, node.address],
    ]);
    expect(events[0]!.seconds).toBe(15);
    expect(redis.stats().maintenanceNotifications).toBe(2);
  });
});

describe("SMIGRATING … SMIGRATED (slot migration)", () => {
  it("SMIGRATING relaxes the deadline of what is in flight and sent while it lasts; SMIGRATED ends it", async () => {
    const cluster = await FakeCluster.start(1);
    const node = cluster.nodes[0]!;
    serveGets(node, {
      "slow-announced": new PushFrame(["SMIGRATING", 41, "5-9"]),
      "end-now": new PushFrame(["SMIGRATED", 42, [[node.address, node.address, "5-9"]]]),
    });
    const redis = client(cluster.seeds);
    const events = maintenanceEvents(redis);
    await redis.connect();
    await expect(redis.get("slow-unannounced")).rejects.toThrow(TimeoutError);
    expect(await redis.get("slow-announced")).toBe("v-slow-announced");
    expect(await redis.get("slow-later")).toBe("v-slow-later");
    expect(await redis.get("end-now")).toBe("v-end-now");
    await expect(redis.get("slow-after")).rejects.toThrow(TimeoutError);
    expect(events.map(({ kind, seq }) => [kind, seq])).toEqual([
      ["SMIGRATING", 41],
      ["SMIGRATED", 42],
    ]);
  });

  it("patches the moved slots to their new owner at once: no MOVED, and a refresh confirms", async () => {
    const cluster = await FakeCluster.start(2);
    const [source, target] = cluster.nodes as [FakeServer, FakeServer];
    const key = keyInSlot(100, "migrated");
    expect(cluster.ownerOfKey(key)).toBe(source);
    const redis = client(cluster.seeds);
    await redis.set(key, "before");
    const events = maintenanceEvents(redis);
    const published: unknown[] = [];
    const onMessage = (message: unknown) => published.push(message);
    channel(CHANNELS.maintenance).subscribe(onMessage);
    try {
      // The node announces the migration, moves the slots, and says where they went.
      source.connections.at(-1)!.send(new PushFrame(["SMIGRATING", 21, "100-200"]));
      await waitFor("SMIGRATING taken", 3_000, () => events.length === 1);
      target.store.set(key, Buffer.from("after"));
      cluster.assign(100, 200, 1);
      source.connections
        .at(-1)!
        .send(new PushFrame(["SMIGRATED", 22, [[source.address, target.address, "100-200"]]]));
      await waitFor("SMIGRATED taken", 3_000, () => events.length === 2);
      const getsOnSource = source.received("GET").length;
      expect(await redis.get(key)).toBe("after");
      expect(source.received("GET").length).toBe(getsOnSource);
      expect(redis.stats().moved).toBe(0);
      expect(events[1]).toMatchObject({
        kind: "SMIGRATED",
        seq: 22,
        moved: [{ from: source.address, to: target.address, slots: 101 }],
      });
      expect(published).toEqual(events);
      await waitFor("the refresh", 5_000, () => redis.stats().refreshes >= 2);
      expect(redis.topology?.shardOf(keySlot(key))?.primary.address).toBe(target.address);
    } finally {
      channel(CHANNELS.maintenance).unsubscribe(onMessage);
    }
  });
});

describe("MOVING (the node's endpoint moves)", () => {
  it("opens a connection to the new endpoint, moves traffic there once it is ready, and retires the old one", async () => {
    const cluster = await FakeCluster.start(1);
    const old = cluster.nodes[0]!;
    const moved = await startFakeServer();
    moved.handle("GET", (command) => `from-new-${command.argv[0]}`);
    old.handle("GET", (command) => {
      if (command.argv[0] === "trigger")
        command.connection.send(new PushFrame(["MOVING", 31, 2, `127.0.0.1:${moved.port}`]));
      return `from-old-${command.argv[0]}`;
    });
    const redis = client(cluster.seeds);
    const events = maintenanceEvents(redis);
    expect(await redis.get("trigger")).toBe("from-old-trigger");
    await waitFor("traffic on the new endpoint", 5_000, async () => (await redis.get("k")) === "from-new-k");
    // The new connection was set up like any other: HELLO, then the notifications asked for.
    expect(moved.commands.slice(0, 2).map((command) => command.name)).toEqual(["HELLO", "CLIENT"]);
    // The old shared connection is closed by the client once its replies are in.
    await waitFor("the old connection closed", 5_000, () =>
      old.connections
        .filter((connection) => connection.commands.some((c) => c.name === "GET"))
        .every((c) => c.closed),
    );
    expect(events).toEqual([
      expect.objectContaining({ kind: "MOVING", seq: 31, seconds: 2, target: `127.0.0.1:${moved.port}` }),
    ]);
    // The node keeps its name; after the grace period the topology is read again.
    expect(redis.nodes("all").map((node) => node.address)).toEqual([old.address]);
    const refreshes = redis.stats().refreshes;
    await waitFor("a refresh after the grace period", 10_000, () => redis.stats().refreshes > refreshes);
  });

  it("to an endpoint outside connectTo: no connection there, traffic stays", async () => {
    const cluster = await FakeCluster.start(1);
    const old = cluster.nodes[0]!;
    const outside = await startFakeServer(0, "127.0.0.2");
    old.handle("GET", (command) => {
      if (command.argv[0] === "trigger")
        command.connection.send(new PushFrame(["MOVING", 32, 1, `127.0.0.2:${outside.port}`]));
      return "from-old";
    });
    const redis = client(cluster.seeds, { connectTo: { hosts: ["127.0.0.1"] } });
    const events = maintenanceEvents(redis);
    expect(await redis.get("trigger")).toBe("from-old");
    await waitFor("the notification", 3_000, () => events.length === 1);
    expect(await redis.get("k")).toBe("from-old");
    expect(outside.connections).toEqual([]);
  });

  it("without an endpoint (type none): reconnects to the same address half-way through the grace period", async () => {
    const cluster = await FakeCluster.start(1);
    const node = cluster.nodes[0]!;
    node.handle("GET", (command) => {
      if (command.argv[0] === "trigger") command.connection.send(new PushFrame(["MOVING", 33, 1, null]));
      return "v";
    });
    const redis = client(cluster.seeds, { maintenanceNotifications: { endpointType: "none" } });
    await redis.get("trigger");
    const gettingBefore = node.connections.filter((connection) =>
      connection.commands.some((c) => c.name === "GET"),
    );
    await waitFor("a GET on a new connection", 5_000, async () => {
      await redis.get("k");
      return node.connections.some(
        (connection) =>
          !gettingBefore.includes(connection) && connection.commands.some((c) => c.name === "GET"),
      );
    });
    await waitFor("the old one closed", 5_000, () => gettingBefore.every((connection) => connection.closed));
  });
});

describe("what is not acted on", () => {
  it("malformed notifications are reported as pushes; repeats are taken once", async () => {
    const cluster = await FakeCluster.start(1);
    const node = cluster.nodes[0]!;
    serveGets(node);
    const redis = client(cluster.seeds);
    const events = maintenanceEvents(redis);
    const pushes: UnroutedPush[] = [];
    redis.on("push", (push) => pushes.push(push));
    await redis.get("k");
    const connection = node.connections.at(-1)!;
    connection.send(new PushFrame(["MIGRATING", "not-a-number", 5, []]));
    connection.send(new PushFrame(["SMIGRATED", 3, "not-triplets"]));
    connection.send(new PushFrame(["SMIGRATED", 4, [["127.0.0.1:1", "127.0.0.1:2", "16384-99999"]]]));
    connection.send(new PushFrame(["MOVING", 5, 1, "no-port-here"]));
    connection.send(new PushFrame(["FAILING_OVER", 6, 1, []]));
    connection.send(new PushFrame(["FAILING_OVER", 6, 1, []]));
    expect(await redis.get("k")).toBe("v-k");
    await waitFor("the pushes", 3_000, () => pushes.length === 4 && events.length === 1);
    expect(pushes.map(({ kind }) => kind)).toEqual(["migrating", "smigrated", "smigrated", "moving"]);
    expect(events.map(({ kind, seq }) => [kind, seq])).toEqual([["FAILING_OVER", 6]]);
  });
});
