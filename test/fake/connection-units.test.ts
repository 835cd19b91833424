/**
 * `Connection#sendUnit` against a scripted fake server: the parts of a unit (a transaction's
 * MULTI … EXEC, ASKING + a command) reach the server back to back, whatever else is sent in
 * the same tick, whatever maxInFlight says, and a unit is encoded, expired and failed whole.
 */
import { afterEach, describe, expect, it } from "vitest";
import { Connection } from "../../src/connection/connection.js";
import type { ConnectionOptions, Sendable } from "../../src/connection/types.js";
import { ArgumentError, ConnectionError, type RedisClusterError } from "../../src/errors.js";
import type { RedisArg, RespValue } from "../../src/resp/types.js";
import { watchEscapes } from "../helpers/escapes.js";
import { raw } from "../helpers/reply-encoder.js";
import { close, closeAllFakes, delayed, type FakeServer, OK, startFakeServer } from "./resp-server.js";

const unhandled = watchEscapes();
const connections: Connection[] = [];

afterEach(async () => {
  for (const connection of connections.splice(0)) connection.destroy();
  await closeAllFakes();
  expect(unhandled.splice(0), "unhandled rejections").toEqual([]);
});

function open(fake: FakeServer, options: Partial<ConnectionOptions> = {}): Connection {
  const connection = new Connection({ host: fake.host, port: fake.port, ...options });
  connections.push(connection);
  return connection;
}

type Outcome =
  | { kind: "settle"; value: RespValue }
  | { kind: "fail"; error: RedisClusterError; written: boolean }
  | { kind: "expire" };

/** A Sendable that records its one outcome. */
class Probe implements Sendable {
  readonly wantsBuffers = false;
  readonly deadlineAt: number;
  readonly done: Promise<Outcome>;
  #resolve!: (outcome: Outcome) => void;

  constructor(
    readonly name: string,
    readonly args: readonly RedisArg[] = [],
    timeoutMs = 5000,
  ) {
    this.deadlineAt = performance.now() + timeoutMs;
    this.done = new Promise((resolve) => (this.#resolve = resolve));
  }
  settle(value: RespValue): void {
    this.#resolve({ kind: "settle", value });
  }
  fail(error: RedisClusterError, written: boolean): void {
    this.#resolve({ kind: "fail", error, written });
  }
  expire(): void {
    this.#resolve({ kind: "expire" });
  }
}

/** MULTI, `SET tx:<label> <i>` × size, EXEC. */
function transaction(label: string, size = 2, timeoutMs = 5000): Probe[] {
  return [
    new Probe("MULTI", [], timeoutMs),
    ...Array.from({ length: size }, (_, i) => new Probe("SET", [`tx:${label}`, `${i}`], timeoutMs)),
    new Probe("EXEC", [], timeoutMs),
  ];
}

/** Scripts MULTI/EXEC like a server that queues: QUEUED inside, an array of OKs at EXEC. */
function actLikeRedis(fake: FakeServer): void {
  let queued = -1;
  fake.handle("MULTI", () => {
    queued = 0;
    return OK;
  });
  fake.handle("SET", () => {
    if (queued < 0) return OK;
    queued++;
    return raw("+QUEUED\r\n");
  });
  fake.handle("EXEC", () => {
    const replies = Array.from({ length: queued }, () => OK);
    queued = -1;
    return replies;
  });
}

/** Checks, on every connection of the fake, that each MULTI is followed by its own SETs and its EXEC. */
function expectContiguous(fake: FakeServer, size: number): number {
  let units = 0;
  for (const connection of fake.connections) {
    const commands = connection.commands;
    commands.forEach((command, index) => {
      if (command.name !== "MULTI") return;
      units++;
      const label = commands[index + 1]?.argv[0];
      for (let i = 1; i <= size; i++) {
        expect(commands[index + i]?.toString(), `part ${i} of the unit at ${index}`).toBe(
          `SET ${label} ${i - 1}`,
        );
      }
      expect(commands[index + size + 1]?.name, `the unit at ${index} ends with EXEC`).toBe("EXEC");
    });
  }
  return units;
}

describe("sendUnit", () => {
  it("puts a unit's parts back to back, between the commands sent before and after it in the same tick", async () => {
    const fake = await startFakeServer();
    actLikeRedis(fake);
    const connection = open(fake);
    await connection.connect();
    const before = new Probe("GET", ["before"]);
    const unit = transaction("a");
    const after = new Probe("GET", ["after"]);
    connection.send(before);
    connection.sendUnit(unit);
    connection.send(after);
    const outcomes = await Promise.all([before, ...unit, after].map((probe) => probe.done));
    expect(fake.connections[0]!.commands.map(String)).toEqual([
      "PING",
      "GET before",
      "MULTI",
      "SET tx:a 0",
      "SET tx:a 1",
      "EXEC",
      "GET after",
    ]);
    // One write for all of it: every command of the tick arrived in the same TCP chunk.
    expect(new Set(fake.connections[0]!.commands.slice(1).map((command) => command.chunk)).size).toBe(1);
    // Each part got its own reply.
    expect(outcomes.map((outcome) => (outcome.kind === "settle" ? outcome.value : outcome.kind))).toEqual([
      null,
      "OK",
      "QUEUED",
      "QUEUED",
      ["OK", "OK"],
      null,
    ]);
  });

  it("maxInFlight never splits a unit: units of 6 parts stay whole under a limit of 2", async () => {
    const fake = await startFakeServer();
    actLikeRedis(fake);
    fake.handle("GET", (command) => delayed(2, command.argv[0]!));
    const connection = open(fake, { maxInFlight: 2 });
    await connection.connect();
    const probes: Probe[] = [];
    for (let i = 0; i < 30; i++) {
      if (i % 3 === 0) {
        const unit = transaction(`u${i}`, 4);
        probes.push(...unit);
        connection.sendUnit(unit);
      } else {
        const probe = new Probe("GET", [`plain:${i}`]);
        probes.push(probe);
        connection.send(probe);
      }
    }
    // The first GETs fill the limit: the rest waits, the units among it as single entries.
    expect(connection.waitingCount).toBeLessThan(30);
    const outcomes = await Promise.all(probes.map((probe) => probe.done));
    expect(outcomes.every((outcome) => outcome.kind === "settle")).toBe(true);
    expect(expectContiguous(fake, 4)).toBe(10);
    // At most one unit over the limit at the server at once: 2 + 5 more parts.
    expect(fake.connections[0]!.maxOutstanding).toBeLessThanOrEqual(2 + 5);
  });

  it("a unit waiting for the handshake expires whole at its earliest deadline: none of its parts is sent", async () => {
    const fake = await startFakeServer();
    fake.handle("AUTH", delayed(150, raw("+OK\r\n")));
    const connection = open(fake, { password: "pw" });
    const unit = [
      new Probe("MULTI", [], 5000),
      new Probe("SET", ["k", "v"], 30),
      new Probe("EXEC", [], 5000),
    ];
    connection.sendUnit(unit);
    const next = new Probe("GET", ["next"]);
    connection.send(next);
    expect(await Promise.all(unit.map((probe) => probe.done))).toEqual([
      { kind: "expire" },
      { kind: "expire" },
      { kind: "expire" },
    ]);
    expect(await next.done).toEqual({ kind: "settle", value: null });
    expect(fake.connections[0]!.commands.map(String)).toEqual(["AUTH pw", "GET next"]);
  });

  it("a part that cannot be encoded stops the whole unit: nothing of it is sent, every part fails as unsent", async () => {
    const fake = await startFakeServer();
    actLikeRedis(fake);
    const connection = open(fake);
    await connection.connect();
    // NaN is refused by the encoder (the client checks arguments before; this is the last guard).
    const unit = [new Probe("MULTI"), new Probe("SET", ["k", Number.NaN]), new Probe("EXEC")];
    connection.sendUnit(unit);
    const next = new Probe("GET", ["next"]);
    connection.send(next);
    const outcomes = await Promise.all(unit.map((probe) => probe.done));
    for (const outcome of outcomes) {
      expect(outcome.kind).toBe("fail");
      if (outcome.kind === "fail") {
        expect(outcome.error).toBeInstanceOf(ArgumentError);
        expect(outcome.written).toBe(false);
      }
    }
    expect(await next.done).toEqual({ kind: "settle", value: null });
    // The connection is not left in MULTI: the server never saw one.
    expect(fake.connections[0]!.commands.map(String)).toEqual(["PING", "GET next"]);
  });

  it("a connection lost after the unit was written fails its unanswered parts as written", async () => {
    const fake = await startFakeServer();
    actLikeRedis(fake);
    fake.handle("EXEC", close());
    const connection = open(fake);
    await connection.connect();
    const unit = transaction("lost");
    connection.sendUnit(unit);
    const outcomes = await Promise.all(unit.map((probe) => probe.done));
    expect(outcomes.slice(0, 3).map((outcome) => outcome.kind)).toEqual(["settle", "settle", "settle"]);
    const exec = outcomes[3]!;
    expect(exec.kind).toBe("fail");
    if (exec.kind === "fail") {
      expect(exec.error).toBeInstanceOf(ConnectionError);
      expect(exec.written).toBe(true);
    }
  });

  it("ASKING + a unit: ASKING goes first, its OK is dropped, the parts follow it directly", async () => {
    const fake = await startFakeServer();
    actLikeRedis(fake);
    const connection = open(fake);
    await connection.connect();
    const unit = transaction("asked");
    connection.send(new Probe("GET", ["plain"]));
    connection.sendUnit(unit, true);
    const outcomes = await Promise.all(unit.map((probe) => probe.done));
    expect(outcomes.map((outcome) => (outcome.kind === "settle" ? outcome.value : outcome.kind))).toEqual([
      "OK",
      "QUEUED",
      "QUEUED",
      ["OK", "OK"],
    ]);
    expect(fake.connections[0]!.commands.map(String).slice(1)).toEqual([
      "GET plain",
      "ASKING",
      "MULTI",
      "SET tx:asked 0",
      "SET tx:asked 1",
      "EXEC",
    ]);
  });
});
