/**
 * @socket.io/redis-adapter's sharded adapter (`createShardedAdapter`, SSUBSCRIBE/SPUBLISH)
 * on `rediscluster/ioredis`, on the shared cluster: two Socket.IO servers, each with its own
 * publisher and subscriber. The adapter subscribes with `ssubscribe(channel)` and listens to
 * `smessageBuffer`; it counts servers with PUBSUB SHARDNUMSUB sent to every node of
 * `nodes()` through `send_command`. Its run across a reshard is in
 * test/chaos/compat-libraries.test.ts.
 */
import { afterEach, describe, expect, it } from "vitest";
import { sharedDevCluster } from "../helpers/cluster.js";
import { waitFor } from "../helpers/wait.js";
import { tagFor } from "./facades.js";
import { type AdapterServer, connectTo, nextEvent, startAdapterServer } from "./socket-io-servers.js";

const servers: AdapterServer[] = [];
const sockets: Array<{ disconnect(): unknown }> = [];
afterEach(async () => {
  for (const socket of sockets.splice(0)) socket.disconnect();
  await Promise.all(servers.splice(0).map((server) => server.close()));
});

/** Two Socket.IO servers on one channel prefix, both subscribed, and a client socket on each. */
async function twoServers(label: string, kind: "sharded" | "classic") {
  const dev = await sharedDevCluster();
  const prefix = tagFor(label);
  const [a, b] = await Promise.all([
    startAdapterServer(dev.seeds, prefix, kind),
    startAdapterServer(dev.seeds, prefix, kind),
  ]);
  servers.push(a, b);
  // The adapter subscribes without waiting; both servers count once both subscriptions are in.
  await waitFor(
    "both servers to be subscribed",
    10_000,
    async () => (await a.io.of("/").adapter.serverCount()) === 2,
  );
  const onA = await connectTo(a);
  const onB = await connectTo(b);
  sockets.push(onA, onB);
  return { a, b, onA, onB };
}

describe("Socket.IO sharded adapter on rediscluster/ioredis", () => {
  it("broadcasts between two servers, to rooms, and fetches sockets across them", async () => {
    const { a, b, onA, onB } = await twoServers("sio", "sharded");

    const bothHear = Promise.all([nextEvent(onA, "news"), nextEvent(onB, "news")]);
    a.io.emit("news", "from a");
    expect(await bothHear).toEqual(["from a", "from a"]);

    // A room has a channel of its own ("dynamic" subscription mode); only its members hear.
    const [socketOnA] = await a.io.in(onA.id!).fetchSockets();
    socketOnA!.join("room-1");
    await waitFor("server b to see the room member", 10_000, async () => {
      return (await b.io.in("room-1").fetchSockets()).length === 1;
    });
    let heardOnB = 0;
    onB.on("room-news", () => heardOnB++);
    const inRoom = nextEvent(onA, "room-news");
    b.io.to("room-1").emit("room-news", "from b");
    expect(await inRoom).toBe("from b");
    // A broadcast to everyone after it, heard by onB, proves onB would have had the room's by now.
    const after = nextEvent(onB, "news");
    b.io.emit("news", "after");
    await after;
    expect(heardOnB).toBe(0);

    const everywhere = await b.io.fetchSockets();
    expect(everywhere.map((socket) => socket.id).sort()).toEqual([onA.id, onB.id].sort());
  });

  it("broadcasts between two servers through the classic adapter (PSUBSCRIBE, pmessageBuffer, PUBSUB NUMSUB)", async () => {
    const { a, b, onA, onB } = await twoServers("sio-classic", "classic");
    const bothHear = Promise.all([nextEvent(onA, "news"), nextEvent(onB, "news")]);
    b.io.emit("news", "from b");
    expect(await bothHear).toEqual(["from b", "from b"]);
    // A request answered by the other server (request/response channels, SUBSCRIBE).
    const everywhere = await a.io.fetchSockets();
    expect(everywhere.map((socket) => socket.id).sort()).toEqual([onA.id, onB.id].sort());
  });
});
