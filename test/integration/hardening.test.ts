/**
 * Hostile arguments and permanent failures against the shared cluster (issue 17, parts of
 * issue 9): the connection-state guard on bytes, numeric keys hashed as sent, integers past
 * 2^53, blocking calls whose block time is past the timer range, wrong credentials failing
 * fast, replica health without INFO, URL seeds.
 *
 * The cluster is left as found: the ACL users created here are deleted from every node in
 * afterAll, and every key is deleted by the test that wrote it.
 */
import { inspect } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { keySlot } from "../../src/command/slot.js";
import type { DevCluster, DevNode } from "../../src/dev/index.js";
import {
  ArgumentError,
  AuthError,
  ClusterDownError,
  type RedisCluster,
  type RedisClusterError,
} from "../../src/index.js";
import { useClients } from "../helpers/client.js";
import { sharedDevCluster } from "../helpers/cluster.js";
import { keyInSlot } from "../helpers/keys.js";
import { waitFor } from "../helpers/wait.js";

let cluster: DevCluster;
const clients = useClients();

/** ACL users of this file (every node has its own ACL table: each gets them). */
const APP_USER = "hardening-app";
const APP_PASSWORD = "hardening-pw-never-shown";
const NO_INFO_USER = "hardening-noinfo";

beforeAll(async () => {
  cluster = await sharedDevCluster();
  for (const node of cluster.nodes) {
    await cluster.command(
      node.port,
      "ACL",
      "SETUSER",
      APP_USER,
      "reset",
      "on",
      `>${APP_PASSWORD}`,
      "~*",
      "&*",
      "+@all",
    );
    // A common hardening: everything but INFO.
    await cluster.command(
      node.port,
      "ACL",
      "SETUSER",
      NO_INFO_USER,
      "reset",
      "on",
      `>${APP_PASSWORD}`,
      "~*",
      "&*",
      "+@all",
      "-info",
    );
  }
});

afterAll(async () => {
  for (const node of cluster?.nodes ?? []) {
    await cluster.command(node.port, "ACL", "DELUSER", APP_USER, NO_INFO_USER);
  }
});

function primaries(): DevNode[] {
  return cluster.nodes.filter((node) => node.role === "primary");
}

/** Four keys served by `node`, in consecutive slots of its first range. */
function keysOn(node: DevNode, prefix: string): string[] {
  const first = node.slots[0]![0];
  return [0, 1, 2, 3].map((i) => keyInSlot(first + i, `${prefix}:${i}`));
}

async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise;
  } catch (error) {
    return error;
  }
  throw new Error("expected a rejection");
}

describe("the connection-state guard (17.1) decides on bytes", () => {
  async function nodeHandle(client: RedisCluster) {
    await client.connect();
    const handle = client.nodes("primary")[0]!;
    const dev = cluster.nodes.find((node) => node.address === handle.address)!;
    return { handle, dev };
  }

  it("refuses CLIENT REPLY SKIP with a Buffer subcommand on a node handle; concurrent GETs keep their own values", async () => {
    const client = clients.create({ nodes: cluster.seeds, commandTimeout: 2000 });
    const { handle, dev } = await nodeHandle(client);
    const keys = keysOn(dev, "guard-skip");
    await client.mset(...keys.flatMap((key, i) => [key, `V${i}`]));
    try {
      const [guarded, ...gets] = await Promise.allSettled([
        handle.call("CLIENT", Buffer.from("REPLY"), "SKIP"),
        ...keys.map((key) => client.get(key)),
      ]);
      expect(guarded.status).toBe("rejected");
      expect((guarded as PromiseRejectedResult).reason).toBeInstanceOf(ArgumentError);
      expect(gets.map((get) => (get.status === "fulfilled" ? get.value : String(get.reason)))).toEqual([
        "V0",
        "V1",
        "V2",
        "V3",
      ]);
    } finally {
      await client.del(...keys);
    }
  });

  it.each([
    ["a Buffer", Buffer.from("REPLY")],
    ["a lower-case Buffer", Buffer.from("reply")],
    ["a Uint8Array", new Uint8Array(Buffer.from("rEpLy"))],
  ])("refuses CLIENT REPLY OFF with %s on every path (call, node handle, pipeline)", async (_kind, sub) => {
    const client = clients.create({ nodes: cluster.seeds, commandTimeout: 2000 });
    const { handle, dev } = await nodeHandle(client);
    const [key] = keysOn(dev, "guard-off");
    const paths: Array<[string, () => Promise<unknown>]> = [
      ["call", () => client.call("CLIENT", sub, "OFF")],
      ["callBuffer", () => client.callBuffer("client", sub, "OFF")],
      ["node handle call", () => handle.call("CLIENT", sub, "OFF")],
      ["node handle method", () => (handle.client as (...args: unknown[]) => Promise<unknown>)(sub, "OFF")],
      [
        "pipeline",
        async () => {
          const [result] = await client.pipeline().call("CLIENT", sub, "OFF").exec();
          if (result instanceof Error) throw result;
          return result;
        },
      ],
    ];
    for (const [path, send] of paths) {
      expect(await rejection(send()), path).toBeInstanceOf(ArgumentError);
      // The node's shared connection still answers every command.
      expect(await client.set(key!, path), path).toBe("OK");
      expect(await client.get(key!), path).toBe(path);
    }
    await client.del(key!);
  });

  it("refuses the command name in any case, and CLIENT TRACKING as a Buffer", async () => {
    const client = clients.create({ nodes: cluster.seeds });
    const { handle } = await nodeHandle(client);
    expect(await rejection(handle.call("multi"))).toBeInstanceOf(ArgumentError);
    expect(await rejection(client.call("sUbScRiBe", "ch"))).toBeInstanceOf(ArgumentError);
    expect(await rejection(client.call("CLIENT", Buffer.from("tracking"), "ON"))).toBeInstanceOf(
      ArgumentError,
    );
    // Other CLIENT subcommands still go, as Buffers too.
    expect(await handle.call("CLIENT", Buffer.from("GETNAME"))).toBeNull();
  });
});

describe("numeric keys (17.4) are hashed as the bytes sent", () => {
  it.each([
    ["Infinity", Number.POSITIVE_INFINITY, "+inf"],
    ["-Infinity", Number.NEGATIVE_INFINITY, "-inf"],
    ["2e21", 2e21, "2000000000000000000000"],
    ["2n ** 60n", 2n ** 60n, "1152921504606846976"],
    ["-0", -0, "0"],
    ["1e-7", 1e-7, "1e-7"],
    ["1.5", 1.5, "1.5"],
  ])("set(%s) lands in the slot of the text sent, readable by that text", async (_name, number, sent) => {
    // Numbers are sent as their text (RedisArg); the key type asks for strings or Buffers.
    const key = number as unknown as string;
    const client = clients.create({ nodes: cluster.seeds, maxRedirections: 0 });
    try {
      expect(await client.set(key, "numeric")).toBe("OK");
      expect(await client.get(sent)).toBe("numeric");
      expect(await client.get(key)).toBe("numeric");
      expect(client.stats().moved).toBe(0);
    } finally {
      await client.del(sent);
    }
  });
});

describe("integer replies past 2^53 (9.14)", () => {
  it("INCR of 9007199254740994 is 9007199254740995n, a bigint, never a rounded number", async () => {
    const client = clients.create({ nodes: cluster.seeds });
    const key = "big-integer:incr";
    try {
      await client.set(key, "9007199254740994");
      expect(await client.incr(key)).toBe(9007199254740995n);
      expect(await client.incrby(key, -9007199254740995n)).toBe(0);
      await client.set(key, String(Number.MAX_SAFE_INTEGER - 1));
      expect(await client.incr(key)).toBe(Number.MAX_SAFE_INTEGER); // still a number
      expect(await client.decrby(key, 2n * BigInt(Number.MAX_SAFE_INTEGER) + 1n)).toBe(
        -(BigInt(Number.MAX_SAFE_INTEGER) + 1n),
      );
    } finally {
      await client.del(key);
    }
  });
});

describe("block times past the timer range (17.8)", () => {
  it("a BLPOP that may block for 3e9 ms runs without TimeoutOverflowWarning, and wakes on LPUSH", async () => {
    const warnings: string[] = [];
    const onWarning = (warning: Error) => warnings.push(warning.name);
    process.on("warning", onWarning);
    const client = clients.create({ nodes: cluster.seeds });
    const key = "blocking:overflow";
    const owner = cluster.nodes.find(
      (node) =>
        node.role === "primary" && node.slots.some(([a, b]) => a <= keySlotOf(key) && keySlotOf(key) <= b),
    )!;
    try {
      await client.connect();
      const before = await blockedClients(owner);
      const popped = client.blpop(key, 3_000_000); // seconds: 3e9 ms
      await waitFor(
        "the BLPOP to block on its node",
        10_000,
        async () => (await blockedClients(owner)) > before,
      );
      await client.lpush(key, "woken");
      expect(await popped).toEqual([key, "woken"]);
      expect(warnings.filter((name) => name === "TimeoutOverflowWarning")).toEqual([]);
    } finally {
      process.off("warning", onWarning);
      await client.del(key);
    }
  });
});

async function blockedClients(node: DevNode): Promise<number> {
  const info = String(await cluster.command(node.port, "INFO", "clients"));
  return Number(/blocked_clients:(\d+)/.exec(info)?.[1] ?? 0);
}

function keySlotOf(key: string): number {
  return keySlot(key);
}

describe("wrong credentials (17.9) fail fast with AuthError", () => {
  it("a wrong password fails the first command at once with AuthError, its cause kept, the password nowhere", async () => {
    const wrong = "wrong-pw-never-shown";
    const client = clients.create({
      nodes: cluster.seeds,
      username: APP_USER,
      password: wrong,
      commandTimeout: 20_000,
    });
    const nodeErrors: RedisClusterError[] = [];
    client.on("nodeError", ({ error }) => nodeErrors.push(error));
    const startedAt = performance.now();
    const error = await rejection(client.get("auth:k"));
    // Well before the deadline: waiting for it would have ended in another error.
    expect(performance.now() - startedAt).toBeLessThan(20_000);
    expect(error).toBeInstanceOf(AuthError);
    const auth = error as AuthError;
    expect(auth.code).toBe("RC_AUTH");
    expect((auth.cause as RedisClusterError).code).toBe("WRONGPASS");
    for (const shown of [auth.message, auth.stack, inspect(auth, { depth: 10 }), JSON.stringify(auth)]) {
      expect(shown).not.toContain(wrong);
    }
    for (const seen of nodeErrors) expect(inspect(seen, { depth: 10 })).not.toContain(wrong);
  });

  it("the right ACL credentials work", async () => {
    const client = clients.create({ nodes: cluster.seeds, username: APP_USER, password: APP_PASSWORD });
    expect(await client.call("ACL", "WHOAMI")).toBe(APP_USER);
  });
});

describe("replica health without INFO (17.10)", () => {
  it('readFrom: "replica" reports once that INFO is denied, and reads go on from primaries', async () => {
    const client = clients.create({
      nodes: cluster.seeds,
      username: NO_INFO_USER,
      password: APP_PASSWORD,
      readFrom: "replica",
    });
    const errors: RedisClusterError[] = [];
    client.on("error", (error) => errors.push(error));
    const key = "noinfo:k";
    try {
      await client.set(key, "v");
      for (let i = 0; i < 20; i++) expect(await client.get(key)).toBe("v");
      await waitFor("the denied INFO to be reported", 10_000, () => errors.length > 0);
      expect(errors).toHaveLength(1);
      expect(errors[0]).toBeInstanceOf(AuthError);
      expect((errors[0]!.cause as RedisClusterError).code).toBe("NOPERM");
      expect(errors[0]!.message).toMatch(/INFO/);
      expect(errors[0]!.message).not.toContain(APP_PASSWORD);
    } finally {
      await client.del(key);
    }
  });
});

describe("URL seeds (9.13)", () => {
  it("redis://host:port seeds the client", async () => {
    const client = clients.create({ nodes: cluster.seeds.map((seed) => `redis://${seed}`) });
    expect(await client.set("url:k", "v")).toBe("OK");
    expect(await client.get("url:k")).toBe("v");
    await client.del("url:k");
  });

  it("redis://user:password@host:port authenticates as that user", async () => {
    const seed = primaries()[0]!.address;
    const client = clients.create({
      nodes: [`redis://${APP_USER}:${encodeURIComponent(APP_PASSWORD)}@${seed}/0`],
    });
    expect(await client.call("ACL", "WHOAMI")).toBe(APP_USER);
  });

  it("a wrong password in the URL is an AuthError, not a silent guest", async () => {
    const seed = primaries()[0]!.address;
    const client = clients.create({ nodes: [`redis://${APP_USER}:nope@${seed}`] });
    const error = await rejection(client.get("url:k"));
    expect(error).toBeInstanceOf(AuthError);
    expect(error).not.toBeInstanceOf(ClusterDownError);
  });
});
