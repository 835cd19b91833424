/**
 * Socket.IO servers for the compatibility tests: each on 127.0.0.1 port 0, with the sharded
 * Redis adapter over its own pair of `rediscluster/ioredis` clients, and clients connected
 * to them over websockets.
 */
import { once } from "node:events";
import { createServer, type Server as HttpServer } from "node:http";
import type { AddressInfo } from "node:net";
import { createAdapter, createShardedAdapter } from "@socket.io/redis-adapter";
import { Server } from "socket.io";
import { type Socket as ClientSocket, io as connectClient } from "socket.io-client";
import { Cluster } from "../../src/compat/ioredis/index.js";

export interface AdapterServer {
  io: Server;
  http: HttpServer;
  port: number;
  pub: Cluster;
  sub: Cluster;
  close(): Promise<void>;
}

/**
 * A Socket.IO server whose adapter publishes and subscribes through the cluster at `seeds`:
 * the sharded adapter (SSUBSCRIBE/SPUBLISH) or the classic one (PSUBSCRIBE/PUBLISH).
 */
export async function startAdapterServer(
  seeds: readonly string[],
  channelPrefix: string,
  kind: "sharded" | "classic" = "sharded",
): Promise<AdapterServer> {
  const pub = new Cluster(seeds);
  const sub = pub.duplicate();
  await Promise.all([once(pub, "ready"), once(sub, "ready")]);
  const http = createServer();
  const adapter =
    kind === "sharded"
      ? createShardedAdapter(pub, sub, { channelPrefix })
      : createAdapter(pub, sub, { key: channelPrefix });
  const io = new Server(http, { adapter });
  http.listen(0, "127.0.0.1");
  await once(http, "listening");
  const port = (http.address() as AddressInfo).port;
  return {
    io,
    http,
    port,
    pub,
    sub,
    async close() {
      await new Promise<void>((resolve) => io.close(() => resolve()));
      await Promise.all([pub.quit().catch(() => pub.disconnect()), sub.quit().catch(() => sub.disconnect())]);
    },
  };
}

/** A websocket client of `server`, connected. */
export async function connectTo(server: AdapterServer): Promise<ClientSocket> {
  const socket = connectClient(`http://127.0.0.1:${server.port}`, {
    transports: ["websocket"],
    reconnection: false,
  });
  await new Promise<void>((resolve, reject) => {
    socket.once("connect", resolve);
    socket.once("connect_error", reject);
  });
  return socket;
}

/** The next `event` a client receives, with its first argument. */
export function nextEvent(socket: ClientSocket, event: string): Promise<unknown> {
  return new Promise((resolve) => socket.once(event, (value: unknown) => resolve(value)));
}
