/**
 * The one place where a server error reply is read for its cluster meaning. The executor
 * acts on the result; nothing else looks at error message text.
 */
import { SLOT_COUNT } from "../command/slot.js";
import { parseAddress } from "../connection/address.js";
import type { ReplyError } from "../errors.js";

/** What an error reply means for the cluster: redirect, retry, or a final answer. */
export type ReplyOutcome =
  /** `MOVED <slot> <host:port>`: the slot lives elsewhere now; patch the table, retry there. */
  | { kind: "moved"; slot: number; host: string; port: number }
  /** `ASK <slot> <host:port>`: this key is mid-migration; ask the target once, table unchanged. */
  | { kind: "ask"; slot: number; host: string; port: number }
  /**
   * The server did not run the command and may later: `TRYAGAIN` (multi-key during a
   * migration), `CLUSTERDOWN`, `LOADING`, `MASTERDOWN`, `READONLY` (a write reached a primary
   * that was demoted), `UNBLOCKED` (a blocked call released because its primary was demoted:
   * it did nothing). `refresh` says whether the topology may have changed.
   */
  | { kind: "retry"; refresh: boolean; code: string }
  /** A real answer: the user gets it. */
  | { kind: "final" };

/** The outcome of every error reply that is the user's answer. */
export const FINAL_OUTCOME: ReplyOutcome = { kind: "final" };
const TRYAGAIN: ReplyOutcome = { kind: "retry", refresh: false, code: "TRYAGAIN" };
const CLUSTERDOWN: ReplyOutcome = { kind: "retry", refresh: true, code: "CLUSTERDOWN" };
const LOADING: ReplyOutcome = { kind: "retry", refresh: false, code: "LOADING" };
const MASTERDOWN: ReplyOutcome = { kind: "retry", refresh: true, code: "MASTERDOWN" };
const READONLY: ReplyOutcome = { kind: "retry", refresh: true, code: "READONLY" };
const UNBLOCKED: ReplyOutcome = { kind: "retry", refresh: true, code: "UNBLOCKED" };

/** Reads an error reply once for its cluster meaning (MOVED, ASK, a retryable code, or final). */
export function classifyReplyError(error: ReplyError): ReplyOutcome {
  switch (error.code) {
    case "MOVED":
    case "ASK":
      return parseRedirection(error) ?? FINAL_OUTCOME;
    case "TRYAGAIN":
      return TRYAGAIN;
    case "CLUSTERDOWN":
      return CLUSTERDOWN;
    case "LOADING":
      return LOADING;
    case "MASTERDOWN":
      return MASTERDOWN;
    case "READONLY":
      return READONLY;
    case "UNBLOCKED":
      // Only the server's own release ("instance state changed (master -> replica?)"); one
      // asked for with CLIENT UNBLOCK ... ERROR is the answer the user wanted.
      return error.message.includes("instance state changed") ? UNBLOCKED : FINAL_OUTCOME;
    default:
      return FINAL_OUTCOME;
  }
}

/**
 * `MOVED 3999 127.0.0.1:6381`, `ASK 3999 [::1]:6381`, or `MOVED 3999 :6381` (unknown
 * endpoint: an empty host, for which the caller uses the host it sent to).
 */
function parseRedirection(error: ReplyError): ReplyOutcome | undefined {
  const parts = error.message.split(" ");
  const slot = Number(parts[1]);
  const target = parts[2] === undefined ? undefined : parseAddress(parts[2]);
  if (target === undefined || !Number.isInteger(slot) || slot < 0 || slot >= SLOT_COUNT) return undefined;
  return { kind: error.code === "MOVED" ? "moved" : "ask", slot, host: target.host, port: target.port };
}
