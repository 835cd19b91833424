/**
 * The chaos tests' fault proxy (test/helpers/fault-proxy.ts), against a trivial echo server:
 * each fault does what it says, in each direction, and nothing else.
 */
import { once } from "node:events";
import { connect, createServer, type Server, type Socket } from "node:net";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import {
  commandArgs,
  cutReply,
  type FaultProxy,
  respFrameEnd,
  startFaultProxy,
} from "../helpers/fault-proxy.js";
import { waitFor } from "../helpers/wait.js";

/** An echo server that also records what it received. */
interface Echo {
  server: Server;
  port: number;
  received: Buffer[];
  sockets: Set<Socket>;
  /** Echo back (default) or just record. */
  echo: boolean;
}

async function startEcho(): Promise<Echo> {
  const echo: Echo = { server: createServer(), port: 0, received: [], sockets: new Set(), echo: true };
  echo.server.on("connection", (socket) => {
    echo.sockets.add(socket);
    socket.on("data", (chunk) => {
      echo.received.push(chunk);
      if (echo.echo) socket.write(chunk);
    });
    socket.on("error", () => undefined);
    socket.on("close", () => echo.sockets.delete(socket));
  });
  echo.server.listen(0, "127.0.0.1");
  await once(echo.server, "listening");
  echo.port = (echo.server.address() as { port: number }).port;
  return echo;
}

/** A client socket that records what it reads and how it ended. */
interface Peer {
  socket: Socket;
  data(): string;
  ended: Promise<"end" | "reset" | "error">;
  endedAs: "end" | "reset" | "error" | undefined;
}

async function connectPeer(port: number): Promise<Peer> {
  const socket = connect({ host: "127.0.0.1", port });
  const chunks: Buffer[] = [];
  socket.on("data", (chunk: Buffer) => chunks.push(chunk));
  const peer: Peer = {
    socket,
    data: () => Buffer.concat(chunks).toString("latin1"),
    endedAs: undefined,
    ended: new Promise((resolve) => {
      socket.on("error", (error: NodeJS.ErrnoException) => {
        const how = error.code === "ECONNRESET" ? "reset" : "error";
        peer.endedAs ??= how;
        resolve(how);
      });
      socket.on("close", () => {
        peer.endedAs ??= "end";
        resolve(peer.endedAs);
      });
    }),
  };
  await once(socket, "connect");
  return peer;
}

const received = (echo: Echo) => Buffer.concat(echo.received).toString("latin1");

let echo: Echo;
let proxy: FaultProxy;
const peers: Peer[] = [];

async function peer(): Promise<Peer> {
  const p = await connectPeer(proxy.port);
  peers.push(p);
  return p;
}

beforeEach(async () => {
  echo = await startEcho();
  proxy = await startFaultProxy(echo.port);
});

afterEach(async () => {
  for (const p of peers.splice(0)) p.socket.destroy();
  await proxy.close();
  for (const socket of echo.sockets) socket.destroy();
  await new Promise<void>((resolve) => echo.server.close(() => resolve()));
});

describe("fault proxy", () => {
  it("passes bytes both ways unchanged and counts them", async () => {
    const client = await peer();
    client.socket.write("hello\r\n");
    await waitFor("the echo", 5_000, () => client.data() === "hello\r\n");
    expect(received(echo)).toBe("hello\r\n");
    expect(proxy.counters).toMatchObject({
      accepted: 1,
      forwarded: { toServer: 7, toClient: 7 },
      discarded: { toServer: 0, toClient: 0 },
    });
  });

  it("delay: a round trip takes at least both delays, and bytes keep their order when the delay changes", async () => {
    const client = await peer();
    proxy.delay(150, "toServer");
    const startedAt = performance.now();
    client.socket.write("a");
    await waitFor("the proxy to read a", 5_000, () => proxy.counters.received.toServer === 1);
    proxy.delay(0, "toServer");
    client.socket.write("b"); // passed on without delay, but must not overtake "a"
    await waitFor("the echo", 5_000, () => client.data() === "ab");
    expect(performance.now() - startedAt).toBeGreaterThanOrEqual(140);
    expect(received(echo)).toBe("ab");
  });

  it("stall toServer: bytes are held (the server gets none) until heal, then delivered in order", async () => {
    const client = await peer();
    proxy.stall("toServer");
    client.socket.write("one ");
    client.socket.write("two");
    await waitFor("the proxy to read the bytes", 5_000, () => proxy.counters.received.toServer === 7);
    expect(proxy.counters.forwarded.toServer).toBe(0);
    expect(received(echo)).toBe("");
    proxy.heal();
    await waitFor("the echo after heal", 5_000, () => client.data() === "one two");
    expect(client.endedAs).toBeUndefined();
  });

  it("stall toClient: the server gets the bytes, its answer is held until heal", async () => {
    const client = await peer();
    proxy.stall("toClient");
    client.socket.write("ping");
    await waitFor("the echo to reach the proxy", 5_000, () => proxy.counters.received.toClient === 4);
    expect(received(echo)).toBe("ping");
    expect(client.data()).toBe("");
    proxy.heal();
    await waitFor("the echo after heal", 5_000, () => client.data() === "ping");
  });

  it("blackhole: new connections are accepted and never answered nor closed; heal resets the links that lost bytes", async () => {
    proxy.blackhole("both");
    const client = await peer(); // the TCP connection is accepted
    client.socket.write("lost");
    await waitFor("the proxy to discard the bytes", 5_000, () => proxy.counters.discarded.toServer === 4);
    expect(received(echo)).toBe("");
    expect(proxy.openLinks).toBe(1);
    expect(client.endedAs).toBeUndefined();
    proxy.heal();
    expect(await client.ended).toBe("reset");
    // After heal, a new connection works.
    const next = await peer();
    next.socket.write("back");
    await waitFor("the echo after heal", 5_000, () => next.data() === "back");
  });

  it("blackhole toClient: the server's answers are discarded, its close is not passed on", async () => {
    const client = await peer();
    proxy.blackhole("toClient");
    client.socket.write("x");
    await waitFor("the answer to be discarded", 5_000, () => proxy.counters.discarded.toClient === 1);
    for (const socket of echo.sockets) socket.destroy();
    await waitFor("the proxy to see the server close", 5_000, () => proxy.counters.upstreamClosed === 1);
    // The proxy closes a link synchronously when it passes a close on; it kept this one.
    expect(proxy.openLinks).toBe(1);
    expect(client.endedAs).toBeUndefined();
    expect(client.data()).toBe("");
  });

  it("drop: the open links close with a FIN", async () => {
    const client = await peer();
    proxy.drop();
    expect(await client.ended).toBe("end");
  });

  it("reset: the open links are reset (ECONNRESET)", async () => {
    const client = await peer();
    proxy.reset();
    expect(await client.ended).toBe("reset");
    expect(proxy.counters.resets).toBe(1);
  });

  it("resetAfter(n, toClient): exactly n bytes of the answer arrive, then a reset", async () => {
    const client = await peer();
    proxy.resetAfter(10, "toClient");
    client.socket.write("0123456789abcdefghij");
    // Linux reports an RST that arrives behind unread bytes as the end of the stream.
    expect(["reset", "end"]).toContain(await client.ended);
    expect(proxy.counters.resets).toBe(1);
    expect(client.data()).toBe("0123456789");
    expect(proxy.counters.forwarded.toClient).toBe(10);
  });

  it("resetAfter(n, toServer): the server gets exactly n bytes; later links are not affected", async () => {
    const client = await peer();
    proxy.resetAfter(3, "toServer");
    client.socket.write("abcdef");
    expect(await client.ended).toBe("reset");
    expect(proxy.counters.resets).toBe(1);
    await waitFor("the server to read", 5_000, () => received(echo).length >= 3);
    expect(received(echo)).toBe("abc");
    const next = await peer();
    next.socket.write("whole");
    await waitFor("the echo", 5_000, () => next.data() === "whole");
  });

  it("rewriteReplies (framed): the reply of the command the rule picks is replaced, others pass, frames split anywhere", async () => {
    const framed = await startFaultProxy(echo.port, { framed: true });
    try {
      framed.rewriteReplies((args) =>
        args[0]?.toString() === "PING" ? () => Buffer.from("+rewritten\r\n") : undefined,
      );
      const client = await connectPeer(framed.port);
      peers.push(client);
      // The echo server sends each command back: a valid RESP frame, taken as its reply.
      const bytes = "*1\r\n$4\r\nECHO\r\n*2\r\n$4\r\nPING\r\n$1\r\nx\r\n*1\r\n$4\r\nLAST\r\n";
      for (const char of bytes) client.socket.write(char); // byte by byte
      await waitFor("three replies", 5_000, () => client.data().endsWith("LAST\r\n"));
      expect(client.data()).toBe("*1\r\n$4\r\nECHO\r\n+rewritten\r\n*1\r\n$4\r\nLAST\r\n");
      expect(framed.counters.rewritten).toBe(1);
    } finally {
      await framed.close();
    }
  });

  it("rewriteReplies with cutReply: part of the picked reply, then a reset; nothing after it", async () => {
    const framed = await startFaultProxy(echo.port, { framed: true });
    try {
      framed.rewriteReplies((args) =>
        args[0]?.toString() === "PING" ? (reply) => cutReply(reply, 6) : undefined,
      );
      const client = await connectPeer(framed.port);
      peers.push(client);
      client.socket.write("*1\r\n$4\r\nECHO\r\n*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nLAST\r\n");
      expect(["reset", "end"]).toContain(await client.ended);
      expect(client.data()).toBe("*1\r\n$4\r\nECHO\r\n*1\r\n$4");
      expect(framed.counters.resets).toBe(1);
    } finally {
      await framed.close();
    }
  });

  it("rewriteReplies needs a framed proxy", () => {
    expect(() => proxy.rewriteReplies(() => undefined)).toThrow(/framed/);
  });
});

describe("RESP framing", () => {
  const cases = [
    "+OK\r\n",
    "-ERR x\r\n",
    ":42\r\n",
    "$5\r\nhe\r\nl\r\n",
    "$-1\r\n",
    "*-1\r\n",
    "*0\r\n",
    "*2\r\n$1\r\na\r\n*1\r\n:1\r\n",
    "%1\r\n+k\r\n$1\r\nv\r\n",
    "_\r\n",
    ">2\r\n+a\r\n+b\r\n",
  ];

  it.each(cases)("%j: whole, and incomplete at every shorter length", (frame) => {
    const bytes = Buffer.from(frame, "latin1");
    expect(respFrameEnd(Buffer.concat([bytes, Buffer.from("+next\r\n")]), 0)).toBe(bytes.length);
    for (let length = 0; length < bytes.length; length++) {
      expect(respFrameEnd(bytes.subarray(0, length), 0)).toBeUndefined();
    }
  });

  it("commandArgs reads the bulk strings of a command", () => {
    const args = commandArgs(Buffer.from("*3\r\n$7\r\nCLUSTER\r\n$6\r\nSHARDS\r\n$0\r\n\r\n"));
    expect(args.map(String)).toEqual(["CLUSTER", "SHARDS", ""]);
  });

  it("a byte that starts no RESP frame throws", () => {
    expect(() => respFrameEnd(Buffer.from("?x\r\n"), 0)).toThrow(/not a RESP frame/);
  });
});
