/**
 * What `autoPipelining` changes, counted: the socket writes the client makes for commands
 * issued in one tick. A receiving server cannot tell (the kernel hands it everything that
 * arrived in one read, however many writes it took), so the writes are counted where they
 * are made, on the client's sockets to the fake node (each `write` of an idle socket is one
 * write(2) to the kernel).
 */
import { Socket } from "node:net";
import { afterEach, describe, expect, it, vi } from "vitest";
import { RedisCluster, type RedisClusterOptions } from "../../src/index.js";
import { closeAllFakes, FakeCluster, type FakeServer } from "./resp-server.js";

const clients: RedisCluster[] = [];
afterEach(async () => {
  for (const client of clients.splice(0)) client.disconnect();
  await closeAllFakes();
  vi.restoreAllMocks();
});

/** Counts the `write` calls of sockets connected to `node`, from now on. */
function countWritesTo(node: FakeServer): { readonly count: number } {
  const counter = { count: 0 };
  const write = Socket.prototype.write;
  vi.spyOn(Socket.prototype, "write").mockImplementation(function (this: Socket, ...args: unknown[]) {
    if (this.remotePort === node.port) counter.count++;
    return (write as (...a: unknown[]) => boolean).apply(this, args);
  } as Socket["write"]);
  return counter;
}

async function writesFor100Commands(options: Omit<RedisClusterOptions, "nodes">) {
  const cluster = await FakeCluster.start(1);
  const [node] = cluster.nodes as [FakeServer];
  const client = new RedisCluster({ nodes: cluster.seeds, refreshInterval: 0, ...options });
  clients.push(client);
  await client.connect();
  await client.ping(); // the connection is open and idle
  node.clearRecords();
  const writes = countWritesTo(node);
  // 100 commands in one tick.
  const replies = await Promise.all(Array.from({ length: 100 }, (_, i) => client.set(`k${i}`, "v")));
  expect(replies.every((reply) => reply === "OK")).toBe(true);
  expect(node.count("SET")).toBe(100);
  return writes.count;
}

describe("autoPipelining", () => {
  it("on (the default): 100 commands issued in one tick leave in one write", async () => {
    expect(await writesFor100Commands({})).toBe(1);
  });

  it("off: each command is written on its own (100 writes)", async () => {
    expect(await writesFor100Commands({ autoPipelining: false })).toBe(100);
  });
});
