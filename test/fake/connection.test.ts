/**
 * The node connection (src/connection/connection.ts) against scripted fake servers: what
 * it does with garbage, silence, a close mid-reply, handshakes, write coalescing,
 * maxInFlight, ASKING pairs, close/destroy/idle, and the reconnect backoff.
 *
 * Every promise a test creates goes through `track()`, and every test ends by checking
 * that all of them settled and that no rejection went unhandled.
 */
import { Socket } from "node:net";
import { inspect } from "node:util";
import { afterEach, describe, expect, it, vi } from "vitest";
import { Connection } from "../../src/connection/connection.js";
import type { ConnectionOptions, Sendable } from "../../src/connection/types.js";
import {
  AuthError,
  ClosedError,
  ConnectionError,
  ProtocolError,
  type RedisClusterError,
  ReplyError,
  TimeoutError,
} from "../../src/errors.js";
import type { RedisArg, RespValue } from "../../src/resp/types.js";
import { watchEscapes } from "../helpers/escapes.js";
import { double, push, raw } from "../helpers/reply-encoder.js";
import { waitFor } from "../helpers/wait.js";
import {
  closeAllFakes,
  delayed,
  error,
  type FakeServer,
  halfThenClose,
  type ReceivedCommand,
  resetConnection,
  STALL,
  sequence,
  startFakeServer,
} from "./resp-server.js";

// ── bookkeeping: every promise settles, nothing unhandled, nothing left open ────────────

const unhandled = watchEscapes();

const tracked = new Set<Promise<unknown>>();
/** Records a promise; afterEach fails the test if it has not settled by then. */
function track<T>(promise: Promise<T>): Promise<T> {
  tracked.add(promise);
  promise.then(
    () => tracked.delete(promise),
    () => tracked.delete(promise),
  );
  return promise;
}

const connections: Connection[] = [];
function open(fake: FakeServer | { host: string; port: number }, options: Partial<ConnectionOptions> = {}) {
  const connection = new Connection({ host: fake.host, port: fake.port, ...options });
  connections.push(connection);
  return connection;
}

afterEach(async (context) => {
  // Let settlements already under way land before judging.
  await new Promise((resolve) => setImmediate(resolve));
  // A test that failed half-way leaves its promises behind; that is not news.
  const failed = context.task.result?.state === "fail";
  const stillPending = tracked.size;
  const unhandledNow = unhandled.splice(0);
  tracked.clear();
  for (const connection of connections.splice(0)) connection.destroy();
  await closeAllFakes();
  vi.restoreAllMocks();
  if (!failed) expect(stillPending, "promises left pending at the end of the test").toBe(0);
  expect(unhandledNow, "unhandled rejections").toEqual([]);
});

/** Sends a command and resolves with its reply (error replies reject with ReplyError). */
function request(connection: Connection, name: string, args: RedisArg[] = [], timeoutMs?: number) {
  return track(connection.request(name, args, timeoutMs === undefined ? {} : { timeoutMs }));
}

/** Resolves with the error a promise rejects with; fails the test if it resolves. */
async function rejection(promise: Promise<unknown>): Promise<Error> {
  try {
    const value = await promise;
    throw new Error(`expected a rejection, got ${inspect(value)}`);
  } catch (error) {
    return error as Error;
  }
}

type Outcome =
  | { kind: "settle"; value: RespValue }
  | { kind: "fail"; error: RedisClusterError; written: boolean }
  | { kind: "expire" };

/**
 * A Sendable that records which callback the connection called, with the `written` flag
 * (which the promise API hides), and whether it was called during `send()` itself.
 */
class Probe implements Sendable {
  readonly wantsBuffers = false;
  readonly deadlineAt: number;
  outcome: Outcome | undefined;
  calls = 0;
  readonly done: Promise<Outcome>;
  #resolve!: (outcome: Outcome) => void;

  constructor(
    readonly name: string,
    readonly args: readonly RedisArg[] = [],
    timeoutMs = 5000,
  ) {
    this.deadlineAt = performance.now() + timeoutMs;
    this.done = track(new Promise((resolve) => (this.#resolve = resolve)));
  }

  #end(outcome: Outcome): void {
    this.calls++;
    this.outcome ??= outcome;
    this.#resolve(outcome);
  }
  settle(value: RespValue): void {
    this.#end({ kind: "settle", value });
  }
  fail(error: RedisClusterError, written: boolean): void {
    this.#end({ kind: "fail", error, written });
  }
  expire(): void {
    this.#end({ kind: "expire" });
  }
}

function commandsOf(fake: FakeServer, connectionIndex = 0): string[] {
  return (fake.connections[connectionIndex]?.commands ?? []).map(String);
}

/** A port nothing listens on (a fake opened and closed at once). */
async function refusedPort(): Promise<number> {
  const fake = await startFakeServer();
  const port = fake.port;
  await fake.close();
  return port;
}

// ── garbage, silence, a close mid-reply ─────────────────────────────────────────────────

describe("a server that breaks the protocol", () => {
  it("garbage (?oops): ProtocolError for that command and the rest, socket closed; a command during the backoff fails fast; then it reconnects and works", async () => {
    const fake = await startFakeServer();
    fake.handle("GET", sequence("first", raw("?oops\r\n"), "never decoded"));
    // When the connection saw the failure (its backoff counts from there): taken in the
    // callback, not after awaiting the rejection, which may come a few ms later under load.
    let failedAt = Number.NaN;
    const connection = open(fake, {
      reconnectBaseDelayMs: 40,
      onDisconnect: () => {
        if (Number.isNaN(failedAt)) failedAt = performance.now();
      },
    });
    const first = request(connection, "GET", ["a"]);
    const second = request(connection, "GET", ["b"]);
    const third = request(connection, "GET", ["c"]);
    expect(await first).toBe("first");
    const secondError = await rejection(second);
    expect(secondError).toBeInstanceOf(ProtocolError);
    expect((secondError as ProtocolError).address).toBe(fake.address);
    expect(await rejection(third)).toBeInstanceOf(ProtocolError);
    await fake.connections[0]!.whenClosed;
    expect(connection.state).toBe("idle");
    expect(connection.inFlightCount).toBe(0);

    // Inside the backoff: fails at once with the same failure, never reaches the server.
    const during = new Probe("PING");
    connection.send(during);
    expect(during.outcome).toMatchObject({ kind: "fail", written: false });
    expect((during.outcome as { error: Error }).error).toBe(secondError);
    expect(fake.connections).toHaveLength(1);

    await waitFor("the connection to work again", 2000, async () => {
      try {
        return (await request(connection, "PING")) === "PONG";
      } catch {
        return false;
      }
    });
    expect(performance.now() - failedAt).toBeGreaterThanOrEqual(39);
    expect(fake.connections).toHaveLength(2);
  });

  it("a reply nobody asked for is a ProtocolError: the socket closes, onDisconnect gets it", async () => {
    const fake = await startFakeServer();
    const disconnects: Array<RedisClusterError | undefined> = [];
    const connection = open(fake, { onDisconnect: (error) => disconnects.push(error) });
    await request(connection, "PING");
    fake.connections[0]!.send(Buffer.from("+OK\r\n"));
    await fake.connections[0]!.whenClosed;
    await waitFor("the client to notice", 2000, () => connection.state === "idle");
    expect(disconnects).toHaveLength(1);
    expect(disconnects[0]).toBeInstanceOf(ProtocolError);
    expect(disconnects[0]!.message).toMatch(/nobody asked for/);
  });

  it("a bulk string over decoderLimits.maxBulkLength: ProtocolError, socket closed, before the payload is read", async () => {
    const fake = await startFakeServer();
    fake.handle("GET", raw("$1048577\r\n"));
    const connection = open(fake, { decoderLimits: { maxBulkLength: 1024 * 1024 } });
    const failure = await rejection(request(connection, "GET", ["k"]));
    expect(failure).toBeInstanceOf(ProtocolError);
    await fake.connections[0]!.whenClosed;
  });

  it("a RESP3 push frame between replies goes to onPush and leaves the FIFO aligned", async () => {
    const fake = await startFakeServer();
    const pushes: RespValue[][] = [];
    fake.handle("GET", (command) => {
      command.connection.send(push("message", "channel", "payload"));
      return `value of ${command.argv[0]}`;
    });
    const connection = open(fake, { protocol: 3, onPush: (frame) => pushes.push(frame) });
    const replies = await Promise.all([request(connection, "GET", ["a"]), request(connection, "GET", ["b"])]);
    expect(replies).toEqual(["value of a", "value of b"]);
    expect(pushes.map((frame) => frame.map(String))).toEqual([
      ["message", "channel", "payload"],
      ["message", "channel", "payload"],
    ]);
  });

  it("a server that never answers: TimeoutError at the deadline; quiet for stallTimeoutMs, the connection is reset", async () => {
    const fake = await startFakeServer();
    fake.handle("GET", STALL);
    const timeoutMs = 300;
    const connection = open(fake, { stallTimeoutMs: timeoutMs });
    await request(connection, "PING");
    const sentAt = performance.now();
    const failure = await rejection(request(connection, "GET", ["k"], timeoutMs));
    const elapsed = performance.now() - sentAt;
    expect(failure).toBeInstanceOf(TimeoutError);
    expect(failure).toMatchObject({ command: "GET", timeoutMs });
    expect(elapsed).toBeGreaterThanOrEqual(timeoutMs - 1);
    // At its deadline, not at a later one (timers on a busy machine fire late, not that late).
    expect(elapsed).toBeLessThan(2 * timeoutMs);
    // Nothing read for stallTimeoutMs while a written command expired: the node is considered dead.
    await fake.connections[0]!.whenClosed;
    expect(connection.inFlightCount).toBe(0);
    expect(connection.state).toBe("idle");
  });

  it("a command that expires on a server still talking: TimeoutError, the late reply is dropped, the next command gets its own reply", async () => {
    const fake = await startFakeServer();
    fake.handle("GET", sequence(delayed(150, "late reply"), "second reply"));
    const connection = open(fake, { stallTimeoutMs: 10_000 });
    const failure = await rejection(request(connection, "GET", ["slow"], 50));
    expect(failure).toBeInstanceOf(TimeoutError);
    expect(connection.inFlightCount).toBe(1); // the tombstone that will eat the late reply
    expect(await request(connection, "GET", ["next"])).toBe("second reply");
    expect(connection.inFlightCount).toBe(0);
    expect(fake.connections).toHaveLength(1); // not reset: the server was only slow
  });

  it("the server closes mid-reply: ConnectionError for every pending command; written ones flagged written, waiting ones not", async () => {
    const fake = await startFakeServer();
    fake.handle("GET", halfThenClose("a value that will be cut in the middle"));
    const connection = open(fake, { maxInFlight: 3 });
    await request(connection, "PING");
    const probes = Array.from({ length: 5 }, (_, i) => new Probe("GET", [`k${i}`]));
    for (const probe of probes) connection.send(probe);
    const outcomes = await Promise.all(probes.map((probe) => probe.done));
    for (const outcome of outcomes) {
      expect(outcome.kind).toBe("fail");
      expect((outcome as { error: Error }).error).toBeInstanceOf(ConnectionError);
    }
    expect(outcomes.map((outcome) => (outcome as { written: boolean }).written)).toEqual([
      true,
      true,
      true,
      false,
      false,
    ]);
    expect(probes.every((probe) => probe.calls === 1)).toBe(true);
    expect(connection.state).toBe("idle");
    // A new socket starts with a fresh decoder: the half reply left no trace.
    fake.handle("GET", "whole");
    await waitFor("the connection to work again", 2000, async () => {
      try {
        return (await request(connection, "GET", ["k"])) === "whole";
      } catch {
        return false;
      }
    });
  });

  it("a command sent after a protocol error, before the socket's close event, fails as unsent (it never left) (was E-3)", async () => {
    const fake = await startFakeServer();
    fake.handle("GET", sequence("first", raw("?oops\r\n")));
    const connection = open(fake);
    await request(connection, "PING");
    const chained = new Probe("INCR", ["counter"]);
    // Both replies arrive in one chunk: the first settles, then the garbage destroys the
    // socket; the user's reaction to the first reply runs before the 'close' event.
    const first = request(connection, "GET", ["a"]).then(() => connection.send(chained));
    const second = rejection(request(connection, "GET", ["b"]));
    await first;
    expect(await second).toBeInstanceOf(ProtocolError);
    const outcome = await chained.done;
    expect(fake.count("INCR")).toBe(0);
    expect(outcome).toMatchObject({ kind: "fail", written: false });
  });

  it("a connection reset (RST) by the server: ConnectionError for everything in flight", async () => {
    const fake = await startFakeServer();
    fake.handle("GET", resetConnection());
    const connection = open(fake);
    const failures = await Promise.all([
      rejection(request(connection, "GET", ["a"])),
      rejection(request(connection, "GET", ["b"])),
    ]);
    for (const failure of failures) expect(failure).toBeInstanceOf(ConnectionError);
    expect((failures[0] as ConnectionError).address).toBe(fake.address);
  });
});

// ── the handshake ───────────────────────────────────────────────────────────────────────

describe("handshake", () => {
  it("RESP2: AUTH user pass, CLIENT SETNAME, READONLY go first; user commands only after all succeeded", async () => {
    const fake = await startFakeServer();
    fake.handle("AUTH", delayed(30, raw("+OK\r\n")));
    const connection = open(fake, {
      username: "ann",
      password: "s3cret",
      clientName: "conn-test",
      readOnly: true,
    });
    expect(await request(connection, "GET", ["k"])).toBeNull();
    expect(commandsOf(fake)).toEqual(["AUTH ann s3cret", "CLIENT SETNAME conn-test", "READONLY", "GET k"]);
    // The GET left only once the three handshake replies were out.
    expect(fake.received("GET")[0]!.repliesBefore).toBe(3);
  });

  it("RESP2 with a password only: AUTH <password>", async () => {
    const fake = await startFakeServer();
    const connection = open(fake, { password: "only-pass" });
    await request(connection, "PING");
    expect(commandsOf(fake)).toEqual(["AUTH only-pass", "PING"]);
  });

  it("RESP3: HELLO 3 carries AUTH and SETNAME; READONLY follows; replies decode as RESP3", async () => {
    const fake = await startFakeServer();
    fake.handle("HGETALL", { field: "value", n: 1 });
    fake.handle("ZSCORE", double(1.5));
    const connection = open(fake, { protocol: 3, password: "pw", clientName: "n3", readOnly: true });
    expect(await request(connection, "HGETALL", ["h"])).toEqual({ field: "value", n: 1 });
    expect(await request(connection, "ZSCORE", ["z", "m"])).toBe(1.5);
    expect(commandsOf(fake)).toEqual([
      "HELLO 3 AUTH default pw SETNAME n3",
      "READONLY",
      "HGETALL h",
      "ZSCORE z m",
    ]);
    expect(fake.connections[0]!.protocol).toBe(3);
  });

  it("no options: no handshake at all", async () => {
    const fake = await startFakeServer();
    const connection = open(fake);
    await request(connection, "GET", ["k"]);
    expect(commandsOf(fake)).toEqual(["GET k"]);
  });

  it("WRONGPASS: every queued command fails with AuthError, none is sent, the password appears nowhere", async () => {
    const password = "hunter2-very-secret";
    const fake = await startFakeServer();
    fake.handle("AUTH", error("WRONGPASS invalid username-password pair or user is disabled."));
    const connection = open(fake, { username: "ann", password });
    const failures = await Promise.all(
      ["a", "b", "c"].map((key) => rejection(request(connection, "GET", [key]))),
    );
    for (const failure of failures) {
      expect(failure).toBeInstanceOf(AuthError);
      expect(failure.message).toContain("WRONGPASS");
      expect((failure.cause as ReplyError).code).toBe("WRONGPASS");
      for (const text of [failure.message, failure.stack ?? "", inspect(failure, { depth: 10 })]) {
        expect(text).not.toContain(password);
      }
      expect(JSON.stringify(failure)).not.toContain(password);
    }
    expect(fake.count("GET")).toBe(0);
  });

  it("HELLO refused by an old server: the connection falls back to RESP2 and works (test/fake/handshake.test.ts has more)", async () => {
    const fake = await startFakeServer();
    fake.handle("HELLO", error("ERR unknown command 'HELLO'"));
    fake.store.set("k", Buffer.from("v"));
    const connection = open(fake, { protocol: 3 });
    expect(await request(connection, "GET", ["k"])).toBe("v");
    expect(fake.connections[0]!.commands.map(String)).toEqual(["HELLO 3", "GET k"]);
  });

  it("a handshake that never completes: ConnectionError at connectTimeoutMs, queued commands never sent", async () => {
    const fake = await startFakeServer();
    fake.handle("AUTH", STALL);
    const connectTimeoutMs = 300;
    const connection = open(fake, { password: "pw", connectTimeoutMs });
    const startedAt = performance.now();
    const failure = await rejection(request(connection, "GET", ["k"], 5000));
    const elapsed = performance.now() - startedAt;
    expect(failure).toBeInstanceOf(ConnectionError);
    expect(failure.message).toMatch(/timed out/);
    expect(elapsed).toBeGreaterThanOrEqual(connectTimeoutMs - 5);
    // One budget for the whole connect (TCP and every handshake step), not one per step.
    expect(elapsed).toBeLessThan(2 * connectTimeoutMs);
    expect(fake.count("GET")).toBe(0);
    await fake.connections[0]!.whenClosed;
  });
});

// ── writing ─────────────────────────────────────────────────────────────────────────────

/** Socket#write calls made by the client side of sockets to `fake` (not the fake's own). */
function clientWrites(fake: FakeServer): () => number {
  const spy = vi.spyOn(Socket.prototype, "write");
  return () => spy.mock.contexts.filter((socket) => (socket as Socket).remotePort === fake.port).length;
}

describe("write coalescing", () => {
  it("1,000 commands sent in one tick reach the server in one write and very few TCP chunks", async () => {
    const fake = await startFakeServer();
    const connection = open(fake);
    await request(connection, "PING");
    const writes = clientWrites(fake);
    const replies = Array.from({ length: 1000 }, (_, i) => request(connection, "SET", [`key:${i}`, `${i}`]));
    expect(writes()).toBe(0); // nothing written before the end of the tick
    await Promise.all(replies);
    expect(writes()).toBe(1);
    const chunks = new Set(fake.received("SET").map((command) => command.chunk));
    expect(chunks.size).toBeLessThanOrEqual(3);
    expect(fake.count("SET")).toBe(1000);
  });

  it("coalesceWrites false: each command is written at once, inside send()", async () => {
    const fake = await startFakeServer();
    const connection = open(fake, { coalesceWrites: false });
    await request(connection, "PING");
    const writes = clientWrites(fake);
    const replies: Array<Promise<unknown>> = [];
    for (let i = 0; i < 100; i++) {
      replies.push(request(connection, "SET", [`key:${i}`, `${i}`]));
      expect(writes()).toBe(i + 1);
    }
    await Promise.all(replies);
    expect(fake.count("SET")).toBe(100);
  });
});

describe("maxInFlight", () => {
  it("maxInFlight 10: never more than 10 unanswered commands at the server; all answered, in order", async () => {
    const fake = await startFakeServer();
    fake.handle("GET", (command) => delayed(2, `v:${command.argv[0]}`));
    const connection = open(fake, { maxInFlight: 10 });
    await request(connection, "PING");
    let mostInFlight = 0;
    const replies = Array.from({ length: 200 }, (_, i) =>
      request(connection, "GET", [`${i}`]).then((value) => {
        mostInFlight = Math.max(mostInFlight, connection.inFlightCount);
        return value;
      }),
    );
    expect(connection.waitingCount).toBe(190);
    expect(await Promise.all(replies)).toEqual(Array.from({ length: 200 }, (_, i) => `v:${i}`));
    expect(fake.connections[0]!.maxOutstanding).toBe(10);
    expect(mostInFlight).toBeLessThanOrEqual(10);
    expect(fake.received("GET").map((command) => command.argv[0])).toEqual(
      Array.from({ length: 200 }, (_, i) => `${i}`),
    );
  });
});

/** Checks that every ASKING on a connection is directly followed by the asked command. */
function expectAskingPairs(fake: FakeServer, askedKeys: readonly string[]): void {
  const seen: string[] = [];
  for (const connection of fake.connections) {
    connection.commands.forEach((command, index) => {
      if (command.name !== "ASKING") return;
      const next: ReceivedCommand | undefined = connection.commands[index + 1];
      expect(next?.toString(), `what followed ASKING #${seen.length + 1}`).toMatch(/^GET asked:/);
      seen.push(next!.argv[0]!);
    });
  }
  expect(seen).toEqual(askedKeys);
}

describe("sendAsking", () => {
  it("ASKING is directly followed by its command, also when maxInFlight holds both back", async () => {
    const fake = await startFakeServer();
    fake.handle("GET", (command) => delayed(3, command.argv[0]!));
    const connection = open(fake, { maxInFlight: 2 });
    await request(connection, "PING");
    const probes: Probe[] = [];
    const asked: string[] = [];
    for (let i = 0; i < 40; i++) {
      const probe = new Probe("GET", [i % 3 === 0 ? `asked:${i}` : `plain:${i}`]);
      probes.push(probe);
      if (i % 3 === 0) {
        asked.push(`asked:${i}`);
        connection.sendAsking(probe);
      } else {
        connection.send(probe);
      }
    }
    const outcomes = await Promise.all(probes.map((probe) => probe.done));
    // Each command got its own reply (the ASKING's OK was dropped, not handed on).
    expect(outcomes.map((outcome) => (outcome.kind === "settle" ? outcome.value : outcome.kind))).toEqual(
      probes.map((probe) => probe.args[0]),
    );
    expectAskingPairs(fake, asked);
  });

  it("ASKING pairs respect maxInFlight: at most one over the limit (the pair's second half), never more (was E-2)", async () => {
    const fake = await startFakeServer();
    fake.handle("GET", (command) => delayed(3, command.argv[0]!));
    const connection = open(fake, { maxInFlight: 2 });
    await request(connection, "PING");
    // Two plain commands fill the connection, then a burst of ASK redirections arrives
    // (a slot in migration): each is an ASKING + GET pair.
    const probes = [new Probe("GET", ["plain:0"]), new Probe("GET", ["plain:1"])];
    for (const probe of probes) connection.send(probe);
    const asked: string[] = [];
    for (let i = 0; i < 20; i++) {
      const probe = new Probe("GET", [`asked:${i}`]);
      probes.push(probe);
      asked.push(`asked:${i}`);
      connection.sendAsking(probe);
    }
    expect(connection.inFlightCount, "in flight right after the burst").toBeLessThanOrEqual(3);
    await Promise.all(probes.map((probe) => probe.done));
    expectAskingPairs(fake, asked);
    expect(fake.connections[0]!.maxOutstanding, "most unanswered commands at the server").toBeLessThanOrEqual(
      3,
    );
  });

  it("ASKING as the first command of an idle connection goes out after the handshake, still paired", async () => {
    const fake = await startFakeServer();
    fake.handle("GET", (command) => command.argv[0]!);
    const connection = open(fake, { clientName: "asker" });
    const probe = new Probe("GET", ["asked:0"]);
    connection.sendAsking(probe);
    expect(await probe.done).toEqual({ kind: "settle", value: "asked:0" });
    expect(commandsOf(fake)).toEqual(["CLIENT SETNAME asker", "ASKING", "GET asked:0"]);
  });

  it("an ASKING whose command expired while waiting is dropped with it: no stray ASKING before the next command", async () => {
    const fake = await startFakeServer();
    fake.handle("AUTH", delayed(100, raw("+OK\r\n")));
    const connection = open(fake, { password: "pw" });
    // Both wait for the handshake; the asked command expires meanwhile.
    const asked = new Probe("GET", ["asked:expiring"], 30);
    connection.sendAsking(asked);
    const next = request(connection, "GET", ["after"]);
    expect(await asked.done).toEqual({ kind: "expire" });
    expect(await next).toBeNull();
    expect(commandsOf(fake)).toEqual(["AUTH pw", "GET after"]);
  });
});

// ── closing ─────────────────────────────────────────────────────────────────────────────

describe("close, destroy, idle", () => {
  it("close() waits for the replies in flight, then closes the socket; sends meanwhile get ClosedError", async () => {
    const fake = await startFakeServer();
    fake.handle("GET", (command) => delayed(40, command.argv[0]!));
    const connection = open(fake);
    await request(connection, "PING");
    const settledAt: number[] = [];
    const replies = ["a", "b", "c"].map((key) =>
      request(connection, "GET", [key]).then((value) => {
        settledAt.push(performance.now());
        return value;
      }),
    );
    await waitFor("the GETs to reach the server", 2000, () => fake.count("GET") === 3);
    const closed = track(connection.close());
    expect(connection.state).toBe("closing");
    const refused = await rejection(request(connection, "GET", ["late"]));
    expect(refused).toBeInstanceOf(ClosedError);
    await closed;
    const closedAt = performance.now();
    expect(await Promise.all(replies)).toEqual(["a", "b", "c"]);
    expect(Math.max(...settledAt)).toBeLessThanOrEqual(closedAt);
    expect(connection.state).toBe("closed");
    await fake.connections[0]!.whenClosed;
    expect(fake.connections[0]!.endedByClient).toBe(true);
    expect(fake.count("GET")).toBe(3);
  });

  it("close() while connecting sends what was queued, then closes", async () => {
    const fake = await startFakeServer();
    const connection = open(fake, { password: "pw" });
    const reply = request(connection, "GET", ["k"]);
    await track(connection.close());
    expect(await reply).toBeNull();
    expect(commandsOf(fake)).toEqual(["AUTH pw", "GET k"]);
  });

  it("close() of a connection that never connected resolves at once", async () => {
    const fake = await startFakeServer();
    const connection = open(fake);
    await track(connection.close());
    expect(connection.state).toBe("closed");
    expect(fake.connections).toHaveLength(0);
  });

  it("send after close: ClosedError, nothing sent", async () => {
    const fake = await startFakeServer();
    const connection = open(fake);
    await request(connection, "PING");
    await track(connection.close());
    const probe = new Probe("GET", ["k"]);
    connection.send(probe);
    expect(probe.outcome).toMatchObject({ kind: "fail", written: false });
    expect((probe.outcome as { error: Error }).error).toBeInstanceOf(ClosedError);
    const asked = new Probe("GET", ["k"]);
    connection.sendAsking(asked);
    expect((asked.outcome as { error: Error }).error).toBeInstanceOf(ClosedError);
    expect(fake.count("GET")).toBe(0);
  });

  it("destroy(): everything in flight and waiting rejects with ClosedError at once", async () => {
    const fake = await startFakeServer();
    fake.handle("GET", STALL);
    const connection = open(fake, { maxInFlight: 2 });
    await request(connection, "PING");
    const probes = Array.from({ length: 4 }, (_, i) => new Probe("GET", [`${i}`]));
    for (const probe of probes) connection.send(probe);
    await waitFor("two GETs at the server", 2000, () => fake.count("GET") === 2);
    connection.destroy();
    expect(probes.map((probe) => probe.outcome?.kind)).toEqual(["fail", "fail", "fail", "fail"]);
    for (const probe of probes) {
      expect((probe.outcome as { error: Error }).error).toBeInstanceOf(ClosedError);
    }
    expect(probes.map((probe) => (probe.outcome as { written: boolean }).written)).toEqual([
      true,
      true,
      false,
      false,
    ]);
    expect(connection.state).toBe("closed");
    await fake.connections[0]!.whenClosed;
    expect(await rejection(request(connection, "PING"))).toBeInstanceOf(ClosedError);
  });

  it("close() finishes when the server stalls: an in-flight command expires and close() resolves soon after (was E-1)", async () => {
    const fake = await startFakeServer();
    fake.handle("GET", STALL);
    const connection = open(fake, { stallTimeoutMs: 10_000 });
    await request(connection, "PING");
    const reply = request(connection, "GET", ["k"], 100);
    await waitFor("the GET to arrive", 2000, () => fake.count("GET") === 1);
    const closed = connection.close().then(() => "closed" as const);
    expect(await rejection(reply)).toBeInstanceOf(TimeoutError);
    // Only a tombstone is left in flight: nobody waits for its reply any more.
    const outcome = await Promise.race([
      closed,
      new Promise<"still open">((resolve) => setTimeout(() => resolve("still open"), 1000)),
    ]);
    expect(outcome, `state ${connection.state}, ${connection.inFlightCount} in flight`).toBe("closed");
  });

  it("idleTimeoutMs closes an idle socket without an error; the next command reconnects at once", async () => {
    const fake = await startFakeServer();
    const disconnects: Array<RedisClusterError | undefined> = [];
    const connection = open(fake, { idleTimeoutMs: 60, onDisconnect: (error) => disconnects.push(error) });
    await request(connection, "PING");
    await fake.connections[0]!.whenClosed;
    expect(fake.connections[0]!.endedByClient).toBe(true);
    expect(connection.state).toBe("idle");
    expect(disconnects).toEqual([undefined]);
    expect(await request(connection, "PING")).toBe("PONG");
    expect(fake.connections).toHaveLength(2);
  });

  it("idleTimeoutMs does not close a socket with a command in flight", async () => {
    const fake = await startFakeServer();
    fake.handle("GET", delayed(150, "slow"));
    const connection = open(fake, { idleTimeoutMs: 40 });
    expect(await request(connection, "GET", ["k"])).toBe("slow");
    expect(fake.connections[0]!.closed).toBe(false);
  });
});

// ── reconnecting ────────────────────────────────────────────────────────────────────────

describe("reconnect backoff", () => {
  /**
   * After a failure at `failedAt`, probes every millisecond until one is not failed on the
   * spot (a real attempt); returns how long that took and the attempt's outcome.
   */
  async function nextAttempt(connection: Connection, failedAt: number) {
    for (;;) {
      const probe = new Probe("PING");
      connection.send(probe);
      if (probe.outcome === undefined) {
        const delayMs = performance.now() - failedAt;
        const outcome = await probe.done;
        return { delayMs, outcome, endedAt: performance.now() };
      }
      expect(probe.outcome).toMatchObject({ kind: "fail", written: false });
      await new Promise((resolve) => setTimeout(resolve, 1));
    }
  }

  it("after refused connects, commands fail fast (never sent) until the delay passes; the delay doubles and is capped", async () => {
    const port = await refusedPort();
    const connection = open(
      { host: "127.0.0.1", port },
      { reconnectBaseDelayMs: 100, reconnectMaxDelayMs: 400 },
    );
    const first = await rejection(request(connection, "PING"));
    expect(first).toBeInstanceOf(ConnectionError);
    expect(first.message).toMatch(/refused/);
    let failedAt = performance.now();
    const delays: number[] = [];
    for (let attempt = 0; attempt < 5; attempt++) {
      const { delayMs, outcome, endedAt } = await nextAttempt(connection, failedAt);
      expect(outcome).toMatchObject({ kind: "fail", written: false });
      delays.push(delayMs);
      failedAt = endedAt;
    }
    // Nominal delays 100, 200, 400, 400, 400 (capped), each jittered to 50–100 %. Uncapped,
    // the fifth would be 800–1600 ms: the upper bound (+300 ms of scheduling slack on a busy
    // machine) tells them apart.
    const nominal = [100, 200, 400, 400, 400];
    delays.forEach((delayMs, i) => {
      expect(delayMs, `delay ${i + 1} of ${delays.map(Math.round)}`).toBeGreaterThanOrEqual(
        nominal[i]! / 2 - 1,
      );
      expect(delayMs, `delay ${i + 1} of ${delays.map(Math.round)}`).toBeLessThan(nominal[i]! + 300);
    });

    // The node comes back: the first attempt after the delay connects and works.
    const fake = await startFakeServer(port);
    const { outcome } = await nextAttempt(connection, failedAt);
    expect(outcome).toEqual({ kind: "settle", value: "PONG" });
    expect(fake.connections).toHaveLength(1);
    expect(fake.commands.map(String)).toEqual(["PING"]);
  });

  it("commands queued while connecting fail as unsent when the connect is refused", async () => {
    const port = await refusedPort();
    const connection = open({ host: "127.0.0.1", port });
    const probes = [new Probe("GET", ["a"]), new Probe("GET", ["b"])];
    for (const probe of probes) connection.send(probe);
    const outcomes = await Promise.all(probes.map((probe) => probe.done));
    for (const outcome of outcomes) expect(outcome).toMatchObject({ kind: "fail", written: false });
  });
});

describe("every outcome exactly once", () => {
  it("a mixed storm (replies, errors, expiries, a close mid-way) settles every command exactly once", async () => {
    const fake = await startFakeServer();
    let calls = 0;
    fake.handle("GET", (command) => {
      calls++;
      if (calls === 150) return halfThenClose("cut");
      if (calls % 7 === 0) return error("ERR seven");
      if (calls % 11 === 0) return delayed(80, command.argv[0]!);
      return command.argv[0]!;
    });
    const connection = open(fake, { maxInFlight: 16, reconnectBaseDelayMs: 5, stallTimeoutMs: 10_000 });
    const probes = Array.from({ length: 300 }, (_, i) => new Probe("GET", [`${i}`], i % 5 === 0 ? 40 : 2000));
    for (const probe of probes) connection.send(probe);
    const outcomes = await Promise.all(probes.map((probe) => probe.done));
    expect(probes.every((probe) => probe.calls === 1)).toBe(true);
    outcomes.forEach((outcome, i) => {
      if (outcome.kind === "settle" && !(outcome.value instanceof ReplyError)) {
        expect(outcome.value).toBe(`${i}`); // never another command's reply
      }
    });
    expect(outcomes.some((outcome) => outcome.kind === "fail")).toBe(true);
  });
});
