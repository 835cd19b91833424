/**
 * Where RESP3 push frames go when they are not about a subscription: the one place a push
 * from a command connection (or an unexpected one on a subscriber connection) is told
 * apart and handed on.
 *
 * ```
 *   decoder ──push──► command connection ──► PushRouter.route ──► "invalidate" ──► cache hook
 *                                                             ├──► MOVING, MIGRATING, … ──► maintenance hook
 *                                                             └──► anything else ──► `push` event
 *   decoder ──push──► subscriber connection ──► pubsub/subscriber.ts (messages, confirmations)
 *                                            └─ not Pub/Sub ──► PushRouter.route
 * ```
 *
 * Pushes never settle a command: the decoder tells them apart from replies by their `>`
 * type byte, so a push in the middle of a stream of replies leaves the FIFO untouched.
 * Pub/Sub frames do not come on command connections (SUBSCRIBE & co. are refused there);
 * one that does is reported like any other unexpected push.
 */
import type { Connection } from "../connection/connection.js";
import type { RespValue } from "../resp/types.js";

/**
 * Called with the keys of an `invalidate` push (`null`: the server flushed everything it
 * tracked for the connection, e.g. after FLUSHALL).
 */
export type InvalidationHandler = (keys: Buffer[] | null, connection: Connection) => void;

/** A push nobody handles, as the client's `push` event reports it. */
export interface UnroutedPush {
  /** `host:port` of the node that sent it. */
  address: string;
  /** Its first word, lower case (e.g. `"invalidate"`, `"tracking-redir-broken"`). */
  kind: string;
  /** The whole push frame, as decoded (its first element is the kind). */
  frame: RespValue[];
}

/**
 * The maintenance notifications of managed services (Redis Cloud / Redis Software "smart
 * client handoffs", Redis 8 cluster slot migrations), by their first word in lower case.
 */
export const MAINTENANCE_KINDS: ReadonlySet<string> = new Set([
  "moving",
  "migrating",
  "migrated",
  "failing_over",
  "failed_over",
  "smigrating",
  "smigrated",
]);

/**
 * Called with a maintenance notification (`kind` is one of {@link MAINTENANCE_KINDS}).
 * Returns false when the frame is not one it understands: it is then reported as an
 * unrouted push, like any other.
 */
export type MaintenanceHandler = (kind: string, frame: RespValue[], connection: Connection) => boolean;

/** Hands RESP3 pushes that are not about a subscription to the cache hook or the `push` event. */
export class PushRouter {
  #invalidation: InvalidationHandler | undefined;
  #maintenance: MaintenanceHandler | undefined;
  readonly #unrouted: (push: UnroutedPush) => void;
  /** Pushes nobody handled (for `stats()`). */
  unrouted = 0;

  /** @param unrouted receives every push nobody handles (the client emits `push` with it). */
  constructor(unrouted: (push: UnroutedPush) => void) {
    this.#unrouted = unrouted;
  }

  /**
   * Registers the handler of `invalidate` pushes (the client-side cache, issue 12); one at a
   * time. Returns a function that removes it.
   *
   * @example
   * const stop = pushes.onInvalidate((keys) => cache.drop(keys));
   */
  onInvalidate(handler: InvalidationHandler): () => void {
    this.#invalidation = handler;
    return () => {
      if (this.#invalidation === handler) this.#invalidation = undefined;
    };
  }

  /**
   * Registers the handler of maintenance notifications (cluster/maintenance.ts); one at a
   * time. Returns a function that removes it.
   *
   * @example
   * const stop = pushes.onMaintenance((kind, frame, connection) => maintenance.onPush(kind, frame, connection));
   */
  onMaintenance(handler: MaintenanceHandler): () => void {
    this.#maintenance = handler;
    return () => {
      if (this.#maintenance === handler) this.#maintenance = undefined;
    };
  }

  /** A push frame from `connection`. Never throws. */
  route(frame: RespValue[], connection: Connection): void {
    const kind = wordOf(frame[0]);
    const maintenance = this.#maintenance;
    if (maintenance !== undefined && MAINTENANCE_KINDS.has(kind)) {
      let handled = false;
      try {
        handled = maintenance(kind, frame, connection);
      } catch {
        // A bug in the handler must not break the connection that carried the push.
      }
      if (handled) return;
    }
    const handler = this.#invalidation;
    if (kind === "invalidate" && handler !== undefined) {
      const keys = frame[1];
      if (keys === null || (Array.isArray(keys) && keys.every((key) => Buffer.isBuffer(key)))) {
        try {
          handler(keys as Buffer[] | null, connection);
        } catch {
          // The cache's own failure must not break the connection that carried the push.
        }
        return;
      }
    }
    this.unrouted++;
    try {
      this.#unrouted({ address: connection.address, kind, frame });
    } catch {
      // A listener threw; the connection goes on.
    }
  }
}

function wordOf(value: RespValue | undefined): string {
  if (Buffer.isBuffer(value)) return value.toString("latin1").toLowerCase();
  return typeof value === "string" ? value.toLowerCase() : "";
}
