/**
 * What `ssubscribe`, `subscribe` and `psubscribe` return: the user's handle on a set of
 * channels (or patterns), wherever in the cluster they are subscribed right now.
 *
 * Messages go to the listener given at subscribe time, and/or to an async iterator:
 *
 * ```
 *   node ──► subscriber connection ──► Subscription.deliver ──► listener(message, channel)
 *                                                           └─► Inbox (bounded) ──► for await
 * ```
 *
 * The iterator's buffer holds at most `bufferSize` messages (default 1024). Without a
 * listener, it buffers from the start; with one, only while an iterator is open. When the
 * consumer falls behind, `overflow: "dropOldest"` (the default) drops the oldest message,
 * counts it (`dropped`) and emits `overflow`; `overflow: "error"` ends the iterator with a
 * `SubscriptionOverflowError` and unsubscribes. Memory is thus bounded by `bufferSize`
 * messages per subscription, whatever the consumer does.
 */
import { EventEmitter } from "node:events";
import { type RedisClusterError, SubscriptionOverflowError } from "../errors.js";
import type { Family } from "./frames.js";
import { Inbox, type OverflowPolicy, PushOutcome } from "./inbox.js";
import type { DownReason } from "./subscriber.js";

/** One message, as the async iterator yields it. */
export interface PubSubMessage<T> {
  /** The channel it was published to. */
  channel: T;
  /** The message as published. */
  message: T;
  /** Pattern subscriptions: the pattern that matched. */
  pattern?: T;
}

/** Receives each message: `pattern` is set for pattern subscriptions. */
export type MessageListener<T> = (message: T, channel: T, pattern: T | undefined) => void;

/** Options of `ssubscribe`, `subscribe`, `psubscribe` (and their Buffer forms). */
export interface SubscribeOptions {
  /** Messages the async iterator may hold while its consumer is busy (default 1024). */
  bufferSize?: number;
  /** When that buffer is full: drop the oldest message (default), or end the iterator with an error. */
  overflow?: OverflowPolicy;
}

/** `psubscribe` options. */
export interface PatternSubscribeOptions extends SubscribeOptions {
  /**
   * Subscribe the pattern on every primary instead of one node: for events each node
   * publishes only about its own keys (keyspace notifications). A message PUBLISHed to the
   * cluster (broadcast to every node) then arrives once per primary.
   */
  allNodes?: boolean;
}

/** `down`: a channel is not subscribed anywhere right now; messages published meanwhile are lost. */
export interface SubscriptionDownEvent<T> {
  /** The channel (or pattern) that is down. */
  channel: T;
  /** The node it was subscribed on. */
  address: string;
  /** Why it went down. */
  reason: DownReason;
  /** The error that took it down, if one did (a lost connection, a refused SUBSCRIBE). */
  error: RedisClusterError | undefined;
  /** `Date.now()` when the client noticed. */
  since: number;
}

/** `up`: subscribed again after a `down`; every message published from now on arrives. */
export interface SubscriptionUpEvent<T> {
  /** The channel (or pattern) that is back. */
  channel: T;
  /** The node it is subscribed on now. */
  address: string;
  /** When it went down (`Date.now()` time) and for how long. */
  since: number;
  /** How long it was down, in ms. */
  downMs: number;
}

/** `moved`: a channel is now subscribed on another node (slot moved, failover, node lost). */
export interface SubscriptionMovedEvent<T> {
  /** The channel (or pattern) that moved. */
  channel: T;
  /** The node it was subscribed on (`host:port`). */
  from: string;
  /** The node it is subscribed on now. */
  to: string;
}

/** `overflow`: the iterator's buffer was full and dropped its oldest message (`dropOldest`). */
export interface SubscriptionOverflowEvent {
  /** Messages dropped so far, this one included. */
  dropped: number;
}

/** Events of a Subscription and their arguments. */
export interface SubscriptionEvents<T> {
  /** A channel is not subscribed anywhere right now: messages published meanwhile are lost. */
  down: [info: SubscriptionDownEvent<T>];
  /** A channel that was down is subscribed again. */
  up: [info: SubscriptionUpEvent<T>];
  /** A channel is now subscribed on another node (its slot moved, a failover, a node lost). */
  moved: [info: SubscriptionMovedEvent<T>];
  /** The iterator's buffer overflowed (`dropOldest`): `dropped` counts every message dropped so far. */
  overflow: [info: SubscriptionOverflowEvent];
  /** A listener threw, or a node refused to subscribe again (the client keeps trying). */
  error: [error: Error];
}

/** A channel or pattern as the subscription names it. */
export interface NamedChannel {
  readonly name: Buffer;
  /** `name` as UTF-8 text. */
  readonly text: string;
}

/**
 * What the registry (pubsub.ts) sees of a subscription, whatever its message type: nothing
 * here mentions `T`, so string and Buffer subscriptions share interests.
 */
export interface SubscriptionHandle {
  readonly kind: Family;
  readonly allNodes: boolean;
  readonly names: readonly NamedChannel[];
  readonly waiting: Set<object>;
  unsubscribe(): Promise<void>;
  deliver(subscribed: NamedChannel, channel: Buffer, payload: Buffer, pattern: Buffer | undefined): void;
  subscribed(what: object): void;
  failReady(error: Error): void;
  end(error: Error): void;
  emitDown(subscribed: NamedChannel, info: Omit<SubscriptionDownEvent<unknown>, "channel">): void;
  emitUp(subscribed: NamedChannel, info: Omit<SubscriptionUpEvent<unknown>, "channel">): void;
  emitMoved(subscribed: NamedChannel, from: string, to: string): void;
  emitError(error: Error): void;
}

const DEFAULT_BUFFER_SIZE = 1024;

/**
 * A live subscription: messages flow until `unsubscribe()` or the client's `close()`, and
 * follow their channels through slot moves, failovers and lost nodes by themselves.
 *
 * @example
 * const sub = await cluster.ssubscribe("orders:{eu}", (message, channel) => console.log(channel, message));
 * sub.on("down", ({ channel, reason }) => console.warn(channel, "not subscribed:", reason));
 * sub.on("up", ({ channel, downMs }) => console.warn(channel, "back after", downMs, "ms"));
 * await sub.unsubscribe();
 *
 * @example
 * const sub = await cluster.ssubscribe(["a{1}", "b{2}"]);
 * for await (const { channel, message } of sub) { if (message === "stop") break; } // break unsubscribes
 */
export class Subscription<T extends string | Buffer = string>
  extends EventEmitter
  implements AsyncIterable<PubSubMessage<T>>, SubscriptionHandle
{
  /** `"shard"` (SSUBSCRIBE), `"channel"` (SUBSCRIBE) or `"pattern"` (PSUBSCRIBE). */
  readonly kind: Family;
  /** The channels (or patterns), as given. */
  readonly channels: readonly T[];
  /** Patterns subscribed on every primary (`allNodes`). */
  readonly allNodes: boolean;
  /** @internal The channels' bytes, one entry per distinct channel. */
  readonly names: readonly NamedChannel[];
  /** @internal What this subscription still waits for before it is ready. */
  readonly waiting = new Set<object>();
  /** @internal Resolves once every channel is subscribed; rejects if one cannot be. */
  readonly ready: Promise<void>;

  readonly #buffers: boolean;
  readonly #listener: MessageListener<T> | undefined;
  readonly #bufferSize: number;
  readonly #overflow: OverflowPolicy;
  readonly #release: (subscription: SubscriptionHandle) => Promise<void>;
  #inbox: Inbox<PubSubMessage<T>> | undefined;
  #overflowing = false;
  #dropped = 0;
  #closed = false;
  #unsubscribed: Promise<void> | undefined;
  #settleReady!: (error?: Error) => void;

  /** @internal Created by the client's subscribe methods (pubsub.ts). */
  constructor(
    kind: Family,
    names: readonly NamedChannel[],
    buffers: boolean,
    allNodes: boolean,
    listener: MessageListener<T> | undefined,
    options: SubscribeOptions,
    release: (subscription: SubscriptionHandle) => Promise<void>,
  ) {
    super();
    this.kind = kind;
    this.names = names;
    this.channels = names.map((name) => (buffers ? name.name : name.text) as T);
    this.allNodes = allNodes;
    this.#buffers = buffers;
    this.#listener = listener;
    this.#bufferSize = options.bufferSize ?? DEFAULT_BUFFER_SIZE;
    this.#overflow = options.overflow ?? "dropOldest";
    this.#release = release;
    this.ready = new Promise((resolve, reject) => {
      this.#settleReady = (error) => (error === undefined ? resolve() : reject(error));
    });
    this.ready.catch(() => {}); // the subscribe call reports it; nobody else need handle it
    if (listener === undefined) this.#inbox = new Inbox(this.#bufferSize, this.#overflow);
  }

  /** Messages the iterator's buffer dropped so far (`overflow: "dropOldest"`). */
  get dropped(): number {
    return this.#dropped;
  }

  /** True after `unsubscribe()`, an overflow error, or the client's close. */
  get closed(): boolean {
    return this.#closed;
  }

  /**
   * Stops delivery at once and unsubscribes every channel; resolves once the nodes have
   * answered (or their connections are gone). A node's subscriber connection closes when
   * its last subscription goes. The async iterator finishes.
   */
  unsubscribe(): Promise<void> {
    if (this.#unsubscribed !== undefined) return this.#unsubscribed;
    this.#closed = true;
    this.#inbox?.end();
    this.#unsubscribed = this.#release(this);
    return this.#unsubscribed;
  }

  /**
   * The messages, in the order they arrive. Leaving the loop (`break`, `return`, a throw)
   * unsubscribes, unless a listener also receives the messages (then only the iterator ends).
   */
  [Symbol.asyncIterator](): AsyncIterableIterator<PubSubMessage<T>> {
    this.#inbox ??= new Inbox(this.#bufferSize, this.#overflow);
    const inbox = this.#inbox;
    if (this.#closed) inbox.end();
    const iterator: AsyncIterableIterator<PubSubMessage<T>> = {
      next: () => {
        // Caught up to half the buffer: the next overflow is a new episode, worth an event.
        if (this.#overflowing && inbox.length <= this.#bufferSize / 2) this.#overflowing = false;
        return inbox.next();
      },
      return: () => {
        if (this.#listener === undefined) void this.unsubscribe();
        else if (this.#inbox === inbox) {
          this.#inbox = undefined;
          inbox.end(undefined, true);
        }
        return Promise.resolve({ value: undefined, done: true });
      },
      [Symbol.asyncIterator]: () => iterator,
    };
    return iterator;
  }

  // ── from the registry (pubsub.ts) ─────────────────────────────────────────────────────

  /** @internal A message for `subscribed` (the channel, or for patterns the pattern). */
  deliver(subscribed: NamedChannel, channel: Buffer, payload: Buffer, pattern: Buffer | undefined): void {
    if (this.#closed) return;
    const buffers = this.#buffers;
    const message = (buffers ? payload : payload.toString()) as T;
    let channelValue: T;
    let patternValue: T | undefined;
    if (pattern === undefined) {
      channelValue = (buffers ? subscribed.name : subscribed.text) as T;
    } else {
      channelValue = (buffers ? channel : channel.toString()) as T;
      patternValue = (buffers ? subscribed.name : subscribed.text) as T;
    }
    const listener = this.#listener;
    if (listener !== undefined) {
      try {
        listener(message, channelValue, patternValue);
      } catch (error) {
        this.#emitSafe("error", error instanceof Error ? error : new Error(String(error)));
      }
    }
    const inbox = this.#inbox;
    if (inbox === undefined || inbox.ended) return;
    const outcome = inbox.push(
      patternValue === undefined
        ? { channel: channelValue, message }
        : { channel: channelValue, message, pattern: patternValue },
    );
    if (outcome === PushOutcome.DroppedOldest) {
      this.#dropped++;
      if (!this.#overflowing) {
        this.#overflowing = true;
        this.#emitSafe("overflow", { dropped: this.#dropped });
      }
    } else if (outcome === PushOutcome.Overflowed) {
      inbox.end(new SubscriptionOverflowError(this.#bufferSize));
      void this.unsubscribe();
    }
  }

  /** @internal A channel of this subscription (or all, for readiness) was subscribed. */
  subscribed(what: object): void {
    if (this.waiting.delete(what) && this.waiting.size === 0) this.#settleReady();
  }

  /** @internal It cannot be subscribed (refused, timed out, client closed): the subscribe call rejects. */
  failReady(error: Error): void {
    this.waiting.clear();
    this.#settleReady(error);
  }

  /** @internal The client closed: the iterator finishes, nothing more is delivered. */
  end(error: Error): void {
    this.failReady(error); // a no-op once ready
    this.#closed = true;
    this.#unsubscribed ??= Promise.resolve();
    this.#inbox?.end();
  }

  /** @internal */
  emitDown(subscribed: NamedChannel, info: Omit<SubscriptionDownEvent<T>, "channel">): void {
    this.#emitSafe("down", { channel: this.#named(subscribed), ...info });
  }

  /** @internal */
  emitUp(subscribed: NamedChannel, info: Omit<SubscriptionUpEvent<T>, "channel">): void {
    this.#emitSafe("up", { channel: this.#named(subscribed), ...info });
  }

  /** @internal */
  emitMoved(subscribed: NamedChannel, from: string, to: string): void {
    this.#emitSafe("moved", { channel: this.#named(subscribed), from, to });
  }

  /** @internal */
  emitError(error: Error): void {
    this.#emitSafe("error", error);
  }

  #named(subscribed: NamedChannel): T {
    return (this.#buffers ? subscribed.name : subscribed.text) as T;
  }

  /** Emits without ever throwing: a listener's exception or a missing 'error' listener is not ours to raise. */
  #emitSafe<E extends keyof SubscriptionEvents<T>>(event: E, ...args: SubscriptionEvents<T>[E]): void {
    if (this.#closed && event !== "error") return;
    if (this.listenerCount(event) === 0) return;
    try {
      this.emit(event, ...args);
    } catch {
      // A listener threw; delivery goes on.
    }
  }
}
