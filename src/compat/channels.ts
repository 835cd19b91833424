/**
 * The channels a facade has subscribed, by name, over the native Pub/Sub: ioredis and
 * node-redis subscribe and unsubscribe channel by channel, on one client, while the native
 * API hands out a `Subscription` per call. So each channel (or pattern) gets one native
 * Buffer subscription of its own, and every message goes to one `deliver` callback, which
 * the facade turns into its events or listeners.
 *
 * ```
 *   facade.ssubscribe("a", "b") ──► table.add("shard", [a, b]) ──► native.ssubscribeBuffer(a), (b)
 *   node ──► native Subscription(a) ──► deliver("shard", message, a, undefined) ──► "smessage"
 *   facade.sunsubscribe("a")    ──► table.remove("shard", [a]) ──► subscription(a).unsubscribe()
 * ```
 *
 * A subscription follows its channel through slot moves and failovers by itself (that is
 * the native client's job). After a reconnect the facade has a new native client, and
 * `resubscribe` places every channel on it again.
 */
import type { RedisCluster } from "../client.js";
import type { Family } from "../pubsub/frames.js";
import type { Subscription } from "../pubsub/subscription.js";

/** Receives every message of every channel in the table. */
export type Deliver = (family: Family, message: Buffer, channel: Buffer, pattern: Buffer | undefined) => void;

interface Entry {
  readonly family: Family;
  readonly name: Buffer;
  /** The native subscription, once subscribed (or being subscribed). */
  subscribing: Promise<Subscription<Buffer>> | undefined;
}

export class ChannelTable {
  readonly #entries = new Map<string, Entry>();
  readonly #deliver: Deliver;

  constructor(deliver: Deliver) {
    this.#deliver = deliver;
  }

  /** How many channels (and patterns) of `family` are subscribed, or of every family. */
  count(family?: Family): number {
    if (family === undefined) return this.#entries.size;
    let count = 0;
    for (const entry of this.#entries.values()) if (entry.family === family) count++;
    return count;
  }

  /** The subscribed names of `family`. */
  names(family: Family): Buffer[] {
    return [...this.#entries.values()].filter((entry) => entry.family === family).map((entry) => entry.name);
  }

  /**
   * Subscribes the names not subscribed yet, each with its own native subscription;
   * resolves once all are. A name whose subscription fails is left out of the table.
   */
  async add(client: RedisCluster, family: Family, names: readonly Buffer[]): Promise<void> {
    const waits: Array<Promise<unknown>> = [];
    for (const name of names) {
      const key = keyOf(family, name);
      let entry = this.#entries.get(key);
      if (entry === undefined) {
        entry = { family, name, subscribing: undefined };
        this.#entries.set(key, entry);
        this.#place(client, entry);
      }
      waits.push(entry.subscribing!);
    }
    await Promise.all(waits);
  }

  /** Unsubscribes `names` of `family` (every one of that family when undefined). */
  async remove(family: Family, names?: readonly Buffer[]): Promise<void> {
    const entries =
      names === undefined
        ? [...this.#entries.values()].filter((entry) => entry.family === family)
        : names.flatMap((name) => this.#entries.get(keyOf(family, name)) ?? []);
    await Promise.all(entries.map((entry) => this.#unsubscribe(entry)));
  }

  /** Places every channel again on a new native client (after a reconnect). */
  resubscribe(client: RedisCluster): Promise<void> {
    for (const entry of this.#entries.values()) this.#place(client, entry);
    return Promise.all([...this.#entries.values()].map((entry) => entry.subscribing)).then(() => {});
  }

  /** Forgets every channel (the native client is gone, and the facade is not coming back). */
  clear(): void {
    this.#entries.clear();
  }

  #place(client: RedisCluster, entry: Entry): void {
    const listener = (message: Buffer, channel: Buffer, pattern: Buffer | undefined) => {
      this.#deliver(entry.family, message, channel, pattern);
    };
    const subscribing =
      entry.family === "shard"
        ? client.ssubscribeBuffer(entry.name, listener)
        : entry.family === "pattern"
          ? client.psubscribeBuffer(entry.name, listener)
          : client.subscribeBuffer(entry.name, listener);
    entry.subscribing = subscribing;
    subscribing.catch(() => {
      // Refused (NOPERM, a timeout, the client closed): not subscribed, so not in the table.
      const key = keyOf(entry.family, entry.name);
      if (this.#entries.get(key) === entry && entry.subscribing === subscribing) this.#entries.delete(key);
    });
  }

  async #unsubscribe(entry: Entry): Promise<void> {
    const key = keyOf(entry.family, entry.name);
    if (this.#entries.get(key) === entry) this.#entries.delete(key);
    const subscription = await entry.subscribing?.catch(() => undefined);
    await subscription?.unsubscribe();
  }
}

/** A name as a map key: its bytes, each as one latin1 character (binary-safe). */
function keyOf(family: Family, name: Buffer): string {
  return `${family}:${name.toString("latin1")}`;
}
