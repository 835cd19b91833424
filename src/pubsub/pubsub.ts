/**
 * Pub/Sub for the cluster: where each subscription lives, and how it follows the cluster.
 *
 * ```
 *   ssubscribe("a{1}") ──► Interest(shard, slot of "a{1}") ──► primary of the slot ──► its SubscriberConnection
 *   subscribe("news")  ──► Interest(channel) ──────────────► the one node chosen for classic Pub/Sub
 *   psubscribe("__keyspace@0__:*", { allNodes }) ──► one Interest per primary ──► each primary
 * ```
 *
 * Placement (`#place`) is the one decision of where an interest is subscribed: the slot's
 * primary for a shard channel (or where the last MOVED pointed, until the next topology), the
 * pinned node for an allNodes pattern, the classic node for the others — chosen once at
 * random among the nodes, and again only when it is lost. Commands are never sent here:
 * PUBLISH and SPUBLISH are ordinary commands and go through the executor; this file only
 * decides where subscriptions are held, on connections that carry nothing else.
 *
 * Following the cluster — every way a subscription can stop ends in `#onLost` or
 * `#onRefused`, which mark it down (`down` event, if it was up) and subscribe again:
 * - the server's own `sunsubscribe` (slot migrated away, primary demoted): at once; the
 *   topology may still name the old node, whose MOVED then points to the new one;
 * - `MOVED` to SSUBSCRIBE: straight to the node it names, and a topology refresh;
 * - a lost or silent connection (node killed, failover, network): after a short, growing,
 *   jittered delay, and a topology refresh; classic subscriptions move to another node;
 * - a new topology: anything down is placed again at once; a subscription on a node where
 *   it no longer belongs (its slot left that node's shard, the node left the cluster) is
 *   unsubscribed there and subscribed where it belongs, reported as a window of its own.
 *   Never two places at once: Redis 7 propagates a shard channel's messages to the shard's
 *   replicas, so two subscriptions in one shard (which a failover makes hard to rule out)
 *   would deliver twice. Within its shard a subscription never moves (see `#belongsOn`).
 * When subscribed again, `up` reports the window (`since`, `downMs`) and `moved` the change
 * of node: a gap is never silent.
 */

import type { SlotOwner } from "../cluster/discovery.js";
import { classifyReplyError } from "../cluster/redirect.js";
import type { Topology } from "../cluster/topology.js";
import { keySlot } from "../command/slot.js";
import { checkArgs } from "../command/validate.js";
import type { HostPort } from "../connection/address.js";
import { formatAddress } from "../connection/address.js";
import {
  ArgumentError,
  ClosedError,
  type RedisClusterError,
  type ReplyError,
  TimeoutError,
} from "../errors.js";
import type { RedisArg } from "../resp/types.js";
import { type Family, nameKey, SUBSCRIBE_COMMAND } from "./frames.js";
import { type AnySubscription, Interest, type NodeAddress } from "./interest.js";
import type { PushRouter } from "./push.js";
import {
  type DownReason,
  type OpenSubscriberConnection,
  Placement,
  SubscriberConnection,
  type SubscriberEvents,
} from "./subscriber.js";
import {
  type MessageListener,
  type NamedChannel,
  type PatternSubscribeOptions,
  Subscription,
} from "./subscription.js";

/** First delay before subscribing again after a failure, in ms; doubles per failure. */
const RETRY_BASE_MS = 20;
/** Longest delay between two attempts, in ms. */
const RETRY_MAX_MS = 1000;
/** Interests that are not shard channels have no slot. */
const NO_SLOT = -1;

/** What Pub/Sub needs from the client. */
export interface PubSubOptions {
  /** Opens a node's subscriber connection (NodeRegistry.openSubscriberConnection). */
  openConnection: OpenSubscriberConnection;
  /** The topology in use. */
  topology(): Topology | undefined;
  /** Resolves with the topology once there is one (rejects when the cluster cannot be read). */
  whenTopology(): Promise<unknown>;
  requestRefresh(expected?: SlotOwner): void;
  /** natMap, for the addresses MOVED names. */
  mapAddress(host: string, port: number): HostPort;
  /** A subscriber connection failed (for `nodeError` and the connection-error count). */
  connectionLost(address: string, error: RedisClusterError): void;
  pushes: PushRouter;
  /** The budget of a subscribe call, and of each request on a subscriber connection. */
  timeoutMs: number;
  /** MOVED/ASK followed in a row before backing off. */
  maxRedirections: number;
}

/** Pub/Sub counters (part of `cluster.stats()`). */
export interface PubSubStats {
  /** Subscriber connections open now (one per node with subscriptions). */
  subscriberConnections: number;
  /** Channels and patterns subscribed or being subscribed now (per node for allNodes patterns). */
  subscribedChannels: number;
  /** Times a channel went down (see the `down` event). */
  subscriptionsLost: number;
  /** Times a channel was subscribed again after being down. */
  resubscribes: number;
}

/** An allNodes pattern: one interest per primary, sharing one set of subscriptions. */
interface AllNodesPattern {
  readonly name: NamedChannel;
  readonly subscriptions: Set<AnySubscription>;
  readonly interests: Map<string, Interest>;
}

/** Where each subscription lives and how it follows the cluster (see the top of this file). */
export class PubSub {
  readonly #options: PubSubOptions;
  readonly #subscribers = new Map<string, SubscriberConnection>();
  readonly #interests = new Map<string, Interest>();
  readonly #allNodes = new Map<string, AllNodesPattern>();
  readonly #subscriptions = new Set<AnySubscription>();
  /** The node classic channels and patterns are subscribed on. */
  #classicNode: NodeAddress | undefined;
  /** The classic node lost last: not chosen again while another one is there. */
  #classicAvoid: string | undefined;
  #closed = false;
  /** A refresh is asked for at the end of this turn (one for all the channels of a lost node). */
  #refreshQueued = false;
  #lostCount = 0;
  #resubscribes = 0;
  readonly #events: SubscriberEvents = {
    confirmed: (placement) => this.#onConfirmed(placement),
    refused: (placement, error) => this.#onRefused(placement, error),
    lost: (placement, reason, error) => this.#onLost(placement, reason, error),
    connectionLost: (subscriber, error) => {
      if (!this.#closed) this.#options.connectionLost(subscriber.address, error);
    },
    emptied: (subscriber) => {
      if (this.#subscribers.get(subscriber.address) === subscriber)
        this.#subscribers.delete(subscriber.address);
    },
  };

  constructor(options: PubSubOptions) {
    this.#options = options;
  }

  get stats(): PubSubStats {
    return {
      subscriberConnections: this.#subscribers.size,
      subscribedChannels: this.#interests.size,
      subscriptionsLost: this.#lostCount,
      resubscribes: this.#resubscribes,
    };
  }

  /**
   * Subscribes `channels` and resolves once every one of them is subscribed; rejects (and
   * leaves nothing subscribed) if one is refused or the command timeout passes first.
   */
  async subscribe<T extends string | Buffer>(
    family: Family,
    channels: RedisArg | readonly RedisArg[],
    listener: MessageListener<T> | undefined,
    options: PatternSubscribeOptions,
    buffers: boolean,
  ): Promise<Subscription<T>> {
    const command = SUBSCRIBE_COMMAND[family];
    if (this.#closed) throw new ClosedError();
    const names = namesOf(channels, command);
    checkOptions(command, listener, options);
    const allNodes = options.allNodes === true;
    if (allNodes && family !== "pattern") throw new ArgumentError("allNodes is for patterns only", command);
    const startedAt = performance.now();
    if (this.#options.topology() === undefined) await this.#options.whenTopology();
    if (this.#closed) throw new ClosedError();
    const subscription = new Subscription<T>(family, names, buffers, allNodes, listener, options, (it) =>
      this.#release(it),
    );
    const any: AnySubscription = subscription;
    this.#subscriptions.add(any);
    for (const name of names) {
      if (allNodes) this.#joinAllNodes(any, name);
      else this.#join(any, family, name);
    }
    if (subscription.waiting.size === 0) return subscription;
    const remainingMs = Math.max(1, this.#options.timeoutMs - (performance.now() - startedAt));
    const timer = setTimeout(() => this.#timedOut(any, command), remainingMs);
    try {
      await subscription.ready;
      return subscription;
    } catch (error) {
      void subscription.unsubscribe();
      throw error;
    } finally {
      clearTimeout(timer);
    }
  }

  /** A new topology: place again whatever is down, and follow whatever moved. */
  onTopology(topology: Topology): void {
    if (this.#closed) return;
    for (const group of this.#allNodes.values()) this.#alignAllNodes(group, topology, undefined);
    if (this.#classicNode !== undefined && !topology.nodes.has(this.#classicNode.address)) {
      this.#classicNode = undefined;
    }
    for (const interest of [...this.#interests.values()]) {
      interest.redirect = undefined;
      const current = interest.current;
      if (current === undefined) {
        this.#place(interest);
        continue;
      }
      if (!this.#belongsOn(interest, current.subscriber.address, topology)) this.#place(interest);
    }
  }

  /** Ends every subscription (iterators finish, pending subscribe calls reject) and closes the connections. */
  async close(): Promise<void> {
    const subscribers = this.#shutDown();
    await Promise.all(subscribers.map((subscriber) => subscriber.close()));
  }

  destroy(error?: RedisClusterError): void {
    for (const subscriber of this.#shutDown()) subscriber.destroy(error);
  }

  #shutDown(): SubscriberConnection[] {
    this.#closed = true;
    const error = new ClosedError("the client was closed: its subscriptions ended");
    for (const subscription of this.#subscriptions) subscription.end(error);
    this.#subscriptions.clear();
    for (const interest of this.#interests.values()) clearTimeout(interest.retryTimer);
    this.#interests.clear();
    this.#allNodes.clear();
    const subscribers = [...this.#subscribers.values()];
    this.#subscribers.clear();
    return subscribers;
  }

  // ── joining and leaving ───────────────────────────────────────────────────────────────

  #join(subscription: AnySubscription, family: Family, name: NamedChannel): void {
    const id = interestId(family, undefined, name.name);
    const existing = this.#interests.get(id);
    if (existing !== undefined) {
      existing.subscriptions.add(subscription);
      if (!existing.isUp) subscription.waiting.add(existing);
      return;
    }
    const slot = family === "shard" ? keySlot(name.name) : NO_SLOT;
    const interest = new Interest(id, family, name.name, slot, undefined, new Set([subscription]));
    this.#interests.set(id, interest);
    subscription.waiting.add(interest); // before placing: it may be confirmed at once
    this.#place(interest);
  }

  #joinAllNodes(subscription: AnySubscription, name: NamedChannel): void {
    const key = nameKey(name.name);
    const existing = this.#allNodes.get(key);
    if (existing !== undefined) {
      existing.subscriptions.add(subscription);
      for (const interest of existing.interests.values())
        if (!interest.isUp) subscription.waiting.add(interest);
      return;
    }
    const group: AllNodesPattern = { name, subscriptions: new Set([subscription]), interests: new Map() };
    this.#allNodes.set(key, group);
    const topology = this.#options.topology();
    if (topology !== undefined) this.#alignAllNodes(group, topology, subscription);
  }

  /** One interest per primary of `topology`; those of nodes that are no longer primaries go. */
  #alignAllNodes(group: AllNodesPattern, topology: Topology, waiter: AnySubscription | undefined): void {
    const primaries = new Set<string>();
    for (const primary of topology.primaries) {
      primaries.add(primary.address);
      if (group.interests.has(primary.address)) continue;
      const id = interestId("pattern", primary.address, group.name.name);
      const interest = new Interest(id, "pattern", group.name.name, NO_SLOT, primary, group.subscriptions);
      group.interests.set(primary.address, interest);
      this.#interests.set(id, interest);
      waiter?.waiting.add(interest);
      this.#place(interest);
    }
    for (const [address, interest] of group.interests) {
      if (primaries.has(address)) continue;
      group.interests.delete(address);
      this.#drop(interest);
    }
  }

  #release(subscription: AnySubscription): Promise<void> {
    this.#subscriptions.delete(subscription);
    const done: Array<Promise<void>> = [];
    for (const name of subscription.names) {
      if (subscription.allNodes) {
        const key = nameKey(name.name);
        const group = this.#allNodes.get(key);
        if (group === undefined || !group.subscriptions.delete(subscription) || group.subscriptions.size > 0)
          continue;
        this.#allNodes.delete(key);
        for (const interest of group.interests.values()) done.push(...this.#drop(interest));
        continue;
      }
      const interest = this.#interests.get(interestId(subscription.kind, undefined, name.name));
      if (interest === undefined || !interest.subscriptions.delete(subscription)) continue;
      if (interest.subscriptions.size === 0) done.push(...this.#drop(interest));
    }
    return Promise.all(done).then(() => undefined);
  }

  /** Nobody wants `interest` any more: unsubscribed wherever it is. */
  #drop(interest: Interest): Array<Promise<void>> {
    clearTimeout(interest.retryTimer);
    interest.leaving = undefined;
    if (this.#interests.get(interest.id) === interest) this.#interests.delete(interest.id);
    const done: Array<Promise<void>> = [];
    const placement = interest.current;
    interest.current = undefined;
    const answered = placement?.subscriber.detach(placement);
    if (answered !== undefined) done.push(answered);
    return done;
  }

  #timedOut(subscription: AnySubscription, command: string): void {
    let cause: RedisClusterError | undefined;
    let attempts = 1;
    for (const waited of subscription.waiting) {
      if (!(waited instanceof Interest)) continue;
      cause ??= waited.lastError;
      attempts = Math.max(attempts, waited.attempts + 1);
    }
    subscription.failReady(new TimeoutError(command, attempts, this.#options.timeoutMs, { cause }));
  }

  // ── placing ───────────────────────────────────────────────────────────────────────────

  /** Subscribes `interest` where it belongs now (the one decision of where; see the file comment). */
  #place(interest: Interest): void {
    clearTimeout(interest.retryTimer);
    interest.retryTimer = undefined;
    if (!this.#isLive(interest) || interest.leaving !== undefined) return; // placed once it has left
    const target = this.#targetOf(interest);
    if (target === undefined) {
      // The slot is served by nobody (yet): a refresh will tell; try again meanwhile.
      this.#requestRefresh();
      this.#retry(interest, false);
      return;
    }
    const current = interest.current;
    if (current?.subscriber.address === target.address) return;
    if (current !== undefined) {
      // Break before make, one place at a time (see the file comment): what the old place
      // sends until it has answered the UNSUBSCRIBE is still delivered, then the new place
      // is subscribed.
      interest.current = undefined;
      if (current.confirmed) this.#markDown(interest, current.subscriber.address, "moved-away", undefined);
      const left = current.subscriber.detach(current, true);
      if (left !== undefined) {
        interest.leaving = left;
        void left.then(() => {
          if (interest.leaving !== left) return;
          interest.leaving = undefined;
          this.#place(interest);
        });
        return;
      }
    }
    const subscriber = this.#subscriberFor(target);
    const placement = new Placement(interest, subscriber);
    interest.current = placement;
    if (subscriber.attach(placement)) this.#onConfirmed(placement);
  }

  /**
   * Whether a subscription on `address` is where `interest` belongs in `topology`. A shard
   * channel belongs on any node of its slot's shard: Redis 7 propagates shard messages to
   * the replicas, which serve SSUBSCRIBE and send `sunsubscribe` when the slot leaves the
   * shard. So a subscription that landed on a demoted primary stays there (moving it within
   * the shard, make before break, would deliver the overlap twice); it moves when the slot
   * leaves the shard.
   */
  #belongsOn(interest: Interest, address: string, topology: Topology): boolean {
    if (interest.pinned !== undefined) return interest.pinned.address === address;
    if (interest.family !== "shard") return this.#classicTarget(topology)?.address === address;
    const shard = topology.shardOf(interest.slot);
    if (shard === undefined) return true; // unserved for now: no better place to go
    return shard.primary.address === address || shard.replicas.some((replica) => replica.address === address);
  }

  #targetOf(interest: Interest): NodeAddress | undefined {
    if (interest.redirect !== undefined) return interest.redirect;
    if (interest.pinned !== undefined) return interest.pinned;
    const topology = this.#options.topology();
    if (interest.family === "shard") return topology?.shardOf(interest.slot)?.primary;
    return this.#classicTarget(topology);
  }

  /**
   * The node for classic channels and patterns: PUBLISH reaches every node, so any one will
   * do; chosen at random (spreading many clients over the cluster), kept while it works.
   */
  #classicTarget(topology: Topology | undefined): NodeAddress | undefined {
    const chosen = this.#classicNode;
    if (chosen !== undefined && (topology === undefined || topology.nodes.has(chosen.address))) return chosen;
    if (topology === undefined) return undefined;
    const nodes = [...topology.nodes.values()];
    const online = nodes.filter((node) => node.health === "online" && node.address !== this.#classicAvoid);
    const candidates = online.length > 0 ? online : nodes;
    this.#classicNode = candidates[Math.floor(Math.random() * candidates.length)];
    return this.#classicNode;
  }

  #subscriberFor(target: NodeAddress): SubscriberConnection {
    let subscriber = this.#subscribers.get(target.address);
    if (subscriber === undefined) {
      subscriber = new SubscriberConnection(
        target.host,
        target.port,
        target.address,
        this.#options.openConnection,
        this.#events,
        this.#options.pushes,
        this.#options.timeoutMs,
      );
      this.#subscribers.set(target.address, subscriber);
    }
    return subscriber;
  }

  /** Places `interest` again: at once, or after a delay that grows with its failures. */
  #retry(interest: Interest, immediate: boolean): void {
    if (!this.#isLive(interest)) return;
    clearTimeout(interest.retryTimer);
    const exponent = Math.min(interest.attempts, 10);
    const delayMs = immediate
      ? 0
      : Math.min(RETRY_MAX_MS, RETRY_BASE_MS * 2 ** exponent) * (0.5 + Math.random() / 2);
    if (!immediate) interest.attempts++;
    // Not unref'd: a process whose only work is to listen must not exit while a
    // subscription is down.
    interest.retryTimer = setTimeout(() => {
      interest.retryTimer = undefined;
      this.#place(interest);
    }, delayMs);
  }

  /** One refresh request per turn of the event loop, however many channels asked. */
  #requestRefresh(): void {
    if (this.#refreshQueued) return;
    this.#refreshQueued = true;
    queueMicrotask(() => {
      this.#refreshQueued = false;
      if (!this.#closed) this.#options.requestRefresh();
    });
  }

  #isLive(interest: Interest): boolean {
    return !this.#closed && this.#interests.get(interest.id) === interest;
  }

  // ── outcomes ──────────────────────────────────────────────────────────────────────────

  #onConfirmed(placement: Placement): void {
    const interest = placement.owner as Interest;
    if (interest.current !== placement || !this.#isLive(interest)) return;
    interest.attempts = 0;
    interest.redirections = 0;
    interest.lastError = undefined;
    const address = placement.subscriber.address;
    const downSince = interest.downSince;
    const from = interest.upAddress;
    interest.downSince = undefined;
    interest.upAddress = address;
    interest.everUp = true;
    if (downSince !== undefined) this.#resubscribes++;
    const now = Date.now();
    for (const subscription of [...interest.subscriptions]) {
      subscription.subscribed(interest);
      if (downSince !== undefined)
        subscription.emitUp(interest, { address, since: downSince, downMs: now - downSince });
      if (from !== undefined && from !== address) subscription.emitMoved(interest, from, address);
    }
  }

  #onLost(placement: Placement, reason: DownReason, error: RedisClusterError | undefined): void {
    const interest = placement.owner as Interest;
    const address = placement.subscriber.address;
    if (interest.current !== placement) return;
    interest.current = undefined;
    if (error !== undefined) interest.lastError = error;
    if (placement.confirmed) this.#markDown(interest, address, reason, error);
    if (!this.#isLive(interest)) return;
    if (reason === "connection-lost" && interest.family !== "shard" && interest.pinned === undefined) {
      if (this.#classicNode?.address === address) {
        this.#classicNode = undefined;
        this.#classicAvoid = address;
      }
    }
    this.#requestRefresh(); // a lost node or a moved slot: the topology may have changed
    // The server's own unsubscribe is news, not a failure: follow it at once.
    this.#retry(interest, reason === "unsubscribed-by-server" && placement.confirmed);
  }

  #onRefused(placement: Placement, error: ReplyError): void {
    const interest = placement.owner as Interest;
    if (interest.current !== placement || !this.#isLive(interest)) return;
    interest.current = undefined;
    interest.lastError = error;
    const outcome = classifyReplyError(error);
    switch (outcome.kind) {
      case "moved":
      case "ask": {
        const { host, port } = this.#options.mapAddress(
          outcome.host === "" ? placement.subscriber.host : outcome.host,
          outcome.port,
        );
        const address = formatAddress(host, port);
        if (outcome.kind === "moved") this.#options.requestRefresh({ slot: outcome.slot, address });
        if (++interest.redirections > this.#options.maxRedirections) {
          // Sent around in circles (a reshard in progress): wait, then start over.
          interest.redirections = 0;
          interest.redirect = undefined;
          this.#retry(interest, false);
          return;
        }
        interest.redirect = { host, port, address };
        this.#place(interest);
        return;
      }
      case "retry":
        if (outcome.refresh) this.#requestRefresh();
        this.#retry(interest, false);
        return;
      case "final": {
        error.command = SUBSCRIBE_COMMAND[interest.family];
        // Never subscribed yet: the subscribe call fails with the server's answer. Once
        // subscribed, the client keeps trying (an ACL may be fixed) and says so.
        for (const subscription of [...interest.subscriptions]) {
          if (subscription.waiting.has(interest)) subscription.failReady(error);
          else subscription.emitError(error);
        }
        this.#retry(interest, false);
        return;
      }
    }
  }

  #markDown(
    interest: Interest,
    address: string,
    reason: DownReason,
    error: RedisClusterError | undefined,
  ): void {
    if (interest.downSince !== undefined || !interest.everUp) return;
    const since = Date.now();
    interest.downSince = since;
    this.#lostCount++;
    for (const subscription of [...interest.subscriptions]) {
      subscription.emitDown(interest, { address, reason, error, since });
    }
  }
}

/** The registry key of an interest: family, node (allNodes patterns), name bytes. */
function interestId(family: Family, pinnedAddress: string | undefined, name: Buffer): string {
  const prefix = pinnedAddress === undefined ? family : `${family}@${pinnedAddress}`;
  return `${prefix}\n${nameKey(name)}`;
}

/** The distinct channels of a subscribe call, as bytes and text. */
function namesOf(channels: RedisArg | readonly RedisArg[], command: string): NamedChannel[] {
  const list: readonly unknown[] = Array.isArray(channels) ? channels : [channels];
  if (list.length === 0) throw new ArgumentError("needs at least one channel", command);
  checkArgs(command, list);
  const names = new Map<string, NamedChannel>();
  for (const channel of list) {
    const name =
      typeof channel === "string"
        ? Buffer.from(channel)
        : channel instanceof Uint8Array
          ? Buffer.from(channel)
          : Buffer.from(String(channel));
    const key = nameKey(name);
    if (!names.has(key)) names.set(key, { name, text: name.toString() });
  }
  return [...names.values()];
}

function checkOptions(command: string, listener: unknown, options: PatternSubscribeOptions): void {
  if (listener !== undefined && typeof listener !== "function") {
    throw new ArgumentError("the listener must be a function (message, channel) => void", command);
  }
  if (typeof options !== "object" || options === null) {
    throw new ArgumentError("the options must be an object", command);
  }
  const { bufferSize, overflow } = options;
  if (bufferSize !== undefined && (!Number.isInteger(bufferSize) || bufferSize < 1)) {
    throw new ArgumentError("bufferSize must be a positive integer (messages)", command);
  }
  if (overflow !== undefined && overflow !== "dropOldest" && overflow !== "error") {
    throw new ArgumentError('overflow must be "dropOldest" or "error"', command);
  }
}
