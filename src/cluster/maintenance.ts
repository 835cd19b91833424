/**
 * Maintenance notifications: RESP3 pushes by which a managed service (Redis Cloud, Redis
 * Software — "smart client handoffs") or a Redis 8 cluster migrating slots says what it is
 * about to do to a node, shortly before it does it. Asked for in each connection's handshake
 * (`CLIENT MAINT_NOTIFICATIONS ON moving-endpoint-type <type>`); routed here by
 * pubsub/push.ts.
 *
 * | push (as sent)                                   | what it means                  | what the client does                                     |
 * | ------------------------------------------------ | ------------------------------ | -------------------------------------------------------- |
 * | `MIGRATING <seq> <in s> <shard ids>`             | a shard migration starts soon  | the node's window opens: deadlines relaxed               |
 * | `FAILING_OVER <seq> <in s> <shard ids>`          | a failover starts soon         | the same                                                 |
 * | `SMIGRATING <seq> <slots>`                       | slots are leaving this node    | the same                                                 |
 * | `MIGRATED <seq> <shard ids>`, `FAILED_OVER …`    | it is done                     | the window closes; the topology is read again            |
 * | `SMIGRATED <seq> [[from, to, slots], …]`         | the slots moved                | the window closes; the slots are patched to their new    |
 * |                                                  |                                | owner at once (as a MOVED would), and a refresh follows  |
 * | `MOVING <seq> <grace s> <host:port \| null>`      | the node's endpoint moves; its | window open for the grace period; a connection to the    |
 * |                                                  | connections drop after grace   | new endpoint opens now and takes over once ready (null:  |
 * |                                                  |                                | to the same address, at half the grace); refresh at end  |
 *
 * A **window** is per node: opened by a start (or MOVING), closed by the matching end — or,
 * if that never comes, after {@link WINDOW_MAX_MS} (MOVING: after its grace period). While
 * it is open, every command sent to the node gets at least `relaxedTimeoutMs` from when it
 * is sent; when it opens, every command in flight or waiting on the connection that got the
 * push gets at least that from then. Deadlines only ever move later.
 *
 * The server sends each notification on every connection that asked for them (shared,
 * dedicated, subscriber), so node-level effects are taken once per (node, kind, seq).
 * Hostile or malformed frames are not acted on: they are reported as unrouted pushes.
 */
import { formatAddress, type HostPort, parseAddress } from "../connection/address.js";
import type { Connection } from "../connection/connection.js";
import { publishMaintenance } from "../observe/channels.js";
import type { RespValue } from "../resp/types.js";
import type { NodeEntry, NodeRegistry } from "./nodes.js";
import type { Topology } from "./topology.js";

/** The longest a window stays open without its closing notification (as Jedis does). */
export const WINDOW_MAX_MS = 60_000;

/** Sequence numbers remembered per node, to take each notification once. */
const MAX_SEEN = 64;

/** What the `maintenance` event (and `rediscluster:maintenance`) reports. */
export interface MaintenanceEvent {
  /** The notification, as the server names it. */
  kind: "MOVING" | "MIGRATING" | "MIGRATED" | "FAILING_OVER" | "FAILED_OVER" | "SMIGRATING" | "SMIGRATED";
  /** `host:port` of the node that sent it. */
  address: string;
  /** Its sequence number. */
  seq: number;
  /** MIGRATING, FAILING_OVER: seconds until it starts; MOVING: the grace period in seconds. */
  seconds: number | undefined;
  /** MOVING: where the node's endpoint goes (after natMap); undefined for `null` (same address). */
  target: string | undefined;
  /** SMIGRATED: slots moved, per new owner (after natMap). */
  moved: MaintenanceSlotMove[] | undefined;
}

/** One move of a `SMIGRATED` notification, in a {@link MaintenanceEvent}. */
export interface MaintenanceSlotMove {
  /** `host:port` the slots left. */
  from: string;
  /** `host:port` that owns them now. */
  to: string;
  /** How many slots moved. */
  slots: number;
}

/** What the handler needs from the client. */
export interface MaintenanceHost {
  registry: NodeRegistry;
  relaxedTimeoutMs: number;
  /** natMap: announced address → reachable one. */
  mapAddress(host: string, port: number): HostPort;
  topology(): Topology | undefined;
  /** A refresh, with a slot whose new owner it should show (SMIGRATED), if any. */
  requestRefresh(expected?: { slot: number; address: string }): void;
  /** Emits the client's `maintenance` event. */
  report(event: MaintenanceEvent): void;
}

/** One node's maintenance window. */
interface Window {
  /** Starts without their end yet. */
  open: number;
  timer: NodeJS.Timeout | undefined;
  /** `kind:seq` already taken, oldest first (bounded). */
  seen: string[];
}

export class MaintenanceHandler {
  readonly #host: MaintenanceHost;
  readonly #windows = new Map<string, Window>();
  #closed = false;
  /** Notifications taken (each once, however many connections carried it). */
  notifications = 0;

  constructor(host: MaintenanceHost) {
    this.#host = host;
  }

  /**
   * A maintenance push from `connection` (its first word lower case). False when the frame
   * is not well formed: the caller reports it as an unrouted push instead.
   */
  onPush(kind: string, frame: RespValue[], connection: Connection): boolean {
    const seq = integerOf(frame[1]);
    if (seq === undefined) return false;
    switch (kind) {
      case "migrating":
      case "failing_over": {
        const seconds = integerOf(frame[2]);
        if (seconds === undefined) return false;
        this.#relax(connection);
        if (this.#first(connection.address, kind, seq)) {
          this.#open(connection.address, WINDOW_MAX_MS + seconds * 1000);
          this.#report(kind, connection.address, seq, seconds, undefined, undefined);
        }
        return true;
      }
      case "smigrating":
        this.#relax(connection);
        if (this.#first(connection.address, kind, seq)) {
          this.#open(connection.address, WINDOW_MAX_MS);
          this.#report(kind, connection.address, seq, undefined, undefined, undefined);
        }
        return true;
      case "migrated":
      case "failed_over":
        if (this.#first(connection.address, kind, seq)) {
          this.#end(connection.address, true);
          this.#report(kind, connection.address, seq, undefined, undefined, undefined);
        }
        return true;
      case "smigrated": {
        const moves = smigratedMoves(frame[2]);
        if (moves === undefined) return false;
        if (this.#first(connection.address, kind, seq)) this.#onSlotsMigrated(connection, seq, moves);
        return true;
      }
      case "moving": {
        const grace = integerOf(frame[2]);
        const endpoint = frame[3] === null ? null : addressOf(frame[3]);
        if (grace === undefined || endpoint === undefined) return false;
        this.#relax(connection);
        if (this.#first(connection.address, kind, seq)) this.#onMoving(connection, seq, grace, endpoint);
        return true;
      }
      default:
        return false;
    }
  }

  /** Stops every timer (the client is closing). */
  close(): void {
    this.#closed = true;
    for (const window of this.#windows.values()) clearTimeout(window.timer);
    this.#windows.clear();
  }

  #onSlotsMigrated(connection: Connection, seq: number, moves: SlotMove[]): void {
    const { registry, mapAddress } = this.#host;
    const topology = this.#host.topology();
    const moved: NonNullable<MaintenanceEvent["moved"]> = [];
    for (const move of moves) {
      const target = mapAddress(move.to.host, move.to.port);
      const entry = registry.ensure(target.host, target.port, "primary");
      // Patched at once, as a MOVED would be: the refresh then finds the table agreeing.
      for (const slot of move.slots) topology?.patchSlot(slot, primaryNode(entry));
      const source = mapAddress(move.from.host, move.from.port);
      moved.push({
        from: formatAddress(source.host, source.port),
        to: entry.address,
        slots: move.slots.length,
      });
      this.#host.requestRefresh({ slot: move.slots[0]!, address: entry.address });
    }
    // The sources' windows end (the node that sent it is one of them, or speaks for them).
    for (const address of new Set([connection.address, ...moved.map(({ from }) => from)]))
      this.#end(address, false);
    this.#host.requestRefresh();
    this.#report("smigrated", connection.address, seq, undefined, undefined, moved);
  }

  #onMoving(connection: Connection, seq: number, graceSeconds: number, endpoint: HostPort | null): void {
    const address = connection.address;
    const graceMs = graceSeconds * 1000;
    const window = this.#open(address, graceMs);
    // A MOVING window ends with its grace period, not with a count of ends.
    window.open = 0;
    const entry = this.#host.registry.get(address);
    const target = endpoint === null ? undefined : this.#host.mapAddress(endpoint.host, endpoint.port);
    if (entry !== undefined) {
      if (target !== undefined) void entry.handOff(target);
      else {
        // No address given (endpoint type "none"): the same one, reconnected half-way
        // through the grace period (DNS may say something new by then).
        const handOff = setTimeout(() => {
          if (!this.#closed) void entry.handOff({ host: entry.host, port: entry.port });
        }, graceMs / 2);
        handOff.unref();
      }
    }
    this.#report(
      "moving",
      address,
      seq,
      graceSeconds,
      target === undefined ? undefined : formatAddress(target.host, target.port),
      undefined,
    );
  }

  /** Commands in flight or waiting on `connection` get `relaxedTimeoutMs` from now. */
  #relax(connection: Connection): void {
    connection.relaxDeadlines(performance.now() + this.#host.relaxedTimeoutMs);
  }

  /** Opens (or extends) the window of the node at `address`, for at most `forMs`. */
  #open(address: string, forMs: number): Window {
    const window = this.#window(address);
    window.open++;
    const until = performance.now() + forMs;
    const entry = this.#host.registry.get(address);
    if (entry !== undefined && until > entry.relaxedUntil) {
      entry.relaxedUntil = until;
      entry.relaxedTimeoutMs = this.#host.relaxedTimeoutMs;
      clearTimeout(window.timer);
      window.timer = setTimeout(() => this.#close(address, entry, true), forMs);
      window.timer.unref();
    }
    return window;
  }

  /**
   * An end notification: the window closes when no start is left open; `refresh` reads the
   * topology again (MIGRATED, FAILED_OVER: the shard may have moved or changed primary).
   */
  #end(address: string, refresh: boolean): void {
    const window = this.#windows.get(address);
    if (window !== undefined) window.open = Math.max(0, window.open - 1);
    if (window !== undefined && window.open === 0) {
      const entry = this.#host.registry.get(address);
      if (entry !== undefined) this.#close(address, entry, false);
    }
    if (refresh) this.#host.requestRefresh();
  }

  /**
   * The window is over: its end came, or its time ran out — then the topology is read again
   * (a MOVING's grace period is over: the old endpoint is gone; an end that never came).
   */
  #close(address: string, entry: NodeEntry, refresh: boolean): void {
    const window = this.#windows.get(address);
    if (window !== undefined) {
      clearTimeout(window.timer);
      window.timer = undefined;
      window.open = 0;
    }
    entry.relaxedUntil = 0;
    if (refresh && !this.#closed) this.#host.requestRefresh();
  }

  /** True the first time `kind`/`seq` comes from this node (each connection repeats it). */
  #first(address: string, kind: string, seq: number): boolean {
    const window = this.#window(address);
    const key = `${kind}:${seq}`;
    if (window.seen.includes(key)) return false;
    window.seen.push(key);
    if (window.seen.length > MAX_SEEN) window.seen.shift();
    this.notifications++;
    return true;
  }

  #window(address: string): Window {
    let window = this.#windows.get(address);
    if (window === undefined) {
      window = { open: 0, timer: undefined, seen: [] };
      this.#windows.set(address, window);
    }
    return window;
  }

  #report(
    kind: string,
    address: string,
    seq: number,
    seconds: number | undefined,
    target: string | undefined,
    moved: MaintenanceEvent["moved"],
  ): void {
    const event: MaintenanceEvent = {
      kind: kind.toUpperCase() as MaintenanceEvent["kind"],
      address,
      seq,
      seconds,
      target,
      moved,
    };
    publishMaintenance(() => event);
    this.#host.report(event);
  }
}

/**
 * What the executor does with a command sent to a node in a maintenance window: at least
 * the node's `relaxedTimeoutMs` from now. One field test when there is no window.
 */
export function relaxForWindow(entry: NodeEntry, command: { relaxDeadline(atLeast: number): void }): void {
  const now = performance.now();
  if (now >= entry.relaxedUntil) {
    entry.relaxedUntil = 0;
    return;
  }
  command.relaxDeadline(now + entry.relaxedTimeoutMs);
}

interface SlotMove {
  from: HostPort;
  to: HostPort;
  slots: number[];
}

/** The most slots one SMIGRATED may move (all of them); more is a hostile frame. */
const MAX_SLOTS = 16384;

/** `[[from, to, "1,5-9"], ...]`, or undefined if it is not that. */
function smigratedMoves(value: RespValue | undefined): SlotMove[] | undefined {
  if (!Array.isArray(value)) return undefined;
  const moves: SlotMove[] = [];
  let total = 0;
  for (const triplet of value) {
    if (!Array.isArray(triplet) || triplet.length < 3) return undefined;
    const from = addressOf(triplet[0]);
    const to = addressOf(triplet[1]);
    const slots = slotsOf(triplet[2]);
    if (from === undefined || to === undefined || slots === undefined || slots.length === 0) return undefined;
    total += slots.length;
    if (total > MAX_SLOTS) return undefined;
    moves.push({ from, to, slots });
  }
  return moves;
}

/** `"1,5-9"` → [1, 5, 6, 7, 8, 9]; undefined when not slots. */
function slotsOf(value: RespValue | undefined): number[] | undefined {
  const text = textOf(value);
  if (text === undefined) return undefined;
  const slots: number[] = [];
  for (const part of text.split(",")) {
    const range = /^\s*(\d{1,5})(?:-(\d{1,5}))?\s*$/.exec(part);
    if (range === null) return undefined;
    const start = Number(range[1]);
    const end = range[2] === undefined ? start : Number(range[2]);
    if (start > end || end >= MAX_SLOTS || slots.length + end - start + 1 > MAX_SLOTS) return undefined;
    for (let slot = start; slot <= end; slot++) slots.push(slot);
  }
  return slots;
}

function addressOf(value: RespValue | undefined): HostPort | undefined {
  const text = textOf(value);
  if (text === undefined) return undefined;
  const address = parseAddress(text);
  return address === undefined || address.host === "" ? undefined : address;
}

function integerOf(value: RespValue | undefined): number | undefined {
  const number = typeof value === "number" ? value : Number(textOf(value) ?? Number.NaN);
  return Number.isSafeInteger(number) && number >= 0 ? number : undefined;
}

function textOf(value: RespValue | undefined): string | undefined {
  if (typeof value === "string") return value;
  if (Buffer.isBuffer(value) && value.length <= 1024) return value.toString("latin1");
  return undefined;
}

function primaryNode(entry: NodeEntry) {
  return {
    id: "",
    host: entry.host,
    port: entry.port,
    address: entry.address,
    role: "primary" as const,
    health: "online" as const,
    replicationOffset: 0,
    hostname: undefined,
  };
}
