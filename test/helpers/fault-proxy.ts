/**
 * A fault-injection TCP proxy for chaos tests: one in front of each node of a real dev
 * cluster, the client reaching the nodes through it (seeds = proxy ports, `natMap` maps the
 * announced `127.0.0.1:<node port>` to the proxy, MOVED/ASK targets included). The cluster
 * itself talks node-to-node directly, so a fault here is one between the client and a node
 * only: a partition the cluster does not see.
 *
 * Every accepted connection is a link of two pipes, one per direction:
 *
 * ```
 *   client ──toServer──► [framer?] ─► fault ─► queue (releaseAt) ─► reset budget ─► node
 *   client ◄─toClient─── [framer?] ◄─ fault ◄─ queue (releaseAt) ◄─ reset budget ◄─ node
 * ```
 *
 * Faults are per proxy and per direction, and apply to the links open now and to new ones:
 * - `stall`: bytes are held (in order) until `heal()`, then delivered: a frozen process or a
 *   congested path; TCP keeps the connection.
 * - `blackhole`: bytes are discarded; new connections are accepted and never answered;
 *   nothing is ever closed. A link that lost bytes is reset by `heal()`, because its byte
 *   stream has a hole (a real network would have reset it after its retransmissions).
 * - `delay(ms)`: every chunk waits `ms` (order kept).
 * - `drop()`: closes the links open now (FIN). `reset()`: resets them (RST).
 * - `resetAfter(n, direction)`: the first link to forward `n` more bytes in that direction
 *   forwards exactly `n`, then is reset (RST to the client): a node dying mid-reply.
 * - `rewriteReplies(rule)` (proxies started with `framed: true`): the proxy reads commands
 *   and replies as RESP frames, pairs them in order, and replaces the replies the rule picks
 *   (or, with `cutReply`, sends part of one and resets the link).
 */
import { createServer, connect as netConnect, type Server, type Socket } from "node:net";
import type { DevCluster } from "../../src/dev/index.js";

export type Direction = "toServer" | "toClient";
export type Directions = Direction | "both";

/** Given a command (name and arguments as sent), how to rewrite its reply, if at all. */
export type ReplyRule = (command: readonly Buffer[]) => ((reply: Buffer) => Buffer | CutReply) | undefined;

/** A rewritten reply that is sent, and then the connection is reset (nothing after it passes). */
export class CutReply {
  constructor(readonly bytes: Buffer) {}
}

/** The first `bytes` of `reply`, then a reset: a node dying in the middle of this reply. */
export const cutReply = (reply: Buffer, bytes: number): CutReply => new CutReply(reply.subarray(0, bytes));

/** A chunk on its way, and when it may leave; `thenReset`: the link is reset once it is out. */
interface Pending {
  data: Buffer;
  releaseAt: number;
  thenReset?: boolean;
}

export interface FaultProxyOptions {
  /** Read both streams as RESP frames, so that `rewriteReplies` can work (default false). */
  framed?: boolean;
}

/** What a proxy has done so far. */
export interface FaultProxyCounters {
  /** Connections accepted. */
  accepted: number;
  /** Bytes read from either side, per direction (before any fault). */
  received: Record<Direction, number>;
  /** Bytes delivered, per direction. */
  forwarded: Record<Direction, number>;
  /** Bytes thrown away by a blackhole, per direction. */
  discarded: Record<Direction, number>;
  /** Links whose node side closed (or failed to connect). */
  upstreamClosed: number;
  /** Links reset (RST), by `reset()`, `resetAfter` or `heal()` after a blackhole. */
  resets: number;
  /** Replies replaced by a `rewriteReplies` rule. */
  rewritten: number;
}

type Mode = "pass" | "stall" | "blackhole";

interface Fault {
  mode: Mode;
  delayMs: number;
  /** Bytes this direction may still forward, per link, before that link is reset. */
  resetBudget: Map<Link, number> | undefined;
  resetAfterBytes: number;
}

/** One accepted connection and its connection to the node. */
class Link {
  readonly client: Socket;
  readonly upstream: Socket;
  /** Chunks accepted and not yet delivered, per direction, with when they may leave. */
  readonly queues: Record<Direction, Pending[]> = {
    toServer: [],
    toClient: [],
  };
  readonly timers: Record<Direction, NodeJS.Timeout | undefined> = {
    toServer: undefined,
    toClient: undefined,
  };
  /** The byte stream in this direction has a hole (blackhole discarded some of it). */
  readonly broken: Record<Direction, boolean> = { toServer: false, toClient: false };
  /** Framed mode: for each command sent, its reply's rewrite (or undefined), in order. */
  readonly replyRewrites: Array<((reply: Buffer) => Buffer | CutReply) | undefined> = [];
  /** Framed mode: a cut reply was queued; whatever comes after it is dropped. */
  cut = false;
  readonly partial: Record<Direction, Buffer> = { toServer: Buffer.alloc(0), toClient: Buffer.alloc(0) };
  closed = false;
  upstreamGone = false;

  constructor(client: Socket, upstream: Socket) {
    this.client = client;
    this.upstream = upstream;
  }

  target(direction: Direction): Socket {
    return direction === "toServer" ? this.upstream : this.client;
  }
}

/**
 * A proxy on a free port of 127.0.0.1 in front of `127.0.0.1:targetPort`.
 *
 * @example
 * const proxy = await startFaultProxy(node.port);
 * proxy.blackhole("both");   // the node is unreachable, nothing is closed
 * proxy.heal();
 * await proxy.close();
 */
export class FaultProxy {
  readonly targetPort: number;
  readonly counters: FaultProxyCounters = {
    accepted: 0,
    received: { toServer: 0, toClient: 0 },
    forwarded: { toServer: 0, toClient: 0 },
    discarded: { toServer: 0, toClient: 0 },
    upstreamClosed: 0,
    resets: 0,
    rewritten: 0,
  };
  readonly #server: Server;
  readonly #framed: boolean;
  readonly #links = new Set<Link>();
  readonly #faults: Record<Direction, Fault> = {
    toServer: { mode: "pass", delayMs: 0, resetBudget: undefined, resetAfterBytes: 0 },
    toClient: { mode: "pass", delayMs: 0, resetBudget: undefined, resetAfterBytes: 0 },
  };
  #rule: ReplyRule | undefined;
  #port = 0;

  constructor(targetPort: number, options: FaultProxyOptions = {}) {
    this.targetPort = targetPort;
    this.#framed = options.framed ?? false;
    this.#server = createServer((client) => this.#accept(client));
  }

  /** The proxy's port: what the client connects to. */
  get port(): number {
    return this.#port;
  }

  /** `127.0.0.1:<proxy port>` */
  get address(): string {
    return `127.0.0.1:${this.#port}`;
  }

  /** Links open right now. */
  get openLinks(): number {
    return this.#links.size;
  }

  /** Starts listening; resolves with the proxy. */
  async listen(): Promise<this> {
    await new Promise<void>((resolve, reject) => {
      this.#server.once("error", reject);
      this.#server.listen(0, "127.0.0.1", () => resolve());
    });
    const address = this.#server.address();
    if (address === null || typeof address === "string") throw new Error("the proxy has no port");
    this.#port = address.port;
    return this;
  }

  /** Holds every byte in `direction` until `heal()`. */
  stall(direction: Directions = "both"): void {
    for (const d of directionsOf(direction)) this.#faults[d].mode = "stall";
  }

  /** Discards every byte in `direction`; accepts connections and never closes them. */
  blackhole(direction: Directions = "both"): void {
    for (const d of directionsOf(direction)) {
      this.#faults[d].mode = "blackhole";
      for (const link of this.#links) this.#pump(link, d);
    }
  }

  /** Delays every chunk in `direction` by `ms` from now on (0: no delay). */
  delay(ms: number, direction: Directions = "both"): void {
    for (const d of directionsOf(direction)) this.#faults[d].delayMs = ms;
  }

  /** Closes every open link, both sides (FIN). New connections are accepted as usual. */
  drop(): void {
    for (const link of [...this.#links]) this.#closeLink(link, false);
  }

  /** Resets every open link (RST to the client). */
  reset(): void {
    for (const link of [...this.#links]) this.#closeLink(link, true);
  }

  /**
   * The first link to forward `bytes` more bytes in `direction` forwards exactly that many,
   * then is reset (RST to the client); then the trigger is spent.
   */
  resetAfter(bytes: number, direction: Direction = "toClient"): void {
    const fault = this.#faults[direction];
    fault.resetAfterBytes = bytes;
    fault.resetBudget = new Map([...this.#links].map((link) => [link, bytes]));
  }

  /** Framed proxies only: replies to the commands `rule` picks are rewritten (undefined: none). */
  rewriteReplies(rule: ReplyRule | undefined): void {
    if (!this.#framed) throw new Error("rewriteReplies needs a proxy started with { framed: true }");
    this.#rule = rule;
  }

  /**
   * Ends every fault: held bytes are delivered, links with a hole (blackholed bytes) are
   * reset, the reset trigger and the reply rule are dropped.
   */
  heal(): void {
    for (const direction of directionsOf("both")) {
      const fault = this.#faults[direction];
      fault.mode = "pass";
      fault.delayMs = 0;
      fault.resetBudget = undefined;
    }
    this.#rule = undefined;
    for (const link of [...this.#links]) {
      if (link.broken.toServer || link.broken.toClient) this.#closeLink(link, true);
      else if (link.upstreamGone) this.#closeLink(link, false);
      else for (const direction of directionsOf("both")) this.#pump(link, direction);
    }
  }

  /** Closes every link and stops listening. */
  async close(): Promise<void> {
    for (const link of [...this.#links]) this.#closeLink(link, false);
    await new Promise<void>((resolve) => this.#server.close(() => resolve()));
  }

  #accept(client: Socket): void {
    this.counters.accepted++;
    const upstream = netConnect({ host: "127.0.0.1", port: this.targetPort });
    const link = new Link(client, upstream);
    this.#links.add(link);
    for (const direction of directionsOf("both")) {
      const fault = this.#faults[direction];
      if (fault.resetBudget) fault.resetBudget.set(link, fault.resetAfterBytes);
    }
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.on("data", (chunk: Buffer) => this.#receive(link, "toServer", chunk));
    upstream.on("data", (chunk: Buffer) => this.#receive(link, "toClient", chunk));
    client.on("error", () => this.#closeLink(link, false));
    client.on("close", () => this.#closeLink(link, false));
    upstream.on("error", () => this.#upstreamGone(link));
    upstream.on("close", () => this.#upstreamGone(link));
  }

  /** The node closed (or refused): so does the client side, unless that side is a blackhole. */
  #upstreamGone(link: Link): void {
    if (link.upstreamGone) return;
    link.upstreamGone = true;
    this.counters.upstreamClosed++;
    if (this.#faults.toClient.mode === "blackhole") return; // closed by heal()
    // Deliver what the node sent before closing (a reply and then a FIN, say).
    const flushThenClose = () => {
      if (!this.#links.has(link)) return;
      if (link.queues.toClient.length === 0) this.#closeLink(link, false);
      else setTimeout(flushThenClose, 5);
    };
    flushThenClose();
  }

  #receive(link: Link, direction: Direction, chunk: Buffer): void {
    if (link.closed) return;
    this.counters.received[direction] += chunk.length;
    const chunks = this.#framed ? this.#frame(link, direction, chunk) : [{ data: chunk }];
    const fault = this.#faults[direction];
    const releaseAt = performance.now() + fault.delayMs;
    for (const { data, thenReset } of chunks) link.queues[direction].push({ data, releaseAt, thenReset });
    this.#pump(link, direction);
  }

  /** Delivers what may leave now, in order; discards it in a blackhole. */
  #pump(link: Link, direction: Direction): void {
    if (link.closed) return;
    const fault = this.#faults[direction];
    const queue = link.queues[direction];
    if (fault.mode === "blackhole") {
      for (const { data } of queue.splice(0)) {
        this.counters.discarded[direction] += data.length;
        link.broken[direction] = true;
      }
      return;
    }
    if (fault.mode === "stall") return;
    clearTimeout(link.timers[direction]);
    link.timers[direction] = undefined;
    const now = performance.now();
    while (queue.length > 0 && !link.closed) {
      const head = queue[0]!;
      if (head.releaseAt > now) {
        link.timers[direction] = setTimeout(() => this.#pump(link, direction), head.releaseAt - now);
        return;
      }
      queue.shift();
      if (head.thenReset) {
        link.closed = true;
        link.target(direction).write(head.data, () => this.#closeLink(link, true));
        this.counters.forwarded[direction] += head.data.length;
        return;
      }
      this.#deliver(link, direction, head.data);
    }
  }

  #deliver(link: Link, direction: Direction, data: Buffer): void {
    const budgets = this.#faults[direction].resetBudget;
    const budget = budgets?.get(link);
    if (budgets !== undefined && budget !== undefined && data.length >= budget) {
      this.counters.forwarded[direction] += budget;
      this.#faults[direction].resetBudget = undefined;
      // Nothing more goes through this link; the RST waits until the partial bytes are in
      // the kernel (a reset throws away what the socket has not handed over yet).
      link.closed = true;
      link.target(direction).write(data.subarray(0, budget), () => this.#closeLink(link, true));
      return;
    }
    if (budgets !== undefined && budget !== undefined) budgets.set(link, budget - data.length);
    link.target(direction).write(data);
    this.counters.forwarded[direction] += data.length;
  }

  #closeLink(link: Link, reset: boolean): void {
    this.#links.delete(link);
    link.closed = true;
    for (const direction of directionsOf("both")) clearTimeout(link.timers[direction]);
    if (reset && !link.client.destroyed) {
      this.counters.resets++;
      link.client.resetAndDestroy();
    } else {
      link.client.destroy();
    }
    link.upstream.destroy();
  }

  /** Framed mode: splits a chunk into whole RESP frames, pairing commands and replies. */
  #frame(link: Link, direction: Direction, chunk: Buffer): Array<{ data: Buffer; thenReset?: boolean }> {
    if (link.cut) return [];
    const partial = link.partial[direction];
    let buffer = partial.length === 0 ? chunk : Buffer.concat([partial, chunk]);
    const frames: Array<{ data: Buffer; thenReset?: boolean }> = [];
    let offset = 0;
    for (;;) {
      const end = respFrameEnd(buffer, offset);
      if (end === undefined) break;
      const frame = buffer.subarray(offset, end);
      offset = end;
      if (direction === "toServer") {
        link.replyRewrites.push(this.#rule?.(commandArgs(frame)));
        frames.push({ data: frame });
        continue;
      }
      const rewrite = link.replyRewrites.shift();
      if (rewrite === undefined) {
        frames.push({ data: frame });
        continue;
      }
      this.counters.rewritten++;
      const replaced = rewrite(Buffer.from(frame));
      if (replaced instanceof CutReply) {
        link.cut = true;
        frames.push({ data: replaced.bytes, thenReset: true });
        return frames;
      }
      frames.push({ data: replaced });
    }
    buffer = buffer.subarray(offset);
    link.partial[direction] = buffer.length === 0 ? Buffer.alloc(0) : Buffer.from(buffer);
    return frames;
  }
}

/**
 * Starts a proxy in front of `127.0.0.1:targetPort`.
 *
 * @example
 * const proxy = await startFaultProxy(7001);
 * const client = new RedisCluster({ nodes: [proxy.address] });
 */
export function startFaultProxy(targetPort: number, options: FaultProxyOptions = {}): Promise<FaultProxy> {
  return new FaultProxy(targetPort, options).listen();
}

function directionsOf(direction: Directions): Direction[] {
  return direction === "both" ? ["toServer", "toClient"] : [direction];
}

/** Where the RESP frame starting at `offset` ends (exclusive), or undefined if incomplete. */
export function respFrameEnd(buffer: Buffer, offset: number): number | undefined {
  if (offset >= buffer.length) return undefined;
  const lineEnd = buffer.indexOf("\r\n", offset + 1, "latin1");
  if (lineEnd < 0) return undefined;
  const type = String.fromCharCode(buffer[offset]!);
  const afterLine = lineEnd + 2;
  switch (type) {
    case "+":
    case "-":
    case ":":
    case "_":
    case "#":
    case ",":
    case "(":
      return afterLine;
    case "$":
    case "!":
    case "=": {
      const length = Number(buffer.toString("latin1", offset + 1, lineEnd));
      if (length < 0) return afterLine;
      const end = afterLine + length + 2;
      return end <= buffer.length ? end : undefined;
    }
    case "*":
    case "~":
    case ">":
    case "%":
    case "|": {
      const count = Number(buffer.toString("latin1", offset + 1, lineEnd));
      if (count < 0) return afterLine;
      const elements = type === "%" || type === "|" ? 2 * count : count;
      let end: number | undefined = afterLine;
      for (let i = 0; i < elements && end !== undefined; i++) end = respFrameEnd(buffer, end);
      return end;
    }
    default:
      throw new Error(`not a RESP frame: type byte 0x${buffer[offset]!.toString(16)}`);
  }
}

/** The bulk strings of a command frame (`*N\r\n$len\r\n...`), as Buffers. */
export function commandArgs(frame: Buffer): Buffer[] {
  const args: Buffer[] = [];
  if (frame[0] !== 0x2a) return args;
  let lineEnd = frame.indexOf("\r\n", 1, "latin1");
  const count = Number(frame.toString("latin1", 1, lineEnd));
  let offset = lineEnd + 2;
  for (let i = 0; i < count; i++) {
    lineEnd = frame.indexOf("\r\n", offset, "latin1");
    const length = Number(frame.toString("latin1", offset + 1, lineEnd));
    args.push(frame.subarray(lineEnd + 2, lineEnd + 2 + length));
    offset = lineEnd + 2 + length + 2;
  }
  return args;
}

/** One proxy per node of a dev cluster, and how a client reaches the nodes through them. */
export interface ProxiedCluster {
  /** The proxies' addresses, in the order of the cluster's seeds. */
  readonly seeds: string[];
  /** For the client's `natMap`: a node's announced address → its proxy. */
  readonly natMap: (host: string, port: number) => { host: string; port: number };
  /** The proxy in front of the node on `nodePort`. */
  proxyOf(nodePort: number): FaultProxy;
  readonly proxies: FaultProxy[];
  /** Heals every proxy. */
  healAll(): void;
  close(): Promise<void>;
}

/**
 * A proxy in front of every node of `dev`.
 *
 * @example
 * const proxied = await proxyCluster(dev);
 * const client = new RedisCluster({ nodes: proxied.seeds, natMap: proxied.natMap });
 * proxied.proxyOf(primary.port).blackhole();
 */
export async function proxyCluster(
  dev: DevCluster,
  options: FaultProxyOptions = {},
): Promise<ProxiedCluster> {
  const nodePorts = dev.seeds.map((seed) => Number(seed.slice(seed.lastIndexOf(":") + 1)));
  const proxies = await Promise.all(nodePorts.map((port) => startFaultProxy(port, options)));
  const byNodePort = new Map(proxies.map((proxy) => [proxy.targetPort, proxy]));
  return {
    seeds: proxies.map((proxy) => proxy.address),
    natMap: (host, port) => {
      const proxy = host === "127.0.0.1" ? byNodePort.get(port) : undefined;
      return proxy ? { host: "127.0.0.1", port: proxy.port } : { host, port };
    },
    proxyOf(nodePort) {
      const proxy = byNodePort.get(nodePort);
      if (!proxy) throw new Error(`no proxy in front of node ${nodePort}`);
      return proxy;
    },
    proxies,
    healAll() {
      for (const proxy of proxies) proxy.heal();
    },
    async close() {
      await Promise.all(proxies.map((proxy) => proxy.close()));
    },
  };
}
