/**
 * ACL through the client, on a real cluster whose `default` user is off: user name and
 * password on every connection (replicas too, RESP2 and RESP3), password-only
 * (`requirepass`-style), users who may not read the topology, wrong and rotated passwords
 * (one typed error, with backoff, counted in the server's ACL LOG), and secrets that never
 * show in errors, events or stats.
 */
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import type { DevCluster, DevNode } from "../../src/dev/index.js";
import { AuthError, type RedisCluster, type RedisClusterOptions, ReplyError } from "../../src/index.js";
import { maxAttemptsWithin, pressFor } from "../helpers/attempts.js";
import { useClients } from "../helpers/client.js";
import { withDevCluster } from "../helpers/cluster.js";
import { keyInSlot } from "../helpers/keys.js";
import { commandCalls } from "../helpers/node-stats.js";
import { waitFor } from "../helpers/wait.js";

const APP_PASSWORD = "app-Pw-7f3a9c-never-shown";
const WRONG_PASSWORD = "wrong-Pw-51d2e8-never-shown";
const ROTATED_PASSWORD = "rotated-Pw-c09b44-never-shown";
const DEFAULT_PASSWORD = "default-Pw-a81e37-never-shown";
const SECRETS = [APP_PASSWORD, WRONG_PASSWORD, ROTATED_PASSWORD, DEFAULT_PASSWORD];

/**
 * The permissions the README says a client's user needs, besides the data commands
 * themselves: topology, replicas, redirections, health checks, the client name.
 */
const README_MINIMAL_RULES =
  "+@read +@write +cluster|shards +cluster|info +readonly +asking +info +ping +client|setname";

const cluster = withDevCluster({
  primaries: 3,
  replicasPerPrimary: 1,
  acl: {
    users: [
      { name: "app", password: APP_PASSWORD },
      { name: "blind", password: APP_PASSWORD, rules: "on ~* &* +@all -cluster|shards -cluster|slots" },
      { name: "slotsonly", password: APP_PASSWORD, rules: "on ~* &* +@all -cluster|shards" },
      { name: "minimal", password: APP_PASSWORD, rules: `on ~* &* ${README_MINIMAL_RULES}` },
    ],
  },
});
const clients = useClients();

const CONNECT_TIMEOUT_MS = 1000;
const COMMAND_TIMEOUT_MS = 1000;
/** Timers of a loaded, shared machine fire late; this much on top of connectTimeout is still no hang. */
const SCHEDULING_SLACK_MS = 1000;
/** How long a client with a wrong password is kept busy while its AUTH attempts are counted. */
const PRESS_WINDOW_MS = 2000;

function primaries(dev: DevCluster): DevNode[] {
  return dev.nodes.filter((node) => node.role === "primary");
}

function keyPerPrimary(dev: DevCluster, suffix: string): string[] {
  return primaries(dev).map((node) => keyInSlot(node.slots[0]![0], suffix));
}

/** CLIENT LIST of a node, one record per connection. */
async function clientList(dev: DevCluster, port: number): Promise<Array<Record<string, string>>> {
  const text = String(await dev.command(port, "CLIENT", "LIST"));
  return text
    .split("\n")
    .filter((line) => line.trim() !== "")
    .map((line) =>
      Object.fromEntries(
        line
          .trim()
          .split(" ")
          .map((field) => field.split("=", 2) as [string, string]),
      ),
    );
}

/** Failed AUTH attempts of `username` per node, from ACL LOG (entries count repeats). */
async function failedAuths(dev: DevCluster, username: string): Promise<Map<number, number>> {
  const counts = new Map<number, number>();
  for (const node of dev.nodes) {
    const entries = (await dev.command(node.port, "ACL", "LOG")) as unknown[][];
    let total = 0;
    for (const entry of entries) {
      const fields = Object.fromEntries(
        Array.from({ length: entry.length / 2 }, (_, i) => [String(entry[2 * i]), entry[2 * i + 1]]),
      );
      if (fields.reason === "auth" && fields.username === username) total += Number(fields.count);
    }
    counts.set(node.port, total);
  }
  return counts;
}

async function onEveryNode(dev: DevCluster, ...command: string[]): Promise<void> {
  await Promise.all(dev.nodes.map((node) => dev.command(node.port, ...command)));
}

/** Everything a secret could leak through: the error's text, stack, inspection and JSON. */
function renderings(value: unknown): string[] {
  const texts = [inspect(value, { depth: 10, showHidden: true }), safeJson(value)];
  for (let error = value; error instanceof Error; error = error.cause) {
    texts.push(error.message, error.stack ?? "", safeJson(error));
  }
  return texts;
}

function safeJson(value: unknown): string {
  try {
    return JSON.stringify(value) ?? "";
  } catch {
    return "";
  }
}

function expectNoSecret(what: string, value: unknown): void {
  for (const text of renderings(value)) {
    for (const secret of SECRETS) expect(text.includes(secret), `${what} shows a password`).toBe(false);
  }
}

/** Collects what a client emits, for the secrets check. */
function recordEvents(client: RedisCluster<2 | 3>): unknown[] {
  const events: unknown[] = [];
  for (const name of ["error", "nodeError", "ready", "topology", "moved", "ask"] as const) {
    client.on(name, (...payload: unknown[]) => events.push({ name, payload: payload[0] }));
  }
  return events;
}

describe("user name and password", () => {
  it.each([2, 3] as const)(
    "authenticate every connection, replicas included, as that user (RESP%s)",
    async (protocol) => {
      const dev = cluster();
      const clientName = `acl-app-resp${protocol}`;
      const client = clients.create({
        nodes: dev.seeds,
        username: "app",
        password: APP_PASSWORD,
        protocol,
        readFrom: "replica",
        clientName,
      });
      const keys = keyPerPrimary(dev, `acl-${protocol}`);
      await client.mset(Object.fromEntries(keys.map((key) => [key, "v"])));
      // Reads go to replicas, which may lag behind the write: read until each has it.
      for (const key of keys)
        await waitFor(`a replica to serve ${key}`, 10_000, async () => (await client.get(key)) === "v");
      for (const node of dev.nodes) {
        const ours = (await clientList(dev, node.port)).filter((entry) => entry.name === clientName);
        expect(ours.length, `connections of the client on ${node.address} (${node.role})`).toBeGreaterThan(0);
        for (const entry of ours) {
          expect(entry.user).toBe("app");
          expect(entry.resp).toBe(String(protocol));
        }
      }
      expect(await client.del(...keys)).toBe(3);
    },
  );

  it("a wrong password is one typed error, with backoff: no storm of AUTH attempts", async () => {
    const dev = cluster();
    await onEveryNode(dev, "ACL", "LOG", "RESET");
    const client = clients.create({
      nodes: primaries(dev).map((node) => node.address),
      username: "app",
      password: WRONG_PASSWORD,
      connectTimeout: CONNECT_TIMEOUT_MS,
      commandTimeout: COMMAND_TIMEOUT_MS,
    });
    const events = recordEvents(client);
    const startedAt = performance.now();
    const error = await client.connect().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(performance.now() - startedAt).toBeLessThan(CONNECT_TIMEOUT_MS + SCHEDULING_SLACK_MS);
    expect(error).toBeInstanceOf(AuthError);
    expect((error as Error).message).toMatch(/refused the credentials \(WRONGPASS\)/);
    const nodeError = events.find((event) => (event as { name: string }).name === "nodeError") as
      | { payload: { error: AuthError } }
      | undefined;
    expect(nodeError).toBeDefined();
    const nodeFailure = nodeError!.payload.error;
    expect(nodeFailure).toBeInstanceOf(AuthError);
    expect(nodeFailure.cause).toBeInstanceOf(ReplyError);
    expect((nodeFailure.cause as ReplyError).code).toBe("WRONGPASS");

    await pressFor(client, PRESS_WINDOW_MS);
    // The ACL LOG was reset before connect(): its attempts count too.
    const windowMs = performance.now() - startedAt;
    const attempts = await failedAuths(dev, "app");
    for (const [port, count] of attempts) {
      expect(count, `failed AUTHs on ${port} in ${Math.round(windowMs)} ms`).toBeLessThanOrEqual(
        maxAttemptsWithin(windowMs),
      );
    }
    expect([...attempts.values()].some((count) => count > 0)).toBe(true);
    expectNoSecret("the connect() error", error);
    expectNoSecret("an event", events);
    expectNoSecret("stats()", client.stats());
  });

  it("no password where the default user is off: NOAUTH, typed, and it says so", async () => {
    const dev = cluster();
    const client = clients.create({
      nodes: dev.seeds,
      connectTimeout: CONNECT_TIMEOUT_MS,
      commandTimeout: COMMAND_TIMEOUT_MS,
    });
    await expect(client.connect()).rejects.toThrow(AuthError);
    await expect(client.connect()).rejects.toThrow(/NOAUTH Authentication required/);
  });

  it("secrets never show in a command's error, its events or stats, on success or failure", async () => {
    const dev = cluster();
    const good = clients.create({ nodes: dev.seeds, username: "app", password: APP_PASSWORD });
    const goodEvents = recordEvents(good);
    const [key] = keyPerPrimary(dev, "acl-secrets");
    await good.set(key!, "x");
    const wrongType = await good.hget(key!, "f").catch((caught: unknown) => caught);
    expect(wrongType).toBeInstanceOf(ReplyError);
    await good.del(key!);
    expectNoSecret("a ReplyError", wrongType);
    expectNoSecret("the client", good);
    expectNoSecret("an event", goodEvents);
    expectNoSecret("stats()", good.stats());

    const bad = clients.create({
      nodes: dev.seeds,
      username: "app",
      password: WRONG_PASSWORD,
      connectTimeout: CONNECT_TIMEOUT_MS,
      commandTimeout: COMMAND_TIMEOUT_MS,
    });
    const badEvents = recordEvents(bad);
    const failed = await bad.get(key!).catch((caught: unknown) => caught);
    expect(failed).toBeInstanceOf(AuthError);
    expectNoSecret("a failed command's error", failed);
    expectNoSecret("the client", bad);
    expectNoSecret("an event", badEvents);
    expectNoSecret("stats()", bad.stats());
    // The server's ACL LOG names the user, never the password tried.
    for (const node of dev.nodes) expectNoSecret("ACL LOG", await dev.command(node.port, "ACL", "LOG"));
  });

  it("a password rotated on the server: open connections go on; a reconnect fails typed until the old one is back", async () => {
    // A fixed password cannot follow a rotation: the next test does it with `credentials`.
    const dev = cluster();
    const client = clients.create({
      nodes: dev.seeds,
      username: "app",
      password: APP_PASSWORD,
      commandTimeout: COMMAND_TIMEOUT_MS,
      connectTimeout: CONNECT_TIMEOUT_MS,
      clientName: "acl-rotation",
    });
    const keys = keyPerPrimary(dev, "acl-rotation");
    await client.mset(Object.fromEntries(keys.map((key) => [key, "1"])));
    await onEveryNode(dev, "ACL", "SETUSER", "app", `>${ROTATED_PASSWORD}`, `<${APP_PASSWORD}`);
    try {
      // Authenticated connections stay authenticated.
      expect(await client.mget(...keys)).toEqual(["1", "1", "1"]);
      await onEveryNode(dev, "CLIENT", "KILL", "USER", "app");
      const error = await client.mget(...keys).catch((caught: unknown) => caught);
      expect(error).toBeInstanceOf(AuthError);
      expect((error as Error).message).toMatch(/WRONGPASS/);
      expectNoSecret("the error after rotation", error);
    } finally {
      await onEveryNode(dev, "ACL", "SETUSER", "app", `>${APP_PASSWORD}`, `<${ROTATED_PASSWORD}`);
    }
    // The same client recovers on its own once the password it has works again.
    await waitFor("the client to reconnect", 10_000, async () => {
      const values = await client.mget(...keys).catch(() => undefined);
      return values?.every((value) => value === "1") ?? false;
    });
    await client.del(...keys);
  });

  it.each([2, 3] as const)(
    "a credentials provider follows a rotation: asked again on every reconnect, the new password works, the old one is refused (RESP%s)",
    async (protocol) => {
      const dev = cluster();
      // What a token source (IAM, Entra ID) does: hands out whatever is current now.
      let current = APP_PASSWORD;
      let calls = 0;
      const client = clients.create({
        nodes: dev.seeds,
        protocol,
        credentials: async () => {
          calls++;
          return { username: "app", password: current };
        },
        commandTimeout: COMMAND_TIMEOUT_MS,
        connectTimeout: CONNECT_TIMEOUT_MS,
        clientName: `acl-provider-${protocol}`,
      });
      const events = recordEvents(client);
      const keys = keyPerPrimary(dev, `acl-provider-${protocol}`);
      await client.mset(Object.fromEntries(keys.map((key) => [key, "1"])));
      // One call per connection opened so far (seed, topology, the three primaries).
      expect(calls).toBeGreaterThanOrEqual(primaries(dev).length);

      await onEveryNode(dev, "ACL", "SETUSER", "app", `>${ROTATED_PASSWORD}`, `<${APP_PASSWORD}`);
      current = ROTATED_PASSWORD;
      try {
        const callsBefore = calls;
        await onEveryNode(dev, "CLIENT", "KILL", "USER", "app");
        // Every primary's connection was killed: each reconnects, asking the provider first.
        expect(await client.mget(...keys)).toEqual(["1", "1", "1"]);
        expect(calls - callsBefore).toBeGreaterThanOrEqual(primaries(dev).length);
        // The connections are the new password's: the server says so.
        for (const node of primaries(dev)) {
          const connections = await clientList(dev, node.port);
          expect(
            connections.some(
              (connection) => connection.name === `acl-provider-${protocol}` && connection.user === "app",
            ),
            `a connection of the client on ${node.address}`,
          ).toBe(true);
        }
        // The old password is refused now, as one typed error without the secret in it.
        const stale = clients.create({
          nodes: dev.seeds,
          protocol,
          username: "app",
          password: APP_PASSWORD,
          connectTimeout: CONNECT_TIMEOUT_MS,
          commandTimeout: COMMAND_TIMEOUT_MS,
        });
        const refused = await stale.connect().then(
          () => undefined,
          (caught: unknown) => caught,
        );
        expect(refused).toBeInstanceOf(AuthError);
        expect((refused as Error).message).toMatch(/WRONGPASS/);
        expectNoSecret("the old password's error", refused);
      } finally {
        await onEveryNode(dev, "ACL", "SETUSER", "app", `>${APP_PASSWORD}`, `<${ROTATED_PASSWORD}`);
      }
      await client.del(...keys);
      expectNoSecret("the client's events", events);
      expectNoSecret("stats()", client.stats());
      expectNoSecret("the client", client);
    },
  );
});

describe("password only (requirepass-style: the default user has a password)", () => {
  it("authenticates every connection as the default user", async () => {
    const dev = cluster();
    // What `requirepass` does, on a cluster of this file: the default user on, with a password.
    await onEveryNode(dev, "ACL", "SETUSER", "default", "on", `>${DEFAULT_PASSWORD}`, "~*", "&*", "+@all");
    try {
      const client = clients.create({
        nodes: dev.seeds,
        password: DEFAULT_PASSWORD,
        readFrom: "replica",
        clientName: "acl-default",
      });
      const keys = keyPerPrimary(dev, "acl-default");
      await client.mset(Object.fromEntries(keys.map((key) => [key, "d"])));
      for (const key of keys)
        await waitFor(`a replica to serve ${key}`, 10_000, async () => (await client.get(key)) === "d");
      for (const node of client.nodes("all")) expect(await node.call("ACL", "WHOAMI")).toBe("default");
      expect(client.nodes("all")).toHaveLength(dev.nodes.length);
      await client.del(...keys);
      // And without it, the same cluster says NOAUTH.
      const anonymous = clients.create({ nodes: dev.seeds, connectTimeout: CONNECT_TIMEOUT_MS });
      await expect(anonymous.connect()).rejects.toThrow(/NOAUTH/);
    } finally {
      await onEveryNode(dev, "ACL", "SETUSER", "default", "reset", "off");
    }
  });
});

describe("a user with only the permissions the README lists", () => {
  it.each([2, 3] as const)("reads and writes, on primaries and replicas (RESP%s)", async (protocol) => {
    const dev = cluster();
    const client = clients.create({
      nodes: dev.seeds,
      username: "minimal",
      password: APP_PASSWORD,
      protocol,
      readFrom: "replica",
      clientName: "acl-minimal",
    });
    const keys = keyPerPrimary(dev, `acl-minimal-${protocol}`);
    const replicas = dev.nodes.filter((node) => node.role === "replica");
    const getsBefore = await Promise.all(replicas.map((node) => commandCalls(dev, node.port, "get")));
    await client.mset(Object.fromEntries(keys.map((key) => [key, "m"])));
    for (const key of keys)
      await waitFor(`a replica to serve ${key}`, 10_000, async () => (await client.get(key)) === "m");
    // Replicas served the reads: READONLY and their health check (INFO) were allowed.
    const getsAfter = await Promise.all(replicas.map((node) => commandCalls(dev, node.port, "get")));
    for (const [i, calls] of getsAfter.entries()) {
      expect(calls, `GETs on ${replicas[i]!.address}`).toBeGreaterThan(getsBefore[i]!);
    }
    expect(client.nodes("replica")).toHaveLength(3);
    expect(await client.del(...keys)).toBe(3);
  });
});

describe("a user who may not read the topology", () => {
  const options = (dev: DevCluster, username: string): RedisClusterOptions => ({
    nodes: dev.seeds,
    username,
    password: APP_PASSWORD,
    connectTimeout: CONNECT_TIMEOUT_MS,
    commandTimeout: COMMAND_TIMEOUT_MS,
  });

  it("gets a typed error naming the permission it lacks", async () => {
    const dev = cluster();
    const client = clients.create(options(dev, "blind"));
    const error = await client.connect().then(
      () => undefined,
      (caught: unknown) => caught,
    );
    expect(error).toBeInstanceOf(AuthError);
    const says =
      /NOPERM this user may run neither CLUSTER SHARDS nor CLUSTER SLOTS.*\+cluster\|shards \+cluster\|slots/;
    expect((error as Error).message).toMatch(says);
    await expect(client.get("k")).rejects.toThrow(says);
  });

  it("with CLUSTER SLOTS but not CLUSTER SHARDS, works from CLUSTER SLOTS", async () => {
    const dev = cluster();
    const client = clients.create(options(dev, "slotsonly"));
    await client.connect();
    const [key] = keyPerPrimary(dev, "acl-slotsonly");
    expect(await client.set(key!, "1")).toBe("OK");
    await client.del(key!);
  });
});
