/**
 * Client-side caching (issue 12): cacheable reads answered from memory, kept only while the
 * server tracks them for us (RESP3 `CLIENT TRACKING` on every node's shared connection).
 *
 * ```
 *  describe ─► command.cacheHook   ReplyRead (one reply) · KeysRead (MGET, key by key) ·
 *                                   WriteNotice (a write: its keys are forgotten)
 *  executor #route ─► hook.route ──► hit: settled from memory (a copy), nothing is sent
 *                                └─► miss: routed as usual
 *  executor #send  ─► hook.sending   the fetch starts: its connection and the epoch noted
 *  command settles ─► hook.settled ─► store, unless something may have changed since it started
 *  push "invalidate" ─► onInvalidate ─► the key's replies go; fetches of it under way won't store
 * ```
 *
 * **The race.** A reply read before a write may arrive after that write's invalidation (a push
 * on another connection, or before the reply on the same one). Storing it would serve the old
 * value until the next invalidation, which may never come. So every event that makes replies
 * wrong bumps one counter (`epoch`), and a fetch stores its reply only if none concerning it
 * happened after it was sent: an invalidation of its key (recorded per key while a fetch of
 * the key is in flight), a flush of its connection, a move of its slot, a clear. Conservative:
 * a fetch that raced with an invalidation is answered but not kept.
 *
 * **Whose tracking.** The server tracks keys per connection (per socket): an entry is valid
 * while the socket it was read through is open, and while that node still serves its slot.
 * A socket that ends (failure, reconnect, idle close, role change) takes its entries with it;
 * a slot that moves (MOVED, a new topology, a failover) takes the entries of that slot.
 *
 * **Own writes.** The server invalidates the writer's connection after the write's reply, so
 * the client forgets a write's keys itself, when the write is routed and again when it settles:
 * a read issued after a write never returns what was cached before it.
 */

import type { Topology } from "../cluster/topology.js";
import { type CacheHook, type Command, MULTI_SLOT, NO_SLOT, UNKNOWN_SLOT } from "../command/command.js";
import { keyIndexes } from "../command/keys.js";
import { SLOT_COUNT } from "../command/slot.js";
import { CommandFlag } from "../command/table.js";
import type { Connection } from "../connection/connection.js";
import type { Sendable } from "../connection/types.js";
import { ReplyError } from "../errors.js";
import type { RedisArg, RespValue } from "../resp/types.js";
import { cacheableForm } from "./commands.js";
import type { NormalizedCacheOptions } from "./options.js";
import { CacheEntry, CacheStore, Tracker } from "./store.js";
import { copyReply, ENTRY_OVERHEAD_BYTES, keyName, nameBytes, replyBytes, replyName } from "./values.js";

/** The counters of `cluster.stats().cache`. */
export interface CacheStats {
  /** Reads answered from memory (MGET: each key). */
  hits: number;
  /** Cacheable reads that went to the server (MGET: each key). */
  misses: number;
  /** Keys named by the servers' invalidation pushes. */
  invalidations: number;
  /** Pushes saying a server dropped everything it tracked for a connection (FLUSHALL, ...). */
  flushes: number;
  /** Replies pushed out to stay within `maxEntries` / `maxBytes`. */
  evictions: number;
  /** Replies found older than `ttl` when asked for. */
  expirations: number;
  /** Replies cached now. */
  entries: number;
  /** Their estimated bytes (what `maxBytes` bounds). */
  bytes: number;
}

/** Fetches of one key in flight, and the epoch of the last invalidation of that key. */
interface PendingKey {
  fetches: number;
  invalidatedAt: number;
}

/** What `lookup` returns when it has nothing to serve. */
const MISS: unique symbol = Symbol("miss");

export class ClientCache {
  readonly #store: CacheStore;
  readonly #ttlMs: number;
  readonly #optin: boolean;
  readonly #prefixNames: readonly string[];
  /** The current tracker (socket) of each connection that answered a cacheable read. */
  readonly #trackers = new Map<Connection, Tracker>();
  /** Per connection: epoch of the server's last "forget everything" for its current socket. */
  readonly #flushedAt = new WeakMap<Tracker, number>();
  readonly #pending = new Map<string, PendingKey>();
  /** Bumped by every event that may make a reply in flight wrong; see the file's comment. */
  #epoch = 0;
  readonly #slotDroppedAt = new Float64Array(SLOT_COUNT);
  #clearedAt = 0;
  #topology: Topology | undefined = undefined;
  /** Shard index (in `#topology`) of every node address. */
  #shardOf = new Map<string, number>();
  #closed = false;
  readonly #counters = { hits: 0, misses: 0, invalidations: 0, flushes: 0, expirations: 0 };

  constructor(options: NormalizedCacheOptions) {
    this.#store = new CacheStore(options.maxEntries, options.maxBytes);
    this.#ttlMs = options.ttlMs;
    this.#optin = options.mode === "optin";
    this.#prefixNames = options.prefixNames;
  }

  /**
   * Gives a described command its hook: a cacheable read (unless `reads` is false: inside a
   * transaction or a WATCH session, through a node handle, or opted out), or a write of known
   * keys. Other commands get none.
   */
  describe(command: Command, reads: boolean): void {
    const info = command.info;
    if (info === undefined || command.slot === MULTI_SLOT || command.slot === UNKNOWN_SLOT) return;
    const args = command.args;
    if (info.flags & CommandFlag.READONLY) {
      if (!reads || !command.cacheReads || command.slot === NO_SLOT) return;
      const form = cacheableForm(info.name, args);
      if (form === "whole") {
        if (this.#covers(args[0]!)) command.cacheHook = new ReplyRead(this, command);
      } else if (form === "perKey") {
        if (args.every((key) => this.#covers(key))) command.cacheHook = new KeysRead(this, command);
      }
      return;
    }
    if (info.name === "flushall" || info.name === "flushdb") {
      command.cacheHook = new WriteNotice(this, undefined);
      return;
    }
    if (info.name === "watch") return; // changes nothing
    let indexes: readonly number[] | null;
    try {
      indexes = keyIndexes(info, args);
    } catch {
      return; // too few arguments: the server refuses it, nothing is written
    }
    if (indexes === null || indexes.length === 0) return;
    command.cacheHook = new WriteNotice(
      this,
      indexes.map((index) => keyName(args[index]!)),
    );
  }

  /** The replies of `connection`'s keys that the server says changed (`null`: all of them). */
  onInvalidate(keys: Buffer[] | null, connection: Connection): void {
    if (this.#closed) return;
    if (keys === null) {
      this.#counters.flushes++;
      const tracker = this.#trackerOf(connection);
      this.#flushedAt.set(tracker, ++this.#epoch);
      this.#store.deleteTracker(tracker);
      return;
    }
    this.#counters.invalidations += keys.length;
    for (const key of keys) this.#forget(key.toString("latin1"));
  }

  /**
   * A topology was installed: the slots whose primary changed (moved, failed over, no longer
   * served) lose their replies, and so does every socket that is closed or whose node left.
   */
  onTopology(topology: Topology): void {
    const previous = this.#topology;
    this.#topology = topology;
    const shardOf = new Map<string, number>();
    topology.shards.forEach((shard, index) => {
      shardOf.set(shard.primary.address, index);
      for (const replica of shard.replicas) shardOf.set(replica.address, index);
    });
    this.#shardOf = shardOf;
    if (previous !== undefined) {
      for (let slot = 0; slot < SLOT_COUNT; slot++) {
        if (previous.shardOf(slot)?.primary.address !== topology.shardOf(slot)?.primary.address) {
          this.dropSlot(slot);
        }
      }
    }
    for (const [connection, tracker] of this.#trackers) {
      if (!tracker.live || !shardOf.has(connection.address)) this.#dropTracker(tracker);
      else {
        // A node that changed shards (re-replicated) keeps no reply of its old slots.
        const shard = shardOf.get(connection.address);
        this.#store.deleteTrackerWhere(tracker, (entry) => topology.slotToShard[entry.slot] !== shard);
      }
    }
  }

  /** A slot changed hands (a MOVED for it, or a new topology): its replies go. */
  dropSlot(slot: number): void {
    this.#slotDroppedAt[slot] = ++this.#epoch;
    this.#store.deleteSlot(slot);
  }

  /** A node connection's socket closed: what it tracked is no longer tracked. */
  onDisconnect(connection: Connection): void {
    const tracker = this.#trackers.get(connection);
    if (tracker !== undefined && !tracker.live) this.#dropTracker(tracker);
  }

  /** Forgets everything and stores nothing more (the client closed). */
  close(): void {
    this.#closed = true;
    this.clear();
  }

  /** Forgets every reply; fetches under way will not store theirs. */
  clear(): void {
    this.#clearedAt = ++this.#epoch;
    this.#store.clear();
    for (const tracker of this.#trackers.values()) tracker.head = undefined;
    this.#trackers.clear();
  }

  stats(): CacheStats {
    return {
      ...this.#counters,
      evictions: this.#store.counters.evictions,
      entries: this.#store.size,
      bytes: this.#store.bytes,
    };
  }

  // ── for the hooks ─────────────────────────────────────────────────────────────────────

  /** @internal The epoch a fetch sent now starts at. */
  get epoch(): number {
    return this.#epoch;
  }

  /** @internal OPTIN: each fetch is preceded by `CLIENT CACHING YES`. */
  get optin(): boolean {
    return this.#optin;
  }

  /** @internal Counts reads answered and not. */
  count(hits: number, misses: number): void {
    this.#counters.hits += hits;
    this.#counters.misses += misses;
  }

  /**
   * @internal A copy of the reply named `name`, or MISS: absent, learned through a socket
   * that is gone, or older than `ttl`. Counts nothing (the caller does).
   */
  lookup(name: string): unknown {
    const entry = this.#store.get(name);
    if (entry === undefined) return MISS;
    if (!entry.tracker.live) {
      this.#dropTracker(entry.tracker);
      return MISS;
    }
    if (this.#ttlMs > 0 && performance.now() >= entry.expiresAt) {
      this.#store.delete(entry);
      this.#counters.expirations++;
      return MISS;
    }
    this.#store.touch(entry);
    return copyReply(entry.value);
  }

  /** @internal A fetch of the key named `key` is under way. */
  fetching(key: string): void {
    const pending = this.#pending.get(key);
    if (pending === undefined) this.#pending.set(key, { fetches: 1, invalidatedAt: 0 });
    else pending.fetches++;
  }

  /** @internal A fetch of `key` is over (settled, failed or expired). */
  fetched(key: string): void {
    const pending = this.#pending.get(key);
    if (pending !== undefined && --pending.fetches === 0) this.#pending.delete(key);
  }

  /**
   * @internal Keeps `value`, the reply named `name` (of key `key`, in `slot`) that
   * `connection` answered to a fetch sent at `sentEpoch` — unless anything that concerns it
   * happened since (see the file's comment), or that node no longer serves the slot.
   */
  store(
    name: string,
    key: string,
    slot: number,
    value: unknown,
    connection: Connection,
    sentEpoch: number,
  ): void {
    if (this.#closed || this.#clearedAt > sentEpoch || this.#slotDroppedAt[slot]! > sentEpoch) return;
    if (value instanceof ReplyError) return;
    const pending = this.#pending.get(key);
    if (pending !== undefined && pending.invalidatedAt > sentEpoch) return;
    const topology = this.#topology;
    if (topology === undefined || this.#shardOf.get(connection.address) !== topology.slotToShard[slot])
      return;
    const tracker = this.#trackerOf(connection);
    if ((this.#flushedAt.get(tracker) ?? 0) > sentEpoch) return;
    const bytes = ENTRY_OVERHEAD_BYTES + nameBytes(name) + nameBytes(key) + replyBytes(value);
    const expiresAt = this.#ttlMs > 0 ? performance.now() + this.#ttlMs : Number.POSITIVE_INFINITY;
    // The caller keeps `value`; the cache keeps a copy nobody else holds.
    this.#store.add(new CacheEntry(name, key, slot, copyReply(value), bytes, tracker, expiresAt));
  }

  /** @internal A write of these keys (undefined: of every key) was routed, or settled. */
  written(keys: readonly string[] | undefined): void {
    if (keys === undefined) {
      this.clear();
      return;
    }
    for (const key of keys) this.#forget(key);
  }

  /** Drops the replies of one key, and keeps fetches of it under way from storing theirs. */
  #forget(key: string): void {
    this.#store.deleteKey(key);
    const pending = this.#pending.get(key);
    if (pending !== undefined) pending.invalidatedAt = ++this.#epoch;
  }

  /** The tracker of `connection`'s current socket (a new one after a reconnect). */
  #trackerOf(connection: Connection): Tracker {
    let tracker = this.#trackers.get(connection);
    if (tracker === undefined || !tracker.live) {
      if (tracker !== undefined) this.#store.deleteTracker(tracker);
      tracker = new Tracker(connection);
      this.#trackers.set(connection, tracker);
    }
    return tracker;
  }

  #dropTracker(tracker: Tracker): void {
    this.#store.deleteTracker(tracker);
    if (this.#trackers.get(tracker.connection) === tracker) this.#trackers.delete(tracker.connection);
  }

  /** In BCAST mode with prefixes, only keys under them are tracked, so only they are cached. */
  #covers(key: RedisArg): boolean {
    const prefixes = this.#prefixNames;
    if (prefixes.length === 0) return true;
    const name = keyName(key);
    for (const prefix of prefixes) if (name.startsWith(prefix)) return true;
    return false;
  }
}

/** The states of a read's hook. */
const FRESH = 0;
const SERVED = 1;
const MISSED = 2;

/**
 * What every cacheable read's hook does the same way: its state, and the attempt whose reply
 * may be kept — the shared connection it went out on (none after ASK: the slot is moving, the
 * reply is served, not kept) and the cache's epoch then.
 */
abstract class CachedRead implements CacheHook {
  protected readonly cache: ClientCache;
  protected readonly slot: number;
  protected state = FRESH;
  /** The shared connection of the last attempt; undefined when its reply may not be stored. */
  protected connection: Connection | undefined = undefined;
  protected sentEpoch = 0;

  constructor(cache: ClientCache, command: Command) {
    this.cache = cache;
    this.slot = command.slot;
  }

  abstract route(command: Command): boolean;
  abstract settled(value: unknown, failed: boolean): void;
  /** Tells the cache which keys are being fetched, the first time the read is sent. */
  protected abstract startFetch(): void;

  sending(connection: Connection, asking: boolean): Sendable | undefined {
    if (this.state !== MISSED) return undefined;
    this.startFetch();
    this.connection = asking ? undefined : connection;
    this.sentEpoch = this.cache.epoch;
    return this.connection !== undefined && this.cache.optin ? new CachingYes(this) : undefined;
  }

  /** OPTIN: the server refused `CLIENT CACHING YES`, so it does not track this read. */
  untracked(): void {
    this.connection = undefined;
  }
}

/** A cacheable read with one reply (GET, HGETALL, ZRANGE, ...): one entry. */
class ReplyRead extends CachedRead {
  readonly #name: string;
  readonly #key: RedisArg;
  #keyName: string | undefined = undefined;

  constructor(cache: ClientCache, command: Command) {
    super(cache, command);
    this.#name = replyName(command.info!.name, command.wantsBuffers, command.args);
    this.#key = command.args[0]!;
  }

  route(command: Command): boolean {
    if (this.state !== FRESH) return false;
    const value = this.cache.lookup(this.#name);
    if (value === MISS) {
      this.state = MISSED;
      this.cache.count(0, 1);
      return false;
    }
    this.state = SERVED;
    this.cache.count(1, 0);
    command.complete(value);
    return true;
  }

  protected startFetch(): void {
    if (this.#keyName !== undefined) return;
    this.#keyName = keyName(this.#key);
    this.cache.fetching(this.#keyName);
  }

  settled(value: unknown, failed: boolean): void {
    const key = this.#keyName;
    if (key === undefined) return; // never sent (a hit, or refused before sending)
    const connection = this.connection;
    if (!failed && connection !== undefined) {
      this.cache.store(this.#name, key, this.slot, value, connection, this.sentEpoch);
    }
    this.cache.fetched(key);
  }
}

/**
 * MGET, key by key: each key's value is the reply of `GET key` (a GET's entry answers it,
 * and the values it fetches answer later GETs); a null, which MGET also gives for a key of
 * another type, is kept under MGET's own name. Keys found are answered from memory, the
 * others fetched with one MGET, and the two merged in the caller's order.
 */
class KeysRead extends CachedRead {
  readonly #keys: readonly RedisArg[];
  readonly #wantsBuffers: boolean;
  /** Positions (in `#keys`) of the keys fetched from the server. */
  #fetched: number[] = [];
  #keyNames: string[] | undefined = undefined;

  constructor(cache: ClientCache, command: Command) {
    super(cache, command);
    this.#keys = command.args.slice();
    this.#wantsBuffers = command.wantsBuffers;
  }

  route(command: Command): boolean {
    if (this.state !== FRESH) return false;
    this.state = MISSED;
    const keys = this.#keys;
    const values: unknown[] = new Array(keys.length);
    const fetched: number[] = [];
    for (let i = 0; i < keys.length; i++) {
      let value = this.cache.lookup(replyName("get", this.#wantsBuffers, [keys[i]!]));
      if (value === MISS) value = this.cache.lookup(replyName("mget", this.#wantsBuffers, [keys[i]!]));
      if (value === MISS) fetched.push(i);
      else values[i] = value;
    }
    this.cache.count(keys.length - fetched.length, fetched.length);
    if (fetched.length === 0) {
      this.state = SERVED;
      command.complete(values);
      return true;
    }
    this.#fetched = fetched;
    if (fetched.length < keys.length) {
      command.args = fetched.map((position) => keys[position]!);
      command.transform = (reply: RespValue) => {
        if (!Array.isArray(reply) || reply.length !== fetched.length) return reply; // the server's problem
        for (let j = 0; j < fetched.length; j++) values[fetched[j]!] = reply[j];
        return values;
      };
    }
    return false;
  }

  protected startFetch(): void {
    if (this.#keyNames !== undefined) return;
    this.#keyNames = this.#fetched.map((position) => keyName(this.#keys[position]!));
    for (const key of this.#keyNames) this.cache.fetching(key);
  }

  settled(value: unknown, failed: boolean): void {
    const keyNames = this.#keyNames;
    if (keyNames === undefined) return;
    const connection = this.connection;
    if (!failed && connection !== undefined && Array.isArray(value) && value.length === this.#keys.length) {
      for (let j = 0; j < this.#fetched.length; j++) {
        const position = this.#fetched[j]!;
        const element: unknown = value[position];
        const key = this.#keys[position]!;
        const name = replyName(element === null ? "mget" : "get", this.#wantsBuffers, [key]);
        this.cache.store(name, keyNames[j]!, this.slot, element, connection, this.sentEpoch);
      }
    }
    for (const key of keyNames) this.cache.fetched(key);
  }
}

/**
 * A write of known keys (or FLUSHALL/FLUSHDB: `keys` undefined): the cache forgets them when
 * the write is first routed (a read issued after it must not be answered from before it) and
 * again when it settles (a read that went out meanwhile, to a replica say, may have read the
 * old value; its fetch is kept from storing it).
 */
export class WriteNotice implements CacheHook {
  readonly #cache: ClientCache;
  readonly keys: readonly string[] | undefined;
  #routed = false;

  constructor(cache: ClientCache, keys: readonly string[] | undefined) {
    this.#cache = cache;
    this.keys = keys;
  }

  route(): boolean {
    if (!this.#routed) {
      this.#routed = true;
      this.#cache.written(this.keys);
    }
    return false;
  }

  sending(): undefined {
    return undefined;
  }

  settled(): void {
    this.#cache.written(this.keys);
  }

  /**
   * The writes of a transaction's commands, as one notice for the transaction (its parts are
   * never routed themselves); undefined when none writes a key.
   */
  static of(parts: readonly Command[]): WriteNotice | undefined {
    let cache: ClientCache | undefined;
    // Allocated only once a part writes under a cache: without clientCache nothing is.
    let keys: string[] | undefined;
    for (const part of parts) {
      const hook = part.cacheHook;
      if (!(hook instanceof WriteNotice)) continue;
      cache = hook.#cache;
      if (hook.keys === undefined) return new WriteNotice(cache, undefined);
      keys ??= [];
      keys.push(...hook.keys);
    }
    return cache === undefined ? undefined : new WriteNotice(cache, keys ?? []);
  }
}

/** OPTIN's `CLIENT CACHING YES`, right before the read it concerns (one unit). */
class CachingYes implements Sendable {
  readonly name = "CLIENT";
  readonly args: readonly RedisArg[] = CACHING_YES;
  readonly wantsBuffers = false;
  readonly deadlineAt = Number.POSITIVE_INFINITY;

  constructor(readonly read: CachedRead) {}

  settle(value: RespValue): void {
    if (value instanceof ReplyError) this.read.untracked();
  }
  fail(): void {}
  expire(): void {}
}

const CACHING_YES: readonly RedisArg[] = ["CACHING", "YES"];
