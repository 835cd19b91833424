/**
 * One node's subscriber connection: every subscription this client holds on that node, over
 * one socket that carries nothing else (STYLE "Connections by role").
 *
 * ```
 *   entries[family]: name → ServerEntry { latest request, confirmed, placements }
 *
 *   (S|P)SUBSCRIBE name ──► confirmation ──► confirmed: its placements are live
 *                      └──► error (MOVED, NOPERM, ...) ──► entry gone, placements refused
 *   (S|P)UNSUBSCRIBE name ──► confirmation ──► entry gone (the last one: the connection closes)
 *   sunsubscribe nobody asked for (slot moved away, primary demoted) ──► entry gone, placements lost
 *   socket lost, or a request unanswered within its deadline ──► every entry gone, every placement lost
 * ```
 *
 * - One name per command: the server answers each name with a frame of its own, so each
 *   command gets exactly one answer and the connection's in-flight FIFO stays aligned; an
 *   error (MOVED) is about the one name that caused it.
 * - An entry's state is decided by its latest request only: the answer to an older one (an
 *   UNSUBSCRIBE overtaken by a new SUBSCRIBE of the same name) changes nothing.
 * - A frame `unsubscribe`-like answers the head of the FIFO only when the head is the
 *   UNSUBSCRIBE of that very name; otherwise it is the server's notice. A notice for a name
 *   whose latest request is still unanswered is about an older subscription: ignored.
 * - The connection exists while it has entries: when the last one goes it closes, and the
 *   registry (pubsub.ts) opens a new one the next time that node is needed.
 * - A PING every `PING_INTERVAL_MS` while subscribed: a node that stopped answering (a
 *   half-open socket) is noticed within the command timeout, not when TCP gives up.
 */
import type { Connection } from "../connection/connection.js";
import type { ConnectionOptions, Sendable } from "../connection/types.js";
import { ConnectionError, ProtocolError, type RedisClusterError, ReplyError } from "../errors.js";
import type { RedisArg, RespValue } from "../resp/types.js";
import {
  FAMILY_OF,
  type Family,
  isMessageKind,
  isUnsubscribeKind,
  nameKey,
  PubSubKind,
  pubSubKind,
  SUBSCRIBE_COMMAND,
  UNSUBSCRIBE_COMMAND,
} from "./frames.js";
import type { PushRouter } from "./push.js";

/** How often an idle subscriber connection checks that its node still answers. */
const PING_INTERVAL_MS = 10_000;

/** Why a subscription stopped being served, as the `down` event says. */
export type DownReason =
  /** The server unsubscribed us itself: the channel's slot moved away, or its primary was demoted. */
  | "unsubscribed-by-server"
  /** The subscriber connection broke (node down, network) or stopped answering. */
  | "connection-lost"
  /**
   * A new topology says it belongs elsewhere (its slot left the node's shard, the node left
   * the cluster): unsubscribed there, to be subscribed where it belongs.
   */
  | "moved-away";

/** What a subscription placed on a node must provide (interest.ts). */
export interface PlacementOwner {
  readonly family: Family;
  /** The channel or pattern, as sent. */
  readonly name: Buffer;
  /** A message arrived for it (`pattern` set for pattern subscriptions). */
  deliver(channel: Buffer, payload: Buffer, pattern: Buffer | undefined): void;
}

/** One subscription wanted on one node. */
export class Placement {
  /** The node confirmed it: messages flow. */
  confirmed = false;

  constructor(
    readonly owner: PlacementOwner,
    readonly subscriber: SubscriberConnection,
  ) {}
}

/** What the registry (pubsub.ts) hears from a subscriber connection. */
export interface SubscriberEvents {
  confirmed(placement: Placement): void;
  /** The node answered the SUBSCRIBE with an error (MOVED, NOPERM, CLUSTERDOWN, ...). */
  refused(placement: Placement, error: ReplyError): void;
  /** The placement is not (or no longer) subscribed; `confirmed` says whether it had been. */
  lost(placement: Placement, reason: DownReason, error: RedisClusterError | undefined): void;
  /** The socket failed (not closed on request): for `nodeError` and a topology refresh. */
  connectionLost(subscriber: SubscriberConnection, error: RedisClusterError): void;
  /** Nothing is left on it: it closed, and must not be used again. */
  emptied(subscriber: SubscriberConnection): void;
}

/** Opens the node's subscriber connection (NodeRegistry.openSubscriberConnection). */
export type OpenSubscriberConnection = (
  host: string,
  port: number,
  hooks: Pick<ConnectionOptions, "routeFrame" | "onDisconnect" | "onReady">,
) => Connection;

/** One name's subscription on this node, as far as the server is concerned. */
class ServerEntry {
  confirmed = false;
  latest: SubscriptionRequest | undefined;
  readonly placements = new Set<Placement>();
  /** Placements on their way out that still get messages until the UNSUBSCRIBE is answered. */
  readonly draining = new Set<Placement>();

  constructor(
    readonly family: Family,
    readonly name: Buffer,
    readonly key: string,
  ) {}
}

/** One node's subscriber connection, holding every subscription of the client there (see the top of this file). */
export class SubscriberConnection {
  readonly address: string;
  readonly host: string;
  readonly port: number;
  readonly #connection: Connection;
  readonly #entries: Record<Family, Map<string, ServerEntry>> = {
    channel: new Map(),
    pattern: new Map(),
    shard: new Map(),
  };
  readonly #events: SubscriberEvents;
  readonly #pushes: PushRouter;
  readonly #timeoutMs: number;
  #closing = false;
  #pingTimer: NodeJS.Timeout | undefined;
  /** Messages that arrived for a name nobody here is subscribed to (in flight at an unsubscribe). */
  strayMessages = 0;
  /** Server unsubscribe notices for names we hold no subscription for. */
  strayNotices = 0;

  constructor(
    host: string,
    port: number,
    address: string,
    open: OpenSubscriberConnection,
    events: SubscriberEvents,
    pushes: PushRouter,
    timeoutMs: number,
  ) {
    this.host = host;
    this.port = port;
    this.address = address;
    this.#events = events;
    this.#pushes = pushes;
    this.#timeoutMs = timeoutMs;
    this.#connection = open(host, port, {
      routeFrame: (frame, isPush, head, connection) => this.#route(frame, isPush, head, connection),
      onDisconnect: (error) => this.#onDisconnect(error),
    });
  }

  /** Names subscribed here or on their way (in every family). */
  get size(): number {
    return this.#entries.channel.size + this.#entries.pattern.size + this.#entries.shard.size;
  }

  /** True once it closed (emptied, or the client closed): never used again. */
  get closing(): boolean {
    return this.#closing;
  }

  /**
   * Wants `placement`'s name subscribed here. Returns true when it is already (the
   * placement is confirmed at once, without a round trip); otherwise the registry hears
   * `confirmed`, `refused` or `lost` later — possibly during this call, if the connection
   * fails the request at once.
   */
  attach(placement: Placement): boolean {
    const { family, name } = placement.owner;
    const key = nameKey(name);
    const entries = this.#entries[family];
    let entry = entries.get(key);
    if (entry === undefined) {
      entry = new ServerEntry(family, name, key);
      entries.set(key, entry);
    }
    entry.placements.add(placement);
    if (entry.latest?.subscribing) {
      if (!entry.confirmed) return false; // its SUBSCRIBE is on its way; the answer will tell
      placement.confirmed = true;
      return true;
    }
    // New, or being unsubscribed: SUBSCRIBE again, after the UNSUBSCRIBE on the wire.
    entry.confirmed = false;
    this.#request(entry, true);
    return false;
  }

  /**
   * No longer wants `placement` here. When it was the last one for its name, the name is
   * unsubscribed; the promise resolves once the server has answered (or the connection is
   * gone). With `drain`, the placement still gets the messages the node sends until then
   * (they were published while it was subscribed); without, delivery stops at once.
   */
  detach(placement: Placement, drain = false): Promise<void> | undefined {
    const { family, name } = placement.owner;
    const entry = this.#entries[family].get(nameKey(name));
    if (entry === undefined || !entry.placements.delete(placement) || entry.placements.size > 0) return;
    let request = entry.latest;
    if (request === undefined || request.subscribing) request = this.#request(entry, false);
    if (drain) {
      entry.draining.add(placement);
      request.draining.push(placement);
    }
    return request.done;
  }

  /** Closes at once (the client is closing); nothing more is reported. */
  close(): Promise<void> {
    this.#closing = true;
    clearInterval(this.#pingTimer);
    return this.#connection.close();
  }

  destroy(error?: RedisClusterError): void {
    this.#closing = true;
    clearInterval(this.#pingTimer);
    this.#connection.destroy(error);
  }

  // ── requests and their answers ────────────────────────────────────────────────────────

  #request(entry: ServerEntry, subscribing: boolean): SubscriptionRequest {
    const request = new SubscriptionRequest(this, entry, subscribing, performance.now() + this.#timeoutMs);
    entry.latest = request;
    if (subscribing && this.#pingTimer === undefined) {
      this.#pingTimer = setInterval(() => this.#ping(), PING_INTERVAL_MS);
      this.#pingTimer.unref();
    }
    this.#connection.send(request);
    return request;
  }

  /** @internal The answer to one of our requests (a confirmation frame or an error reply). */
  answered(request: SubscriptionRequest, value: RespValue): void {
    const entry = request.entry;
    if (!request.subscribing) {
      if (entry.latest === request) this.#forget(entry);
      request.finish();
      this.#closeIfEmpty();
      return;
    }
    if (value instanceof ReplyError) {
      if (entry.latest === request) {
        this.#forget(entry);
        for (const placement of [...entry.placements]) this.#events.refused(placement, value);
      }
      this.#closeIfEmpty();
      return;
    }
    if (!isConfirmationOf(value, entry)) {
      // The answers and the requests are out of step: nothing read from here can be trusted.
      throw new ProtocolError(
        `${this.address} answered ${SUBSCRIBE_COMMAND[entry.family]} with something other than its confirmation`,
        this.address,
      );
    }
    if (entry.latest !== request) return;
    entry.confirmed = true;
    for (const placement of [...entry.placements]) {
      if (placement.confirmed) continue;
      placement.confirmed = true;
      this.#events.confirmed(placement);
    }
  }

  /** @internal A request that will get no answer (the connection failed or closed). */
  requestFailed(request: SubscriptionRequest, error: RedisClusterError): void {
    const entry = request.entry;
    if (entry.latest === request) {
      this.#forget(entry);
      if (request.subscribing) {
        for (const placement of [...entry.placements]) this.#events.lost(placement, "connection-lost", error);
      }
    }
    request.finish();
    this.#closeIfEmpty();
  }

  /**
   * @internal A request unanswered within its deadline: the node is stuck, or the stream out
   * of step. The socket is dropped (after the deadline scan that found it), which loses every
   * entry and has them subscribed again.
   */
  requestExpired(): void {
    queueMicrotask(() => {
      if (!this.#closing) this.#connection.reset(`${this.address} did not answer a Pub/Sub request in time`);
    });
  }

  #ping(): void {
    if (this.#closing || this.size === 0 || this.#connection.state !== "ready") return;
    this.#connection.send(new PingRequest(this, performance.now() + this.#timeoutMs));
  }

  // ── frames ────────────────────────────────────────────────────────────────────────────

  /** Sorts one frame: true when it answers `head` (see connection/types.ts `routeFrame`). */
  #route(frame: RespValue, isPush: boolean, head: Sendable | undefined, connection: Connection): boolean {
    const kind = pubSubKind(frame);
    if (kind === undefined) {
      if (!isPush) return true; // a reply: PONG, an error, the handshake's OK
      this.#pushes.route(frame as RespValue[], connection);
      return false;
    }
    const items = frame as RespValue[];
    if (isMessageKind(kind)) {
      this.#deliver(kind, items);
      return false;
    }
    if (!isUnsubscribeKind(kind)) return true; // SUBSCRIBE confirmations are never sent unasked
    const family = FAMILY_OF[kind];
    const name = items[1] as Buffer | null;
    if (
      head instanceof SubscriptionRequest &&
      !head.subscribing &&
      head.entry.family === family &&
      name !== null &&
      head.entry.name.equals(name)
    ) {
      return true;
    }
    this.#onServerUnsubscribed(family, name);
    return false;
  }

  #deliver(kind: PubSubKind, items: RespValue[]): void {
    let entry: ServerEntry | undefined;
    let channel: Buffer;
    let payload: Buffer;
    let pattern: Buffer | undefined;
    if (kind === PubSubKind.PMessage) {
      pattern = items[1] as Buffer;
      channel = items[2] as Buffer;
      payload = items[3] as Buffer;
      entry = this.#entries.pattern.get(nameKey(pattern));
    } else {
      channel = items[1] as Buffer;
      payload = items[2] as Buffer;
      entry = this.#entries[kind === PubSubKind.SMessage ? "shard" : "channel"].get(nameKey(channel));
    }
    if (entry === undefined) {
      this.strayMessages++;
      return;
    }
    for (const placement of entry.placements) placement.owner.deliver(channel, payload, pattern);
    if (entry.draining.size > 0) {
      for (const placement of entry.draining) placement.owner.deliver(channel, payload, pattern);
    }
  }

  /** The server dropped a subscription by itself (or repeated an answer already taken). */
  #onServerUnsubscribed(family: Family, name: Buffer | null): void {
    const entry = name === null ? undefined : this.#entries[family].get(nameKey(name));
    // Unknown, or not confirmed yet (the notice is about an older subscription of the name),
    // or being unsubscribed anyway (its own answer will come): nothing changes.
    if (entry === undefined || !entry.confirmed || entry.latest?.subscribing !== true) {
      this.strayNotices++;
      return;
    }
    this.#forget(entry);
    for (const placement of [...entry.placements])
      this.#events.lost(placement, "unsubscribed-by-server", undefined);
    this.#closeIfEmpty();
  }

  #onDisconnect(error: RedisClusterError | undefined): void {
    if (this.#closing) return;
    const cause =
      error ?? new ConnectionError(`the subscriber connection to ${this.address} closed`, this.address);
    this.#events.connectionLost(this, cause);
    const lost: ServerEntry[] = [];
    for (const entries of Object.values(this.#entries)) {
      lost.push(...entries.values());
      entries.clear();
    }
    for (const entry of lost) {
      entry.latest?.finish();
      for (const placement of [...entry.placements]) this.#events.lost(placement, "connection-lost", cause);
    }
    this.#closeIfEmpty();
  }

  #forget(entry: ServerEntry): void {
    const entries = this.#entries[entry.family];
    if (entries.get(entry.key) === entry) entries.delete(entry.key);
  }

  /** The last name went: the connection has no purpose left (STYLE: one per node, while needed). */
  #closeIfEmpty(): void {
    if (this.#closing || this.size > 0) return;
    this.#closing = true;
    clearInterval(this.#pingTimer);
    void this.#connection.close();
    this.#events.emptied(this);
  }
}

function isConfirmationOf(value: RespValue, entry: ServerEntry): boolean {
  if (!Array.isArray(value)) return false;
  const kind = pubSubKind(value);
  return (
    kind !== undefined &&
    !isMessageKind(kind) &&
    !isUnsubscribeKind(kind) &&
    FAMILY_OF[kind] === entry.family &&
    Buffer.isBuffer(value[1]) &&
    value[1].equals(entry.name)
  );
}

/** `(S|P)SUBSCRIBE name` or `(S|P)UNSUBSCRIBE name` on a subscriber connection. */
class SubscriptionRequest implements Sendable {
  readonly name: string;
  readonly args: readonly RedisArg[];
  readonly wantsBuffers = true;
  /** Resolves once the request has an outcome, whatever it is (unsubscribe() awaits it). */
  readonly done: Promise<void>;
  /** An UNSUBSCRIBE's placements that get messages until it has an outcome. */
  readonly draining: Placement[] = [];
  #finish!: () => void;

  constructor(
    readonly subscriber: SubscriberConnection,
    readonly entry: ServerEntry,
    readonly subscribing: boolean,
    readonly deadlineAt: number,
  ) {
    this.name = (subscribing ? SUBSCRIBE_COMMAND : UNSUBSCRIBE_COMMAND)[entry.family];
    this.args = [entry.name];
    this.done = new Promise((resolve) => {
      this.#finish = resolve;
    });
  }

  finish(): void {
    for (const placement of this.draining) this.entry.draining.delete(placement);
    this.draining.length = 0;
    this.#finish();
  }

  settle(value: RespValue): void {
    this.subscriber.answered(this, value);
  }
  fail(error: RedisClusterError): void {
    this.subscriber.requestFailed(this, error);
  }
  expire(): void {
    this.finish();
    this.subscriber.requestExpired();
  }
}

/** The keep-alive check: an answer of any kind will do; none in time drops the socket. */
class PingRequest implements Sendable {
  readonly name = "PING";
  readonly args: readonly RedisArg[] = [];
  readonly wantsBuffers = true;

  constructor(
    readonly subscriber: SubscriberConnection,
    readonly deadlineAt: number,
  ) {}

  settle(): void {}
  fail(): void {}
  expire(): void {
    this.subscriber.requestExpired();
  }
}
