/**
 * Free TCP ports for dev nodes. A cluster node listens on `port` and on its cluster bus at
 * `port + 10000`, so both must be free. Ports come from 10000..22767: the bus ports then
 * end at 32767, below Linux's ephemeral range (32768+), so outgoing connections of other
 * programs cannot take them between our check and redis-server's bind. The check can still
 * race with another program binding the same port; the caller retries with a new port when
 * redis-server reports EADDRINUSE.
 */
import { createServer } from "node:net";

/** The cluster bus of a node listens at its port plus this offset (fixed by Redis). */
export const BUS_PORT_OFFSET = 10_000;
const LOWEST_PORT = 10_000;
const HIGHEST_PORT = 22_767;
const MAX_CANDIDATES = 2_000;

/** Ports handed out by this process and not released yet (two clusters started at once). */
const reserved = new Set<number>();
/** Where the next scan starts, so that one cluster tends to get consecutive ports. */
let nextCandidate = LOWEST_PORT + Math.floor(Math.random() * (HIGHEST_PORT - LOWEST_PORT + 1));

/**
 * Finds a port whose bus port is free too, and reserves it in this process until
 * {@link releaseNodePort}.
 *
 * @example
 * const port = await reserveNodePort("127.0.0.1"); // e.g. 14203 (bus 24203)
 */
export async function reserveNodePort(host = "127.0.0.1"): Promise<number> {
  for (let tried = 0; tried < MAX_CANDIDATES; tried++) {
    const port = nextCandidate;
    nextCandidate = port >= HIGHEST_PORT ? LOWEST_PORT : port + 1;
    if (reserved.has(port)) continue;
    // Reserve before the (asynchronous) bind tests so a concurrent call skips this port.
    reserved.add(port);
    if ((await canBind(host, port)) && (await canBind(host, port + BUS_PORT_OFFSET))) return port;
    reserved.delete(port);
  }
  throw new Error(
    `no free port pair (port and port+${BUS_PORT_OFFSET}) found on ${host} between ${LOWEST_PORT} and ${HIGHEST_PORT}`,
  );
}

/** Gives a port back once its node is gone. */
export function releaseNodePort(port: number): void {
  reserved.delete(port);
}

/** Marks ports of an existing cluster (attached from a state file) as taken in this process. */
export function markNodePortUsed(port: number): void {
  reserved.add(port);
}

/**
 * Whether `count` consecutive ports from `first`, and their bus ports, are free now (and not
 * handed out by this process). Another program may still bind one before a node does.
 *
 * @example
 * await nodePortsFree("127.0.0.1", 7000, 6); // true on a machine with nothing on 7000-7005
 */
export async function nodePortsFree(host: string, first: number, count: number): Promise<boolean> {
  for (let port = first; port < first + count; port++) {
    if (reserved.has(port)) return false;
    if (!(await canBind(host, port)) || !(await canBind(host, port + BUS_PORT_OFFSET))) return false;
  }
  return true;
}

function canBind(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once("error", () => resolve(false));
    server.listen({ host, port, exclusive: true }, () => {
      server.close(() => resolve(true));
    });
  });
}
