/**
 * One channel (or pattern) the client wants subscribed, whoever asked for it: the unit that
 * follows slot moves and failovers. Several Subscriptions of the same channel share one
 * Interest, hence one server-side subscription.
 *
 * ```
 *   Interest "orders:{eu}" (shard, slot 1234)
 *     subscriptions: { sub A, sub B }          who gets its messages
 *     current:  Placement @ 127.0.0.1:7002     where it is subscribed, or being subscribed;
 *                                              one place at a time (two could deliver twice)
 *     downSince: undefined | Date.now() time   set while it is subscribed nowhere
 * ```
 */
import type { HostPort } from "../connection/address.js";
import type { RedisClusterError } from "../errors.js";
import type { Family } from "./frames.js";
import type { Placement, PlacementOwner } from "./subscriber.js";
import type { NamedChannel, SubscriptionHandle } from "./subscription.js";

/** A subscription of either flavour: one interest serves string and Buffer subscriptions alike. */
export type AnySubscription = SubscriptionHandle;

/** A node to subscribe on. */
export interface NodeAddress extends HostPort {
  /** `host:port` */
  readonly address: string;
}

/** One channel or pattern the client wants subscribed, shared by its Subscriptions (see the top of this file). */
export class Interest implements PlacementOwner, NamedChannel {
  readonly text: string;
  /** Placement that is live, or on its way. */
  current: Placement | undefined;
  /** Moving: the old place's UNSUBSCRIBE, answered before the new place is subscribed. */
  leaving: Promise<void> | undefined;
  /** Subscribed at least once (a failure before that fails the subscribe call instead). */
  everUp = false;
  /** `Date.now()` time it went down; undefined while subscribed (or never yet). */
  downSince: number | undefined;
  /** The node it was last subscribed on. */
  upAddress: string | undefined;
  /** Failed attempts in a row (the retry backoff grows with them). */
  attempts = 0;
  /** MOVED/ASK followed in a row. */
  redirections = 0;
  /** Where the last MOVED pointed, until the next topology. */
  redirect: NodeAddress | undefined;
  retryTimer: NodeJS.Timeout | undefined;
  lastError: RedisClusterError | undefined;

  /**
   * @param id the registry's key (family, node for allNodes patterns, name bytes)
   * @param slot shard channels: the name's slot
   * @param pinned allNodes patterns: the one node this interest is for
   * @param subscriptions who gets its messages (shared by an allNodes pattern's interests)
   */
  constructor(
    readonly id: string,
    readonly family: Family,
    readonly name: Buffer,
    readonly slot: number,
    readonly pinned: NodeAddress | undefined,
    readonly subscriptions: Set<AnySubscription>,
  ) {
    this.text = name.toString();
  }

  /** Subscribed somewhere right now. */
  get isUp(): boolean {
    return this.current?.confirmed === true;
  }

  deliver(channel: Buffer, payload: Buffer, pattern: Buffer | undefined): void {
    for (const subscription of this.subscriptions) subscription.deliver(this, channel, payload, pattern);
  }
}
