/**
 * The dev cluster's own connection to its nodes: a small request/response client over
 * node:net (node:tls for a TLS cluster), built on the package's RESP encoder and decoder. It
 * speaks RESP2, sends commands in pipelines, and matches replies to requests in order (the
 * FIFO below). On an ACL cluster it authenticates first, as the dev cluster's admin user.
 *
 * It is deliberately simpler than the client's connection layer: no reconnect, no
 * handshake, no pub/sub. A request that times out destroys the connection (its reply
 * would otherwise be taken for the next request's); the pool makes a new one on next use.
 * Idle sockets are unref'd, so a handle that is never stopped does not keep a script alive.
 */
import { connect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import { formatAddress } from "../connection/address.js";
import { ClosedError, ConnectionError, ReplyError, TimeoutError } from "../errors.js";
import { CommandWriter, type RedisArg, RespDecoder, type RespValue } from "../resp/index.js";

/** One command as its words: `["CLUSTER", "SETSLOT", 42, "NODE", id]`. */
export type AdminCommand = readonly RedisArg[];

/** Options of one admin request. */
export interface AdminRequestOptions {
  /** Bulk strings of the replies as Buffers (keys of GETKEYSINSLOT may be binary). */
  buffers?: boolean;
  /** Default: the connection's own timeout. */
  timeoutMs?: number;
}

interface PendingReply {
  buffers: boolean;
  resolve(value: RespValue): void;
  reject(error: Error): void;
}

/** Where the nodes are and how to talk to them: the same for every node of a cluster. */
export interface AdminEndpoint {
  /** The loopback address the nodes listen on. */
  host: string;
  /** TLS, with the cluster's CA and a client certificate (PEM). */
  tls?: { ca: string; cert: string; key: string } | undefined;
  /** Sent as `AUTH <username> <password>` before anything else. */
  auth?: { username: string; password: string } | undefined;
}

const CONNECT_TIMEOUT_MS = 3_000;

/** One TCP connection to one node. */
export class AdminConnection {
  readonly port: number;
  readonly address: string;
  readonly #socket: Socket;
  readonly #writer = new CommandWriter();
  readonly #decoder: RespDecoder;
  readonly #pending: PendingReply[] = [];
  readonly #timeoutMs: number;
  #closedBy: Error | undefined;

  private constructor(port: number, address: string, socket: Socket, timeoutMs: number) {
    this.port = port;
    this.address = address;
    this.#socket = socket;
    this.#timeoutMs = timeoutMs;
    this.#decoder = new RespDecoder({
      wantsBuffers: () => this.#pending[0]?.buffers ?? false,
      onReply: (value) => this.#settleHead(value),
      onPush: () => {
        // RESP2 has no pushes; nothing subscribes on an admin connection.
      },
    });
    socket.on("data", (chunk: Buffer) => {
      try {
        this.#decoder.feed(chunk);
      } catch (error) {
        this.#fail(error as Error);
      }
    });
    socket.on("error", (error) =>
      this.#fail(new ConnectionError(error.message, this.address, { cause: error })),
    );
    socket.on("close", () => this.#fail(new ConnectionError("connection closed", this.address)));
    socket.unref();
  }

  /**
   * Opens a connection to `host:port` (TLS, AUTH as the endpoint says); `timeoutMs` bounds
   * each request, and `connectTimeoutMs` the connect (a paused node accepts the TCP
   * connection from its backlog but answers nothing, so requests need their own bound too).
   *
   * @example
   * const admin = await AdminConnection.open(7000, { host: "127.0.0.1" }, 10_000);
   * await admin.call(["PING"]); // "PONG"
   */
  static async open(
    port: number,
    endpoint: AdminEndpoint,
    timeoutMs: number,
    connectTimeoutMs = CONNECT_TIMEOUT_MS,
  ): Promise<AdminConnection> {
    const address = formatAddress(endpoint.host, port);
    const socket = await new Promise<Socket>((resolve, reject) => {
      const { host, tls } = endpoint;
      // The nodes' certificate names 127.0.0.1 and ::1, which Node checks against `host`.
      const socket = tls ? tlsConnect({ host, port, ...tls }) : connect({ host, port });
      socket.setNoDelay(true);
      const onError = (error: Error) => {
        clearTimeout(timer);
        socket.destroy();
        reject(new ConnectionError(`cannot connect to ${address}: ${error.message}`, address));
      };
      const timer = setTimeout(
        () => onError(new Error(`no answer within ${connectTimeoutMs} ms`)),
        connectTimeoutMs,
      );
      socket.once("error", onError);
      socket.once(tls ? "secureConnect" : "connect", () => {
        clearTimeout(timer);
        socket.off("error", onError);
        resolve(socket);
      });
    });
    const connection = new AdminConnection(port, address, socket, timeoutMs);
    if (endpoint.auth) {
      const { username, password } = endpoint.auth;
      const [reply] = await connection.pipeline([["AUTH", username, password]], {
        timeoutMs: CONNECT_TIMEOUT_MS,
      });
      if (reply instanceof ReplyError) {
        connection.close();
        // The server's message never repeats the password; ours names the user only.
        throw new ConnectionError(`AUTH as ${username} failed on ${address}: ${reply.message}`, address);
      }
    }
    return connection;
  }

  get closed(): boolean {
    return this.#closedBy !== undefined;
  }

  /**
   * Sends commands in one write and resolves with their replies in order. Error replies
   * are values here (`ReplyError`), not rejections: the caller looks at each.
   */
  pipeline(commands: readonly AdminCommand[], options: AdminRequestOptions = {}): Promise<RespValue[]> {
    if (this.#closedBy) return Promise.reject(new ClosedError(`connection to ${this.address} is closed`));
    if (commands.length === 0) return Promise.resolve([]);
    const buffers = options.buffers ?? false;
    try {
      for (const command of commands) this.#writer.write(String(command[0]), command.slice(1));
    } catch (error) {
      // An argument that cannot be sent: send none of the pipeline, so replies stay aligned.
      this.#writer.take();
      return Promise.reject(error);
    }
    const replies = commands.map(
      () => new Promise<RespValue>((resolve, reject) => this.#pending.push({ buffers, resolve, reject })),
    );
    const parts = this.#writer.take();
    this.#socket.write(parts.length === 1 ? parts[0]! : Buffer.concat(parts));
    this.#socket.ref();
    const timeoutMs = options.timeoutMs ?? this.#timeoutMs;
    const name = commands.length === 1 ? commandName(commands[0]!) : `pipeline of ${commands.length}`;
    const timer = setTimeout(() => this.#fail(new TimeoutError(name, 1, timeoutMs)), timeoutMs);
    return Promise.all(replies).finally(() => clearTimeout(timer));
  }

  /** Sends one command; an error reply rejects (with the command's name on it). */
  async call(command: AdminCommand, options?: AdminRequestOptions): Promise<RespValue> {
    const [reply] = await this.pipeline([command], options);
    if (reply instanceof ReplyError) {
      reply.command = commandName(command);
      throw reply;
    }
    return reply as RespValue;
  }

  close(): void {
    this.#fail(new ClosedError(`connection to ${this.address} was closed`));
  }

  #settleHead(value: RespValue): void {
    const head = this.#pending.shift();
    if (this.#pending.length === 0) this.#socket.unref();
    head?.resolve(value);
  }

  #fail(error: Error): void {
    if (!this.#closedBy) {
      this.#closedBy = error;
      this.#socket.destroy();
    }
    for (const pending of this.#pending.splice(0)) pending.reject(error);
  }
}

/** Connections to the nodes of one cluster, one per port, made on first use. */
export class AdminPool {
  readonly #connections = new Map<number, Promise<AdminConnection>>();
  readonly #timeoutMs: number;
  readonly #endpoint: AdminEndpoint;

  constructor(timeoutMs: number, endpoint: AdminEndpoint) {
    this.#timeoutMs = timeoutMs;
    this.#endpoint = endpoint;
  }

  /** The nodes' address and credentials (MIGRATE needs them too). */
  get endpoint(): AdminEndpoint {
    return this.#endpoint;
  }

  async connection(port: number): Promise<AdminConnection> {
    const existing = this.#connections.get(port);
    if (existing) {
      const connection = await existing.catch(() => undefined);
      if (connection && !connection.closed) return connection;
      if (this.#connections.get(port) !== existing) return this.connection(port);
    }
    const opening = AdminConnection.open(port, this.#endpoint, this.#timeoutMs);
    this.#connections.set(port, opening);
    opening.catch(() => {
      if (this.#connections.get(port) === opening) this.#connections.delete(port);
    });
    return opening;
  }

  async pipeline(
    port: number,
    commands: readonly AdminCommand[],
    options?: AdminRequestOptions,
  ): Promise<RespValue[]> {
    return (await this.connection(port)).pipeline(commands, options);
  }

  async call(port: number, command: AdminCommand, options?: AdminRequestOptions): Promise<RespValue> {
    return (await this.connection(port)).call(command, options);
  }

  /** Closes the connection to one node (it was killed, or removed). */
  drop(port: number): void {
    const existing = this.#connections.get(port);
    this.#connections.delete(port);
    existing?.then(
      (connection) => connection.close(),
      () => undefined,
    );
  }

  closeAll(): void {
    for (const port of [...this.#connections.keys()]) this.drop(port);
  }
}

/** `["CLUSTER", "SETSLOT", ...]` → `"CLUSTER SETSLOT"`: names only, never values. */
export function commandName(command: AdminCommand): string {
  const [name, sub] = command;
  const upper = String(name).toUpperCase();
  const containers = ["CLUSTER", "CONFIG", "CLIENT", "DEBUG", "SCRIPT", "FUNCTION", "MEMORY", "OBJECT"];
  return containers.includes(upper) && typeof sub === "string" ? `${upper} ${sub.toUpperCase()}` : upper;
}
