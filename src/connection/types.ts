import type { ConnectionOptions as TlsOptions } from "node:tls";
import type { RedisClusterError } from "../errors.js";
import type { DecoderLimits, RedisArg, RespValue } from "../resp/types.js";
import type { Connection } from "./connection.js";

/**
 * What a connection can send: the cluster layer's Command implements it, and so does the
 * small promise wrapper behind `Connection#command`. The connection calls exactly one of
 * `settle`, `fail` or `expire` per send.
 */
export interface Sendable {
  /** The command's first token as sent, e.g. `"GET"` or `"CLUSTER"`. */
  readonly name: string;
  /** The remaining arguments, e.g. `["SHARDS"]`. */
  readonly args: readonly RedisArg[];
  /** Decode this command's bulk replies as Buffers instead of strings. */
  readonly wantsBuffers: boolean;
  /** `performance.now()` time after which nobody waits for the reply; `Infinity` for none. */
  readonly deadlineAt: number;
  /** The server answered (an error reply arrives as a `ReplyError` value, not a failure). */
  settle(value: RespValue, connection: Connection): void;
  /**
   * No answer will come: the connection failed or was closed. `written` is true when the
   * command had been handed to the socket, so the server may have executed it.
   */
  fail(error: RedisClusterError, written: boolean, connection: Connection): void;
  /** `deadlineAt` passed before the answer came. The connection drops the late reply. */
  expire(connection: Connection): void;
  /**
   * Moves `deadlineAt` to `atLeast` if that is later (a maintenance window on the node:
   * cluster/maintenance.ts). Absent: the deadline stays as it is.
   */
  relaxDeadline?(atLeast: number): void;
}

/**
 * The address form a `MOVING` maintenance notification should give the new endpoint in
 * (`CLIENT MAINT_NOTIFICATIONS ON moving-endpoint-type <type>`); `"none"`: no address (the
 * client reconnects to the address it has).
 */
export type MovingEndpointType = "internal-ip" | "internal-fqdn" | "external-ip" | "external-fqdn" | "none";

/** What a connection authenticates with: `AUTH [username] password` (or in `HELLO`). */
export interface Credentials {
  /** ACL user name; the `default` user when absent. */
  username?: string | undefined;
  /** The password (or token); never printed in errors, logs or events. */
  password: string;
}

/** Gives the credentials for one new connection; called on every (re)connect. */
export type CredentialsProvider = () => Credentials | Promise<Credentials>;

/** How to reach and talk to one node. Durations in milliseconds. */
export interface ConnectionOptions {
  /** The server's host name or IP literal (IPv6 without brackets). */
  host: string;
  /** The server's port. */
  port: number;
  /**
   * The node's name (`host:port` as the topology has it) when the connection goes elsewhere —
   * an endpoint a `MOVING` notification announced. Default: `host:port`.
   */
  address?: string | undefined;
  /** TLS options, or true for TLS with Node's defaults. */
  tls?: TlsOptions | boolean | undefined;
  /**
   * The TLS server name (SNI, and the name the certificate must have): the node's hostname
   * from CLUSTER SHARDS. Default: `host`, unless it is an IP address (SNI takes no IPs).
   * `tls.servername` overrides both.
   */
  servername?: string | undefined;
  /** Give up connecting (TCP + TLS + handshake) after this long. Default 2000. */
  connectTimeoutMs?: number;
  /** ACL user name (default user when only a password is given). */
  username?: string | undefined;
  /** The password (or token); never printed in errors, logs or events. */
  password?: string | undefined;
  /**
   * Asked for the credentials on every new socket, instead of `username`/`password` (for
   * rotating tokens). A throw or rejection fails the connection with an `AuthError`.
   */
  credentials?: CredentialsProvider | undefined;
  /**
   * Asked before each socket is opened: an error refuses the connection (commands fail
   * with it, unsent), so that nothing — credentials included — goes to that host.
   */
  refuseConnection?: ((host: string, port: number) => RedisClusterError | undefined) | undefined;
  /** RESP protocol version; 3 sends `HELLO 3`. Default 2. */
  protocol?: 2 | 3;
  /** Sent as `CLIENT SETNAME` (or in HELLO), visible in `CLIENT LIST`. */
  clientName?: string | undefined;
  /**
   * Ask the server for maintenance notifications (RESP3 pushes of managed services) in the
   * handshake, after `HELLO 3`: `CLIENT MAINT_NOTIFICATIONS ON moving-endpoint-type <type>`.
   * `"auto"` picks the type from the connection: TLS → `*-fqdn`, else `*-ip`; `internal-*`
   * when the node's IP is private or loopback. A server that does not know the command
   * refuses it and the connection goes on without. Not sent over RESP2.
   */
  maintenanceNotifications?: MovingEndpointType | "auto" | undefined;
  /**
   * Addresses whose server refused `CLIENT MAINT_NOTIFICATIONS`, shared by a client's
   * connections: their later connections (dedicated ones, reconnects after an idle close) do
   * not ask again, so that a server without the command does not log an error per
   * connection. A socket lost (not closed by us) takes its address out: the node may have
   * restarted as a version that has the command.
   */
  maintenanceRefusedBy?: Set<string> | undefined;
  /**
   * Send `CLIENT TRACKING` with these arguments (e.g. `["ON"]`, `["ON", "BCAST", "PREFIX", "a:"]`)
   * after connecting, for the client-side cache; needs `protocol: 3` (a server without RESP3
   * fails the connection rather than track without pushes).
   */
  tracking?: readonly RedisArg[] | undefined;
  /** Send `READONLY` after connecting: this connection serves reads from a replica. */
  readOnly?: boolean;
  /** Close the socket after this long without traffic and no command pending; 0 = never. Default 0. */
  idleTimeoutMs?: number;
  /**
   * Commands in flight at once (written, awaiting replies). Further sends wait, unencoded,
   * until replies drain: this bounds socket buffers and the server's output buffer. Default 10000.
   */
  maxInFlight?: number;
  /**
   * Commands that may wait (while connecting, or past `maxInFlight`); past it a command
   * fails at once with `ConnectionError`, unsent, so the caller may retry it elsewhere or
   * later. Bounds memory when a node is slow or unreachable. Default 100000.
   */
  maxWaiting?: number;
  /** First reconnect delay after a failure; doubles per failure up to `reconnectMaxDelayMs`. Default 50. */
  reconnectBaseDelayMs?: number;
  /** Longest reconnect delay. Default 2000. */
  reconnectMaxDelayMs?: number;
  /**
   * When the oldest in-flight command passes its deadline and nothing at all was read for
   * this long, the connection is considered dead and reset. Default 5000.
   */
  stallTimeoutMs?: number;
  /**
   * Gather the commands sent in one tick into one write (default true). False writes each
   * command at once: lower latency for a lone command, far more system calls under load.
   */
  coalesceWrites?: boolean;
  /** Limits against hostile replies. */
  decoderLimits?: Partial<DecoderLimits> | undefined;
  /** RESP3 push frames (pub/sub messages, client-side cache invalidations). */
  onPush?: ((frame: RespValue[], connection: Connection) => void) | undefined;
  /**
   * Makes this a subscriber connection (src/pubsub): every frame the server sends, reply or
   * RESP3 push (`isPush`), is offered here first, with the command at the head of the
   * in-flight FIFO. Return true when the frame answers that command (the connection then
   * settles it as usual, or fails as for any unasked reply); false when it was an event (a
   * message, the server's own unsubscribe) that this function has taken. Bulk strings are
   * always Buffers on such a connection; `onPush` is not called.
   */
  routeFrame?:
    | ((frame: RespValue, isPush: boolean, head: Sendable | undefined, connection: Connection) => boolean)
    | undefined;
  /** The socket closed (error set when it failed rather than closed on request). */
  onDisconnect?: ((error: RedisClusterError | undefined, connection: Connection) => void) | undefined;
  /** A new socket finished its handshake. */
  onReady?: ((connection: Connection) => void) | undefined;
}

/** The states of a `Connection` (see `Connection.state`). */
export type ConnectionState = "idle" | "connecting" | "ready" | "closing" | "closed";
