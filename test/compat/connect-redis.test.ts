/**
 * connect-redis 9 with express-session on `rediscluster/node-redis`, on the shared cluster,
 * over real HTTP. connect-redis calls `get`, `set(key, value, { expiration: { type: "EX" } })`,
 * `expire`, `del([key])`, `mGet`, and lists sessions by scanning each of `masters` through
 * `nodeClient(master).scanIterator({ MATCH, COUNT })`. Its run through a failover is in
 * test/chaos/compat-libraries.test.ts.
 */
import { afterEach, describe, expect, it } from "vitest";
import { sharedDevCluster } from "../helpers/cluster.js";
import { tagFor } from "./facades.js";
import { browser, type SessionApp, startSessionApp } from "./session-app.js";

const apps: SessionApp[] = [];
afterEach(async () => {
  await Promise.all(apps.splice(0).map((app) => app.close()));
});

describe("connect-redis on rediscluster/node-redis", () => {
  it("keeps an Express session across requests, with its TTL, lists and destroys it", async () => {
    const dev = await sharedDevCluster();
    const prefix = `${tagFor("sess").replace(/[{}]/g, "")}:`;
    const app = await startSessionApp(dev.seeds, prefix);
    apps.push(app);
    const alice = browser(app.url);
    const bob = browser(app.url);
    expect((await alice("/visit")).body.visits).toBe(1);
    expect((await alice("/visit")).body.visits).toBe(2);
    const { body } = await alice("/visit");
    expect(body.visits).toBe(3);
    expect((await bob("/visit")).body.visits).toBe(1);

    const key = `${prefix}${body.id as string}`;
    expect(JSON.parse(String(await app.client.native.get(key)))).toMatchObject({ visits: 3 });
    expect(Number(await app.client.native.ttl(key))).toBeGreaterThan(86_000); // the default day
    // Listing scans every primary; the two sessions are there, whichever slots they are in.
    const all = await new Promise<unknown[]>((resolve, reject) =>
      app.store.all((error, sessions) => (error ? reject(error) : resolve(sessions as unknown[]))),
    );
    expect(all).toHaveLength(2);

    expect((await alice("/logout")).body.ok).toBe(true);
    expect(await app.client.native.exists(key)).toBe(0);
    expect((await alice("/visit")).body.visits).toBe(1); // a new session
  });
});
