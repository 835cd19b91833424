/**
 * The cache's memory: a bounded LRU of replies, each entry on four intrusive lists at once.
 *
 * ```
 *   byName: Map<reply name, Entry>            one Map.get per cached read (the hot path)
 *
 *   LRU      newest ⇄ … ⇄ oldest              a hit moves its entry to the front; past
 *                                            maxEntries or maxBytes the oldest goes
 *   byKey:   Map<key name, Entry> ─► e ⇄ e ⇄ e   every reply of one Redis key (GET k, HGET k f, …):
 *                                            one invalidation drops them all at once
 *   Tracker  (one per socket) ─► e ⇄ e ⇄ e   every reply learned through that socket: when it
 *                                            ends, the server forgets what it tracked, and so
 *                                            do we
 *   bySlot:  [16384] ─► e ⇄ e ⇄ e             every reply of one hash slot: when the slot moves
 *                                            to another node (or fails over), its replies go
 * ```
 *
 * Removing an entry unlinks it from the four lists and the Map in O(1); nothing here scans.
 * The bytes of an entry are an estimate (values.ts), summed as entries come and go.
 */
import { SLOT_COUNT } from "../command/slot.js";
import type { Connection } from "../connection/connection.js";

/**
 * One socket of one connection, as the server tracks it: the replies read through it are
 * valid only while it is the connection's current socket (`socketEpoch` unchanged).
 */
export class Tracker {
  readonly connection: Connection;
  readonly socketEpoch: number;
  /** Newest entry learned through this socket (a list through `trackerNext`). */
  head: CacheEntry | undefined = undefined;

  constructor(connection: Connection) {
    this.connection = connection;
    this.socketEpoch = connection.socketEpoch;
  }

  /** The socket is still open, so the server still tracks what it read. */
  get live(): boolean {
    return this.connection.socketEpoch === this.socketEpoch;
  }
}

/** One cached reply. */
export class CacheEntry {
  // LRU list
  newer: CacheEntry | undefined = undefined;
  older: CacheEntry | undefined = undefined;
  // the replies of one Redis key
  keyNext: CacheEntry | undefined = undefined;
  keyPrev: CacheEntry | undefined = undefined;
  // the replies of one tracker
  trackerNext: CacheEntry | undefined = undefined;
  trackerPrev: CacheEntry | undefined = undefined;
  // the replies of one slot
  slotNext: CacheEntry | undefined = undefined;
  slotPrev: CacheEntry | undefined = undefined;

  constructor(
    /** Command + arguments (values.ts `replyName`). */
    readonly name: string,
    /** The Redis key's bytes as text (values.ts `keyName`). */
    readonly keyName: string,
    readonly slot: number,
    /** The reply, never handed out itself (callers get copies of mutable ones). */
    readonly value: unknown,
    readonly bytes: number,
    readonly tracker: Tracker,
    /** `performance.now()` past which it is not served (`ttl`); Infinity without one. */
    readonly expiresAt: number,
  ) {}
}

/** Why entries left, for the stats. */
export interface StoreCounters {
  /** Entries pushed out to stay within `maxEntries` / `maxBytes`. */
  evictions: number;
}

export class CacheStore {
  readonly #byName = new Map<string, CacheEntry>();
  readonly #byKey = new Map<string, CacheEntry>();
  /** Newest entry of each slot (a list through `slotNext`). */
  readonly #bySlot: Array<CacheEntry | undefined> = new Array(SLOT_COUNT).fill(undefined);
  #newest: CacheEntry | undefined = undefined;
  #oldest: CacheEntry | undefined = undefined;
  #bytes = 0;
  readonly #maxEntries: number;
  readonly #maxBytes: number;
  readonly counters: StoreCounters = { evictions: 0 };

  constructor(maxEntries: number, maxBytes: number) {
    this.#maxEntries = maxEntries;
    this.#maxBytes = maxBytes;
  }

  get size(): number {
    return this.#byName.size;
  }

  get bytes(): number {
    return this.#bytes;
  }

  /** The entry named `name`, without touching its place in the LRU. */
  get(name: string): CacheEntry | undefined {
    return this.#byName.get(name);
  }

  /** Marks `entry` as just used. */
  touch(entry: CacheEntry): void {
    if (this.#newest === entry) return;
    this.#unlinkLru(entry);
    this.#pushNewest(entry);
  }

  /**
   * Adds `entry` (replacing any of the same name), then evicts the oldest entries until both
   * bounds hold. False, and nothing stored, for an entry larger than `maxBytes` on its own.
   */
  add(entry: CacheEntry): boolean {
    if (entry.bytes > this.#maxBytes) return false;
    const previous = this.#byName.get(entry.name);
    if (previous !== undefined) this.delete(previous);
    this.#byName.set(entry.name, entry);
    this.#pushNewest(entry);
    const head = this.#byKey.get(entry.keyName);
    entry.keyNext = head;
    if (head !== undefined) head.keyPrev = entry;
    this.#byKey.set(entry.keyName, entry);
    const tracker = entry.tracker;
    entry.trackerNext = tracker.head;
    if (tracker.head !== undefined) tracker.head.trackerPrev = entry;
    tracker.head = entry;
    const slotHead = this.#bySlot[entry.slot];
    entry.slotNext = slotHead;
    if (slotHead !== undefined) slotHead.slotPrev = entry;
    this.#bySlot[entry.slot] = entry;
    this.#bytes += entry.bytes;
    while (this.#byName.size > this.#maxEntries || this.#bytes > this.#maxBytes) {
      const oldest = this.#oldest;
      if (oldest === undefined) break;
      this.delete(oldest);
      this.counters.evictions++;
    }
    return true;
  }

  /** Removes one entry. */
  delete(entry: CacheEntry): void {
    if (this.#byName.get(entry.name) !== entry) return; // already gone
    this.#byName.delete(entry.name);
    this.#unlinkLru(entry);
    // The key's list
    if (entry.keyPrev !== undefined) entry.keyPrev.keyNext = entry.keyNext;
    else if (entry.keyNext !== undefined) this.#byKey.set(entry.keyName, entry.keyNext);
    else this.#byKey.delete(entry.keyName);
    if (entry.keyNext !== undefined) entry.keyNext.keyPrev = entry.keyPrev;
    // The tracker's list
    const tracker = entry.tracker;
    if (entry.trackerPrev !== undefined) entry.trackerPrev.trackerNext = entry.trackerNext;
    else tracker.head = entry.trackerNext;
    if (entry.trackerNext !== undefined) entry.trackerNext.trackerPrev = entry.trackerPrev;
    // The slot's list
    if (entry.slotPrev !== undefined) entry.slotPrev.slotNext = entry.slotNext;
    else this.#bySlot[entry.slot] = entry.slotNext;
    if (entry.slotNext !== undefined) entry.slotNext.slotPrev = entry.slotPrev;
    entry.keyNext = entry.keyPrev = entry.trackerNext = entry.trackerPrev = undefined;
    entry.slotNext = entry.slotPrev = undefined;
    this.#bytes -= entry.bytes;
  }

  /** Removes every entry of one Redis key; returns how many there were. */
  deleteKey(keyName: string): number {
    let removed = 0;
    for (let entry = this.#byKey.get(keyName); entry !== undefined; ) {
      const next = entry.keyNext;
      this.delete(entry);
      removed++;
      entry = next;
    }
    return removed;
  }

  /** Removes every entry learned through `tracker`; returns how many there were. */
  deleteTracker(tracker: Tracker): number {
    let removed = 0;
    for (let entry = tracker.head; entry !== undefined; ) {
      const next = entry.trackerNext;
      this.delete(entry);
      removed++;
      entry = next;
    }
    return removed;
  }

  /** Removes every entry of one hash slot; returns how many there were. */
  deleteSlot(slot: number): number {
    let removed = 0;
    for (let entry = this.#bySlot[slot]; entry !== undefined; ) {
      const next = entry.slotNext;
      this.delete(entry);
      removed++;
      entry = next;
    }
    return removed;
  }

  /** Removes the entries of `tracker` for which `drop` is true; returns how many. */
  deleteTrackerWhere(tracker: Tracker, drop: (entry: CacheEntry) => boolean): number {
    let removed = 0;
    for (let entry = tracker.head; entry !== undefined; ) {
      const next = entry.trackerNext;
      if (drop(entry)) {
        this.delete(entry);
        removed++;
      }
      entry = next;
    }
    return removed;
  }

  clear(): void {
    this.#byName.clear();
    this.#byKey.clear();
    this.#bySlot.fill(undefined);
    this.#newest = this.#oldest = undefined;
    this.#bytes = 0;
  }

  #pushNewest(entry: CacheEntry): void {
    entry.older = this.#newest;
    entry.newer = undefined;
    if (this.#newest !== undefined) this.#newest.newer = entry;
    this.#newest = entry;
    if (this.#oldest === undefined) this.#oldest = entry;
  }

  #unlinkLru(entry: CacheEntry): void {
    if (entry.newer !== undefined) entry.newer.older = entry.older;
    else this.#newest = entry.older;
    if (entry.older !== undefined) entry.older.newer = entry.newer;
    else this.#oldest = entry.newer;
    entry.newer = entry.older = undefined;
  }
}
