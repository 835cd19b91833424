/**
 * An Express app whose sessions live in the cluster (express-session + connect-redis over
 * `rediscluster/node-redis`), on 127.0.0.1 port 0, and a cookie-keeping HTTP caller.
 */
import { once } from "node:events";
import type { Server } from "node:http";
import type { AddressInfo } from "node:net";
import { RedisStore } from "connect-redis";
import express from "express";
import session from "express-session";
import { createCluster, type NodeRedisCluster } from "../../src/compat/node-redis/index.js";

declare module "express-session" {
  interface SessionData {
    visits: number;
  }
}

export interface SessionApp {
  client: NodeRedisCluster;
  store: RedisStore;
  url: string;
  close(): Promise<void>;
}

/** Starts the app: `GET /visit` counts visits in the session, `GET /logout` destroys it. */
export async function startSessionApp(seeds: readonly string[], prefix: string): Promise<SessionApp> {
  const client = createCluster({ rootNodes: seeds.map((seed) => ({ url: `redis://${seed}` })) });
  await client.connect();
  // connect-redis is typed for node-redis's own classes; the facade has the members it uses.
  const store = new RedisStore({
    client: client as unknown as ConstructorParameters<typeof RedisStore>[0]["client"],
    prefix,
  });
  const app = express();
  app.use(session({ store, secret: "test-only-secret", resave: false, saveUninitialized: false }));
  app.get("/visit", (request, response) => {
    request.session.visits = (request.session.visits ?? 0) + 1;
    response.json({ visits: request.session.visits, id: request.sessionID });
  });
  app.get("/logout", (request, response, next) => {
    request.session.destroy((error) => (error ? next(error) : response.json({ ok: true })));
  });
  const server: Server = app.listen(0, "127.0.0.1");
  await once(server, "listening");
  const { port } = server.address() as AddressInfo;
  return {
    client,
    store,
    url: `http://127.0.0.1:${port}`,
    async close() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      await client.close();
    },
  };
}

/** An HTTP caller that keeps the session cookie between requests, as a browser does. */
export function browser(
  base: string,
): (path: string) => Promise<{ status: number; body: Record<string, unknown> }> {
  let cookie: string | undefined;
  return async (path) => {
    const response = await fetch(`${base}${path}`, { headers: cookie === undefined ? {} : { cookie } });
    const set = response.headers.get("set-cookie");
    if (set !== null) cookie = set.split(";")[0];
    return { status: response.status, body: (await response.json()) as Record<string, unknown> };
  };
}
