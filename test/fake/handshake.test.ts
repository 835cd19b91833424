/**
 * The handshake against scripted servers (issue 17.3, 17.9, 17.12, 13.2): a server without
 * HELLO whose error echoes the password, refused credentials and permissions, a
 * credentials provider, and nodes that accept then reset. What a server echoes must never
 * reach an error, a stack, `util.inspect`, JSON or an event; permanent failures end at
 * once with `AuthError`; reconnects back off.
 */
import { inspect } from "node:util";
import { afterEach, describe, expect, it } from "vitest";
import { Connection } from "../../src/connection/connection.js";
import type { ConnectionOptions } from "../../src/connection/types.js";
import {
  AuthError,
  ConnectionError,
  RedisCluster,
  type RedisClusterCommonOptions,
  type RedisClusterError,
  type ReplyError,
  type RespVersion,
} from "../../src/index.js";
import { watchEscapes } from "../helpers/escapes.js";
import { waitFor } from "../helpers/wait.js";
import {
  closeAllFakes,
  error,
  FakeCluster,
  type FakeServer,
  OK,
  type ReceivedCommand,
  startFakeServer,
} from "./resp-server.js";

const PASSWORD = "pw-that-must-never-show";
const escaped = watchEscapes();

const clients: RedisCluster<RespVersion>[] = [];
const connections: Connection[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  for (const connection of connections.splice(0)) connection.destroy();
  await closeAllFakes();
  expect(escaped.splice(0), "unhandled rejections").toEqual([]);
});

function client(
  nodes: string[],
  options: RedisClusterCommonOptions<RespVersion> = {},
): RedisCluster<RespVersion> {
  const cluster = new RedisCluster<RespVersion>({
    nodes,
    refreshInterval: 0,
    commandTimeout: 3000,
    ...options,
  });
  clients.push(cluster);
  return cluster;
}

function open(fake: FakeServer, options: Partial<ConnectionOptions> = {}): Connection {
  const connection = new Connection({ host: fake.host, port: fake.port, ...options });
  connections.push(connection);
  return connection;
}

async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    const value = await promise;
    throw new Error(`expected a rejection, got ${inspect(value)}`);
  } catch (error) {
    return error as Error;
  }
}

/** True once `connection` answers a PING (false while it fails, e.g. during its backoff). */
async function pings(connection: Connection): Promise<boolean> {
  try {
    return (await connection.command("PING")) === "PONG";
  } catch (failure) {
    expect(failure).toBeInstanceOf(ConnectionError);
    return false;
  }
}

/** Every way an error can be shown: none may hold `secret`. */
function expectNowhere(secret: string, error: unknown): void {
  const shown = [
    (error as Error).message,
    (error as Error).stack ?? "",
    inspect(error, { depth: 10, showHidden: true }),
    JSON.stringify(error),
    String(error),
  ];
  for (const text of shown) expect(text).not.toContain(secret);
}

/** What Redis < 6 answers to HELLO: an unknown command, quoting its arguments — the password too. */
function echoingUnknownHello(command: ReceivedCommand): ReplyError {
  const args = command.argv.map((arg) => `'${arg}'`).join(" ");
  return error(`ERR unknown command 'HELLO', with args beginning with: ${args}`);
}

// ── HELLO on servers without it ─────────────────────────────────────────────────────────

describe("protocol 3 against a server without HELLO (17.3)", () => {
  it("falls back to AUTH and RESP2 on the same socket, and works", async () => {
    const fake = await startFakeServer();
    fake.handle("HELLO", echoingUnknownHello);
    fake.store.set("k", Buffer.from("v"));
    const connection = open(fake, { protocol: 3, username: "app", password: PASSWORD, clientName: "c1" });
    expect(await connection.command("GET", "k")).toBe("v");
    expect(fake.connections).toHaveLength(1);
    expect(fake.connections[0]!.commands.map(String)).toEqual([
      `HELLO 3 AUTH app ${PASSWORD} SETNAME c1`,
      `AUTH app ${PASSWORD}`,
      "CLIENT SETNAME c1",
      "GET k",
    ]);
    expect(fake.connections[0]!.protocol).toBe(2);
  });

  it("a socket lost asks HELLO again: a node restarted as a version that has it speaks RESP3", async () => {
    const fake = await startFakeServer();
    fake.handle("HELLO", echoingUnknownHello);
    fake.store.set("k", Buffer.from("v"));
    const connection = open(fake, { protocol: 3, password: PASSWORD });
    expect(await connection.command("GET", "k")).toBe("v");
    expect(fake.connections[0]!.protocol).toBe(2);
    // The node comes back upgraded: HELLO works now.
    fake.unhandle("HELLO");
    fake.connections[0]!.destroy();
    await fake.connections[0]!.whenClosed;
    // Reconnects after the base delay (a lost socket is backed off), and works.
    await waitFor("the connection to work again", 2000, () => pings(connection));
    expect(await connection.command("GET", "k")).toBe("v");
    expect(fake.connections).toHaveLength(2);
    const second = fake.connections[1]!;
    expect(second.commands.map(String)).toEqual([`HELLO 3 AUTH default ${PASSWORD}`, "PING", "GET k"]);
    expect(second.protocol).toBe(3);
  });

  it("a replica connection's READONLY, sent behind the failed HELLO, is sent again after AUTH", async () => {
    const fake = await startFakeServer();
    fake.handle("HELLO", echoingUnknownHello);
    // A server with a password answers what comes before AUTH with NOAUTH.
    let authenticated = false;
    fake.handle("AUTH", () => {
      authenticated = true;
      return OK;
    });
    fake.handle("READONLY", () => (authenticated ? OK : error("NOAUTH Authentication required.")));
    const connection = open(fake, { protocol: 3, password: PASSWORD, readOnly: true });
    expect(await connection.command("PING")).toBe("PONG");
    expect(fake.connections[0]!.commands.map((command) => command.name)).toEqual([
      "HELLO",
      "READONLY",
      "AUTH",
      "READONLY",
      "PING",
    ]);
  });

  it("the cluster client works too: every node connection falls back; no nodeError", async () => {
    const cluster = await FakeCluster.start(2);
    for (const node of cluster.nodes) node.handle("HELLO", echoingUnknownHello);
    const redis = client(cluster.seeds, { protocol: 3, password: PASSWORD });
    const nodeErrors: RedisClusterError[] = [];
    redis.on("nodeError", ({ error }) => nodeErrors.push(error));
    expect(await redis.set("a", "1")).toBe("OK");
    expect(await redis.get("a")).toBe("1");
    expect(nodeErrors).toEqual([]);
    expect(cluster.count("AUTH")).toBeGreaterThanOrEqual(1);
  });

  it("then a refused AUTH: AuthError; the echoed password is in no message, stack, inspect, JSON or nodeError", async () => {
    const fake = await startFakeServer();
    fake.handle("HELLO", echoingUnknownHello);
    // A hostile server quotes the password in every error it can.
    fake.handle("AUTH", (command) => error(`ERR invalid password '${command.argv.at(-1)}'`));
    const redis = client([fake.address], { protocol: 3, username: "app", password: PASSWORD });
    const nodeErrors: RedisClusterError[] = [];
    redis.on("nodeError", ({ error }) => nodeErrors.push(error));
    const failure = await rejection(redis.get("k"));
    expect(failure).toBeInstanceOf(AuthError);
    expect((failure.cause as ReplyError).code).toBe("ERR");
    expectNowhere(PASSWORD, failure);
    expect(nodeErrors.length).toBeGreaterThan(0);
    for (const seen of nodeErrors) expectNowhere(PASSWORD, seen);
  });

  it("a HELLO error that echoes the arguments but is not 'unknown command': our own message, no fallback", async () => {
    const fake = await startFakeServer();
    fake.handle("HELLO", (command) => error(`ERR Protocol error near ${command.argv.join(" ")}`));
    const connection = open(fake, { protocol: 3, username: "app", password: PASSWORD });
    const failure = await rejection(connection.command("GET", "k"));
    expect(failure).toBeInstanceOf(AuthError);
    expect(failure.message).toMatch(/HELLO failed on 127\.0\.0\.1:\d+ \(ERR\)/);
    expectNowhere(PASSWORD, failure);
    expect(fake.count("AUTH")).toBe(0);
    expect(fake.count("GET")).toBe(0);
  });
});

// ── refused credentials and permissions ─────────────────────────────────────────────────

describe("refused credentials fail fast with AuthError (17.9)", () => {
  it.each([
    ["WRONGPASS", "WRONGPASS invalid username-password pair or user is disabled.", /refused the credentials/],
    ["NOPERM", "NOPERM this user has no permissions to run the 'auth' command", /may not run AUTH/],
  ])("%s on AUTH: AuthError with the code in its cause, nothing sent", async (code, reply, message) => {
    const fake = await startFakeServer();
    fake.handle("AUTH", error(reply));
    const connection = open(fake, { username: "app", password: PASSWORD });
    const failure = await rejection(connection.command("GET", "k"));
    expect(failure).toBeInstanceOf(AuthError);
    expect((failure as AuthError).code).toBe("RC_AUTH");
    expect((failure as AuthError).address).toBe(fake.address);
    expect(failure.message).toMatch(message);
    expect((failure.cause as ReplyError).code).toBe(code);
    expectNowhere(PASSWORD, failure);
    expect(fake.count("GET")).toBe(0);
  });

  it("NOPERM on READONLY (a replica connection): AuthError naming READONLY", async () => {
    const fake = await startFakeServer();
    fake.handle("READONLY", error("NOPERM this user has no permissions to run the 'readonly' command"));
    const connection = open(fake, { password: PASSWORD, readOnly: true });
    const failure = await rejection(connection.command("GET", "k"));
    expect(failure).toBeInstanceOf(AuthError);
    expect(failure.message).toMatch(/may not run READONLY/);
  });

  it("a forgotten password (the topology query gets NOAUTH): AuthError at once, not at the deadline", async () => {
    const fake = await startFakeServer();
    fake.handle("CLUSTER SHARDS", error("NOAUTH Authentication required."));
    const redis = client([fake.address], { commandTimeout: 20_000 });
    const startedAt = performance.now();
    const failure = await rejection(redis.get("k"));
    expect(failure).toBeInstanceOf(AuthError);
    expect(failure.message).toMatch(/NOAUTH/);
    expect(performance.now() - startedAt).toBeLessThan(20_000);
  });

  it("CLUSTER SHARDS denied by the ACL: the client reads CLUSTER SLOTS instead", async () => {
    const cluster = await FakeCluster.start(1);
    const [node] = cluster.nodes as [FakeServer];
    node.handle(
      "CLUSTER SHARDS",
      error("NOPERM this user has no permissions to run the 'cluster|shards' command"),
    );
    const redis = client(cluster.seeds);
    expect(await redis.set("k", "v")).toBe("OK");
    expect(node.count("CLUSTER SLOTS")).toBeGreaterThanOrEqual(1);
  });

  it("a wrong password fails every command at once, and AUTH attempts are backed off (no storm)", async () => {
    const fake = await startFakeServer();
    fake.handle("AUTH", error("WRONGPASS invalid username-password pair or user is disabled."));
    const redis = client([fake.address], { password: PASSWORD, commandTimeout: 10_000 });
    const startedAt = performance.now();
    let failures = 0;
    // The application keeps trying for 2 s: each command fails at once with AuthError.
    while (performance.now() - startedAt < 2000) {
      const failure = await rejection(redis.get("k"));
      expect(failure).toBeInstanceOf(AuthError);
      failures++;
    }
    const elapsedMs = performance.now() - startedAt;
    expect(failures).toBeGreaterThan(3);
    // Each failed handshake doubles the wait before the next (50 ms, jittered down to half,
    // up to 2 s): the most AUTHs that fit in the time that passed, however fast the machine.
    expect(fake.count("AUTH")).toBeLessThanOrEqual(attemptsWithin(elapsedMs));
    expect(fake.count("GET")).toBe(0);
  });
});

/** The most connection attempts the reconnect backoff (50 ms doubling to 2 s, jitter ≥ ½) allows in `ms`. */
function attemptsWithin(ms: number): number {
  let attempts = 1;
  let waited = 0;
  for (let failures = 1; ; failures++) {
    waited += 0.5 * Math.min(2000, 50 * 2 ** (failures - 1));
    if (waited > ms) return attempts;
    attempts++;
  }
}

// ── a node that accepts, then resets ────────────────────────────────────────────────────

describe("a node that accepts connections and resets them (17.12)", () => {
  it("is backed off like one that refuses: connects grow apart while commands wait", async () => {
    const fake = await startFakeServer();
    // Accepted (the client sees the connect and sends), then reset at the first command: the
    // connection was "ready" for a moment, which used to clear the failure count.
    fake.on("command", (command) => command.connection.close(true));
    const redis = client([fake.address], { commandTimeout: 2000 });
    const startedAt = performance.now();
    const failures = await Promise.all(["a", "b", "c"].map((key) => rejection(redis.get(key))));
    const elapsedMs = performance.now() - startedAt;
    for (const failure of failures) expect(failure).toBeInstanceOf(ConnectionError);
    expect(fake.connections.length).toBeGreaterThan(1);
    expect(fake.connections.length).toBeLessThanOrEqual(attemptsWithin(elapsedMs));
  });

  it("a node that answered once starts the backoff afresh when its connection breaks", async () => {
    const fake = await startFakeServer();
    const connection = open(fake);
    expect(await connection.command("PING")).toBe("PONG");
    fake.connections[0]!.close(true);
    await fake.connections[0]!.whenClosed;
    // Reconnects after the base delay, and works.
    await waitFor("the connection to work again", 2000, () => pings(connection));
    expect(fake.connections).toHaveLength(2);
  });
});

// ── a credentials provider ──────────────────────────────────────────────────────────────

describe("the credentials provider (13.2)", () => {
  it("is asked on every (re)connect, and what it gives is sent", async () => {
    const fake = await startFakeServer();
    let calls = 0;
    const connection = open(fake, {
      credentials: async () => ({ username: "svc", password: `token-${++calls}` }),
    });
    expect(await connection.command("PING")).toBe("PONG");
    fake.connections[0]!.close();
    await fake.connections[0]!.whenClosed;
    await waitFor("the connection to work again", 2000, () => pings(connection));
    expect(fake.received("AUTH").map(String)).toEqual(["AUTH svc token-1", "AUTH svc token-2"]);
    expect(calls).toBe(2);
  });

  it("every connection of the cluster client asks it, with RESP3 too (HELLO AUTH)", async () => {
    const cluster = await FakeCluster.start(2);
    let calls = 0;
    const redis = client(cluster.seeds, {
      protocol: 3,
      credentials: () => {
        calls++;
        return { password: "rotating" };
      },
    });
    await redis.connect();
    await Promise.all(["a", "b", "c", "d"].map((key) => redis.set(key, "1")));
    const connects = cluster.nodes.reduce((sum, node) => sum + node.connections.length, 0);
    expect(calls).toBe(connects);
    expect(cluster.count("HELLO")).toBe(connects);
    for (const hello of cluster.nodes.flatMap((node) => node.received("HELLO"))) {
      expect(hello.argv.slice(0, 4)).toEqual(["3", "AUTH", "default", "rotating"]);
    }
  });

  it("a provider that throws or rejects: AuthError with its error as the cause, nothing sent", async () => {
    const fake = await startFakeServer();
    const vaultDown = new Error("vault unreachable");
    for (const provider of [
      () => {
        throw vaultDown;
      },
      () => Promise.reject(vaultDown),
    ]) {
      const connection = open(fake, { credentials: provider });
      const failure = await rejection(connection.command("GET", "k"));
      expect(failure).toBeInstanceOf(AuthError);
      expect(failure.cause).toBe(vaultDown);
      expect(failure.message).toMatch(/credentials provider failed/);
    }
    expect(fake.count("GET")).toBe(0);
    expect(fake.count("AUTH")).toBe(0);
  });

  it("a provider that gives no password string: AuthError that quotes nothing it gave", async () => {
    const fake = await startFakeServer();
    const connection = open(fake, {
      credentials: () => ({ username: PASSWORD, password: 42 }) as never,
    });
    const failure = await rejection(connection.command("GET", "k"));
    expect(failure).toBeInstanceOf(AuthError);
    expectNowhere(PASSWORD, failure);
    expect(fake.count("AUTH")).toBe(0);
  });

  it("through the cluster client, a failing provider fails commands fast with AuthError", async () => {
    const fake = await startFakeServer();
    const redis = client([fake.address], {
      commandTimeout: 20_000,
      credentials: async () => {
        throw new Error("no token yet");
      },
    });
    const failure = await rejection(redis.get("k"));
    expect(failure).toBeInstanceOf(AuthError);
    expect((failure.cause as Error).message).toBe("no token yet");
  });
});
