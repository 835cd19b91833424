/**
 * One connection to one Redis node: a socket at a time, replaced after failures with a
 * bounded, growing delay.
 *
 * Commands pass through two queues:
 *
 * ```
 *  send() ──► waiting ──(ready, under maxInFlight)──► writer bytes ──(flush, once a tick)──► socket
 *             (not encoded)                           inFlight: [ written ... | unflushed ]
 *                                                                ▲ replies settle the head
 * ```
 *
 * - `inFlight` holds, in order, every command whose bytes are in the writer or on the wire;
 *   its last `unflushed` entries are still in the writer (never handed to the socket), which is
 *   how a failure tells "may have executed" from "never sent".
 * - A command whose deadline passes while in flight is replaced by a tombstone, so that its
 *   late reply is read and dropped and the FIFO stays aligned with the server's replies.
 * - A unit (`sendUnit`: ASKING + a command, MULTI … EXEC) waits as one entry and is encoded
 *   whole, back to back, in one write: nothing of another caller comes between its parts,
 *   `maxInFlight` never splits it, and it expires as one, at its earliest part's deadline.
 * - The handshake (HELLO/AUTH, CLIENT SETNAME, READONLY) goes first on each new socket; user
 *   commands wait until it has succeeded, so nothing runs unauthenticated. The server's text
 *   of a failed step that carried credentials is never copied (it may echo them: "unknown
 *   command 'HELLO', with args beginning with: ... '<password>'"). A server without `HELLO`
 *   gets `AUTH` instead, and the connection speaks RESP2.
 * - The socket opens on demand, only to an address that is well formed and that
 *   `refuseConnection` (the client's `connectTo` allow-list) lets through. After a failure,
 *   the next attempt is held back by a delay that doubles per failure (with jitter, up to
 *   `reconnectMaxDelayMs`); a command sent during that delay fails at once with the last
 *   failure, as never sent, rather than wait for a node that is probably down — the cluster
 *   layer retries it where the topology says. The failure count is cleared only by a socket
 *   that answered (a successful handshake, or a first byte when there is none), so a node
 *   that accepts and then resets is backed off like one that refuses.
 * - Memory is bounded per connection: `maxWaiting` commands at most wait unencoded, the
 *   decoder's limits bound a reply, and the reply of a command that expired is not
 *   accumulated past {@link EXPIRED_REPLY_MAX_BYTES}: the connection is reset instead. A
 *   closed connection releases its decoder's buffers.
 */
import { connect as netConnect, type Socket } from "node:net";
import { connect as tlsConnect } from "node:tls";
import {
  AuthError,
  ClosedError,
  ConnectionError,
  ProtocolError,
  type RedisClusterError,
  ReplyError,
  TimeoutError,
} from "../errors.js";
import {
  type ConnectTraceContext,
  finishConnect,
  publishConnectionClosed,
  publishConnectionReady,
  startConnectTrace,
} from "../observe/channels.js";
import { RespDecoder } from "../resp/decoder.js";
import { CommandWriter } from "../resp/encoder.js";
import type { RedisArg, ReplyHandler, RespValue } from "../resp/types.js";
import { formatAddress, isValidAddress } from "./address.js";
import { Queue } from "./queue.js";
import type {
  ConnectionOptions,
  ConnectionState,
  Credentials,
  MovingEndpointType,
  Sendable,
} from "./types.js";

/** After a graceful close, how long an ended socket may wait for the server's FIN. */
const CLOSE_GRACE_MS = 1000;

/** Flush at once, without waiting for the end of the tick, past this many pending bytes. */
const FLUSH_THRESHOLD_BYTES = 64 * 1024;

/**
 * The most a connection buffers of a reply nobody waits for (its command expired): past
 * this the connection is reset rather than read a large reply only to drop it (issue 17.5).
 */
export const EXPIRED_REPLY_MAX_BYTES = 1024 * 1024;

/**
 * What every plain TCP socket of the process reads into (`onread`), instead of a fresh
 * ArrayBuffer per read. Sharing one is safe: Node runs a socket's read callback
 * synchronously after each read, one at a time, and the decoder copies what it keeps past
 * the callback. Besides the allocation, this spares V8 the external memory of a buffer per
 * read, which it counts towards full collections (issue 18: W6's RSS after 1M GETs 86.6 →
 * 84.6 MB).
 */
const SHARED_READ_BUFFER = Buffer.allocUnsafeSlow(64 * 1024);

/** The longest delay a Node timer takes; longer ones fire after 1 ms, with a warning. */
const MAX_TIMER_DELAY_MS = 2 ** 31 - 1;

const DEFAULTS = {
  connectTimeoutMs: 2000,
  protocol: 2 as 2 | 3,
  readOnly: false,
  idleTimeoutMs: 0,
  maxInFlight: 10_000,
  maxWaiting: 100_000,
  reconnectBaseDelayMs: 50,
  reconnectMaxDelayMs: 2000,
  stallTimeoutMs: 5000,
  coalesceWrites: true,
};

/** Stands in the in-flight FIFO for a command that expired: its late reply is dropped. */
const TOMBSTONE: Sendable = {
  name: "",
  args: [],
  wantsBuffers: false,
  deadlineAt: Number.POSITIVE_INFINITY,
  settle() {},
  fail() {},
  expire() {},
};

/**
 * A connection to one Redis node. Commands sent in the same tick go out in one write.
 *
 * @example
 * const connection = new Connection({ host: "127.0.0.1", port: 7001 });
 * await connection.command("SET", "k", "v"); // "OK"
 * await connection.close();
 */
export class Connection {
  /** `host:port` (IPv6 hosts in brackets). */
  readonly address: string;
  /** The host as given in the options. */
  readonly host: string;
  /** The port as given in the options. */
  readonly port: number;
  // Private: it holds the password, which must never show in a log of this object.
  readonly #options: Readonly<ConnectionOptions & typeof DEFAULTS>;

  #state: ConnectionState = "idle";
  #socket: Socket | undefined;
  /** Changes whenever a socket is attached or detached: see `socketEpoch`. */
  #socketEpoch = 0;
  #decoder: RespDecoder;
  #writer = new CommandWriter();
  #inFlight = new Queue<Sendable>(64);
  #unflushed = 0;
  #waiting = new Queue<Sendable>(16);
  #handshakeRemaining = 0;
  #flushScheduled = false;
  #flushTask = () => this.#flush();

  #connectFailures = 0;
  /**
   * Whether the current socket has delivered a byte. A socket that is "ready" without having
   * answered anything (no handshake steps) has not proven the node accepts us: a TLS 1.3
   * server checks the client certificate after the client's handshake is done, and a TLS
   * port closes on a plain-text client after its first write. Such a failure counts as a
   * failed connect, so the reconnect delay grows instead of retrying every 50 ms.
   */
  #socketAnswered = false;
  #connectAllowedAt = 0;
  #connectTimer: NodeJS.Timeout | undefined;
  /** Why the last socket failed, while reconnecting is held back (commands fail with it). */
  #lastFailure: RedisClusterError | undefined;
  /** Bumped when the handshake restarts on the same socket: older steps' replies are dropped. */
  #handshakeGeneration = 0;
  /**
   * The server lacks HELLO (or RESP3): the handshake uses AUTH, the connection RESP2 — until
   * a socket is lost (the node may come back upgraded).
   */
  #helloUnsupported = false;

  #deadlineTimer: NodeJS.Timeout | undefined;
  #deadlineArmedAt = Number.POSITIVE_INFINITY;
  #deadlineTask = () => this.#checkDeadlines();
  /** When this socket last read anything (or, before its first byte, when it was opened). */
  #lastReadAt = 0;

  #closeWaiters: Array<() => void> = [];
  /** The `rediscluster:connect` trace of the socket opening, while someone listens (observe/). */
  #connectTrace: ConnectTraceContext | undefined;

  constructor(options: ConnectionOptions) {
    this.#options = { ...DEFAULTS, ...stripUndefined(options) };
    this.host = options.host;
    this.port = options.port;
    this.address = options.address ?? formatAddress(options.host, options.port);
    const routeFrame = options.routeFrame;
    const handler: ReplyHandler =
      routeFrame === undefined
        ? {
            wantsBuffers: () => this.#inFlight.peek()?.wantsBuffers ?? false,
            onReply: (value) => this.#onReply(value),
            onPush: (frame) => this.#options.onPush?.(frame, this),
          }
        : {
            // A subscriber connection (src/pubsub): messages arrive unasked and must stay
            // binary-safe whatever the head of the FIFO wants, so everything is a Buffer.
            wantsBuffers: () => true,
            onReply: (value) => {
              if (routeFrame(value, false, this.#inFlight.peek(), this)) this.#onReply(value);
            },
            onPush: (frame) => {
              if (routeFrame(frame, true, this.#inFlight.peek(), this)) this.#onReply(frame);
            },
          };
    this.#decoder = new RespDecoder(handler, options.decoderLimits);
  }

  /** Where the connection is in its life: `idle` (no socket: not opened yet, closed after `idleTimeoutMs`, or lost; the next command opens one), `connecting`, `ready`, `closing`, `closed`. */
  get state(): ConnectionState {
    return this.#state;
  }

  /**
   * Changes whenever a socket is opened or goes away: two equal readings mean the same socket
   * was open throughout. What the server keeps per connection (the keys `CLIENT TRACKING`
   * tracks for the client-side cache) lives exactly that long.
   */
  get socketEpoch(): number {
    return this.#socketEpoch;
  }

  /** Commands written or about to be, awaiting replies. */
  get inFlightCount(): number {
    return this.#inFlight.length;
  }

  /** Commands queued before the connection is ready or while `maxInFlight` is reached. */
  get waitingCount(): number {
    return this.#waiting.length;
  }

  /**
   * Bytes read of a reply still arriving (0 between replies): what this connection holds
   * for it. Bounded by `decoderLimits.maxReplyBytes`, and by `EXPIRED_REPLY_MAX_BYTES` (1 MiB)
   * (plus one socket read) once nobody waits for that reply.
   */
  get bufferedReplyBytes(): number {
    return this.#decoder.partialReplyBytes;
  }

  /**
   * Queues a command; it is written with everything else sent in this tick. Connects first
   * when needed. Never throws: every outcome goes to the command's callbacks.
   */
  send(command: Sendable): void {
    this.#queue(command);
  }

  /**
   * Sends `ASKING` immediately followed by `command`, as one unit: the server applies ASKING
   * to the next command only, so nothing may come between the two.
   */
  sendAsking(command: Sendable): void {
    this.#queue(new SendUnit([command], true));
  }

  /**
   * Sends `parts` back to back, as one unit (preceded by `ASKING` when `asking`): nothing
   * another caller sends comes between them, `maxInFlight` does not split them (the unit may
   * end over the limit), and they are written in one write. For what the server reads as one
   * request spread over several commands: `MULTI` … `EXEC` (ASKING's flag lasts until EXEC).
   * Each part gets its own reply. Should one part fail to encode, none is sent: every part
   * fails with that error.
   *
   * @example
   * connection.sendUnit([multi, set, incr, exec], false);
   */
  sendUnit(parts: readonly Sendable[], asking = false): void {
    if (parts.length > 0) this.#queue(new SendUnit(parts, asking));
  }

  #queue(command: Sendable): void {
    if (this.#state === "closing" || this.#state === "closed") {
      command.fail(new ClosedError(`connection to ${this.address} is closed`), false, this);
      return;
    }
    if (this.#state === "idle" && !this.#connectNow(command)) return;
    if (
      this.#state === "ready" &&
      this.#waiting.length === 0 &&
      this.#inFlight.length < this.#options.maxInFlight
    ) {
      // A unit goes at once, whole (it may end over the limit): never split.
      if (command instanceof SendUnit) this.#encodeUnit(command);
      else this.#encode(command);
    } else {
      if (this.#waiting.length >= this.#options.maxWaiting) {
        command.fail(
          new ConnectionError(
            `${this.#waiting.length} commands already wait for ${this.address} (maxQueuedPerNode); ` +
              "the node is slow or unreachable, or the application sends faster than it answers",
            this.address,
          ),
          false,
          this,
        );
        return;
      }
      this.#waiting.push(command);
    }
    if (command.deadlineAt < this.#deadlineArmedAt) this.#armDeadline(command.deadlineAt);
  }

  /**
   * Drops the current socket (its pending commands fail with `ConnectionError`) and
   * reconnects on the next command. For a node that redirects to itself, which managed
   * services do before closing a connection.
   */
  reset(reason: string): void {
    const socket = this.#socket;
    if (socket === undefined || this.#state === "closed") return;
    this.#onSocketClosed(new ConnectionError(`connection to ${this.address} reset: ${reason}`, this.address));
    socket.destroy();
  }

  /**
   * Sends one command and resolves with its reply; an error reply rejects with `ReplyError`.
   * For tools and tests; the cluster client uses `send`.
   */
  command(name: string, ...args: RedisArg[]): Promise<RespValue> {
    return this.request(name, args);
  }

  /** Like `command`, with options: a timeout (default `stallTimeoutMs`) and Buffer replies. */
  request(
    name: string,
    args: readonly RedisArg[],
    options: { timeoutMs?: number; buffers?: boolean } = {},
  ): Promise<RespValue> {
    const timeoutMs = options.timeoutMs ?? this.#options.stallTimeoutMs;
    return new Promise((resolve, reject) => {
      this.send(new PromiseCommand(name, args, options.buffers ?? false, timeoutMs, resolve, reject));
    });
  }

  /** Opens the socket now rather than on the first command. Resolves once ready. */
  connect(): Promise<void> {
    if (this.#state === "ready") return Promise.resolve();
    return this.command("PING").then(() => undefined);
  }

  /**
   * Graceful close: refuses new commands, waits for those pending to be answered, then
   * closes the socket.
   */
  close(): Promise<void> {
    if (this.#state === "closed") return Promise.resolve();
    const closed = new Promise<void>((resolve) => this.#closeWaiters.push(resolve));
    if (this.#state === "idle") {
      this.#failWaiting(new ClosedError(`connection to ${this.address} closed`));
      this.#finishClose();
      return closed;
    }
    this.#state = "closing";
    this.#endIfDrained();
    return closed;
  }

  /** Closes at once: every pending command rejects with `ClosedError`. */
  destroy(error: RedisClusterError = new ClosedError(`connection to ${this.address} destroyed`)): void {
    if (this.#state === "closed") return;
    this.#state = "closed";
    const socket = this.#socket;
    this.#socket = undefined; // its 'close' event is ours, not a failure to report
    this.#socketEpoch++;
    this.#teardown(error, error);
    socket?.destroy();
    if (socket !== undefined) this.#publishClosedByUs(error);
    this.#finishClose();
  }

  // ── connecting ────────────────────────────────────────────────────────────────────────

  /**
   * Opens a socket for a command arriving while idle — unless the last attempt failed less
   * than the reconnect delay ago: then the command fails at once (never sent, so the caller
   * may retry elsewhere) instead of waiting for a node that is probably down.
   */
  #connectNow(command: Sendable): boolean {
    const waitMs = this.#connectAllowedAt - performance.now();
    if (waitMs > 0 && this.#lastFailure !== undefined) {
      command.fail(this.#lastFailure, false, this);
      return false;
    }
    const refusal = this.#refusal() ?? this.#openSocket();
    if (refusal !== undefined) {
      command.fail(refusal, false, this);
      return false;
    }
    return true;
  }

  /** Why no socket may be opened to this address, if so: checked before every connect. */
  #refusal(): RedisClusterError | undefined {
    const { host, port } = this.#options;
    if (!isValidAddress({ host, port })) {
      // From a hostile topology or a natMap bug: net.connect would throw (issue 17.2).
      return new ConnectionError(
        `${this.address} is not a valid address (host must be non-empty, port 1-65535)`,
        this.address,
      );
    }
    return this.#options.refuseConnection?.(host, port);
  }

  /** Opens a socket; returns the error when Node refuses the options at once (bad TLS options). */
  #openSocket(): RedisClusterError | undefined {
    const { host, port, tls, connectTimeoutMs, servername } = this.#options;
    let socket: Socket;
    // Plain TCP reads into the one buffer all connections share (see SHARED_READ_BUFFER);
    // TLS sockets have no `onread` and hand out fresh chunks as 'data' events.
    const onRead = (bytes: number): boolean => {
      const chunk =
        bytes === SHARED_READ_BUFFER.length ? SHARED_READ_BUFFER : SHARED_READ_BUFFER.subarray(0, bytes);
      this.#onBytes(socket, chunk, true);
      return true; // keep reading
    };
    try {
      socket = tls
        ? tlsConnect({
            host,
            port,
            // Node refuses an IP address as SNI; the certificate is then checked against `host`.
            servername: [servername, host].find((name) => name !== undefined && !isIp(name)),
            ...(tls === true ? {} : tls),
          })
        : netConnect({ host, port, onread: { buffer: SHARED_READ_BUFFER, callback: onRead } });
    } catch (error) {
      // A configuration error (e.g. tls.ca of the wrong type): it will not get better.
      const failure = new ConnectionError(
        `cannot connect to ${this.address}: ${tls ? "the tls options are invalid" : "invalid connection options"} (${errorCode(error)})`,
        this.address,
        { cause: error },
      );
      this.#backOff(failure);
      return failure;
    }
    // A close() requested while waiting to reconnect still connects, to drain what waits.
    if (this.#state !== "closing") this.#state = "connecting";
    this.#socket = socket;
    this.#socketEpoch++;
    // Quiet from now, when the first command waiting for this socket asked for it — not from
    // the end of the connect: a node that accepts and then says nothing is stalled from the
    // start (counting from the connect, its first commands' deadlines came just too early).
    this.#lastReadAt = performance.now();
    this.#socketAnswered = false;
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 15_000);
    this.#decoder.reset();
    this.#connectTrace = startConnectTrace(host, port, this.address, tls !== undefined && tls !== false);

    let failure: RedisClusterError | undefined;
    this.#connectTimer = setTimeout(() => {
      failure = new ConnectionError(
        `connecting to ${this.address} timed out after ${connectTimeoutMs} ms`,
        this.address,
      );
      socket.destroy();
    }, connectTimeoutMs);
    this.#connectTimer.unref();

    socket.once(tls ? "secureConnect" : "connect", () => {
      if (socket === this.#socket) this.#startHandshake(socket);
    });
    if (tls) socket.on("data", (chunk: Buffer) => this.#onBytes(socket, chunk, false));
    socket.on("error", (error: NodeJS.ErrnoException) => {
      const context = { tls: tls !== undefined && tls !== false, answered: this.#socketAnswered };
      failure ??= new ConnectionError(describeSocketError(error, this.address, context), this.address, {
        cause: error,
      });
    });
    socket.on("timeout", () => this.#onIdle(socket));
    socket.on("close", () => {
      if (socket !== this.#socket) return;
      this.#onSocketClosed(
        failure ?? new ConnectionError(`connection to ${this.address} closed by the server`, this.address),
      );
    });
  }

  /**
   * Bytes read from `socket`. `transient`: they are in the shared read buffer, which the next
   * read on any connection overwrites, so the decoder copies whatever it keeps.
   */
  #onBytes(socket: Socket, chunk: Buffer, transient: boolean): void {
    if (socket !== this.#socket) return;
    this.#lastReadAt = performance.now();
    if (!this.#socketAnswered) {
      this.#socketAnswered = true;
      if (this.#state === "ready") this.#connectFailures = 0;
    }
    try {
      this.#decoder.feed(chunk, transient);
    } catch (error) {
      // Done with this socket now, not at its 'close' event: a command sent meanwhile must
      // not be queued behind the broken stream (and later counted as written).
      if (socket === this.#socket) this.#onSocketClosed(this.#asProtocolError(error));
      socket.destroy();
      return;
    }
    if (this.#inFlight.peek() === TOMBSTONE) this.#dropExpiredReplyIfLarge();
  }

  /** Sends the handshake on a socket just connected (asking the credentials provider first). */
  #startHandshake(socket: Socket): void {
    const { credentials, username, password } = this.#options;
    if (credentials === undefined) {
      this.#sendHandshake(password === undefined ? undefined : { username, password });
      return;
    }
    let provided: Promise<Credentials>;
    try {
      provided = Promise.resolve(credentials());
    } catch (error) {
      provided = Promise.reject(error);
    }
    provided.then(
      (value) => {
        if (socket !== this.#socket) return; // timed out or closed meanwhile
        if (!isCredentials(value)) {
          this.#failHandshake(
            new AuthError(
              `the credentials provider gave no { username?, password } (strings) for ${this.address}`,
              this.address,
            ),
          );
          return;
        }
        this.#sendHandshake(value);
      },
      (error: unknown) => {
        if (socket !== this.#socket) return;
        this.#failHandshake(
          new AuthError(`the credentials provider failed for ${this.address}`, this.address, {
            cause: error,
          }),
        );
      },
    );
  }

  #sendHandshake(credentials: Credentials | undefined): void {
    const steps = this.#handshakeSteps(credentials);
    if (steps.length === 0) {
      this.#handshakeRemaining = 0;
      this.#onReady();
      return;
    }
    const generation = ++this.#handshakeGeneration;
    this.#handshakeRemaining = steps.length;
    for (const [name, args, carriesCredentials, optional] of steps) {
      this.#encode(
        new HandshakeStep(name, args, carriesCredentials, generation, credentials, this, optional === true),
      );
    }
    this.#flush();
  }

  /** `[name, args, carries credentials, optional]` of each handshake step. */
  #handshakeSteps(credentials: Credentials | undefined): Array<[string, RedisArg[], boolean, boolean?]> {
    const { protocol, clientName, readOnly, maintenanceNotifications, maintenanceRefusedBy, tracking } =
      this.#options;
    const steps: Array<[string, RedisArg[], boolean, boolean?]> = [];
    if (protocol === 3 && !this.#helloUnsupported) {
      const hello: RedisArg[] = ["3"];
      if (credentials !== undefined)
        hello.push("AUTH", credentials.username ?? "default", credentials.password);
      if (clientName !== undefined) hello.push("SETNAME", clientName);
      steps.push(["HELLO", hello, credentials !== undefined]);
      if (maintenanceNotifications !== undefined && maintenanceRefusedBy?.has(this.address) !== true) {
        // Optional: servers without it (open-source Redis < 8, Valkey) say ERR, and that is fine.
        const type = maintenanceNotifications === "auto" ? this.#endpointType() : maintenanceNotifications;
        steps.push(["CLIENT", ["MAINT_NOTIFICATIONS", "ON", "moving-endpoint-type", type], false, true]);
      }
    } else {
      if (credentials !== undefined) {
        const { username, password } = credentials;
        steps.push(["AUTH", username === undefined ? [password] : [username, password], true]);
      }
      if (clientName !== undefined) steps.push(["CLIENT", ["SETNAME", clientName], false]);
    }
    if (tracking !== undefined) steps.push(["CLIENT", ["TRACKING", ...tracking], false]);
    if (readOnly) steps.push(["READONLY", [], false]);
    return steps;
  }

  /** @internal Called by HandshakeStep with each handshake reply. */
  handshakeReply(step: HandshakeStep, value: RespValue): void {
    if (step.generation !== this.#handshakeGeneration) return; // a step of a restarted handshake
    // The one optional step is CLIENT MAINT_NOTIFICATIONS: refused, it is not asked again
    // here until a socket to this node is lost (see #onSocketClosed).
    if (value instanceof ReplyError && step.optional) this.#options.maintenanceRefusedBy?.add(this.address);
    if (value instanceof ReplyError && !step.optional) {
      if (step.name === "HELLO" && this.#options.tracking !== undefined && lacksHello(value)) {
        // Tracking without RESP3 pushes would never tell us of a change: no cache on RESP2.
        this.#failHandshake(
          new ConnectionError(
            `${this.address} does not speak RESP3 (${value.code} to HELLO 3); clientCache needs Redis 6 or later`,
            this.address,
            { cause: value },
          ),
        );
        return;
      }
      if (step.name === "HELLO" && !this.#helloUnsupported && lacksHello(value)) {
        // Redis < 6 (or HELLO renamed away): authenticate with AUTH, speak RESP2. The steps
        // already sent after HELLO answer too; their replies belong to the old generation.
        this.#helloUnsupported = true;
        this.#sendHandshake(step.credentials);
        return;
      }
      this.#failHandshake(handshakeFailure(step, value, this.address));
      return;
    }
    if (--this.#handshakeRemaining === 0) this.#onReady();
  }

  /**
   * The `moving-endpoint-type` to ask for: the address form this client reaches the node by
   * (a name under TLS, whose certificate names it; an IP otherwise), internal when the node's
   * IP (as connected) is private, loopback or link-local.
   */
  #endpointType(): MovingEndpointType {
    const remote = this.#socket?.remoteAddress ?? this.host;
    const scope = isPrivateAddress(remote) ? "internal" : "external";
    return this.#options.tls ? `${scope}-fqdn` : `${scope}-ip`;
  }

  /**
   * Gives every command in flight or waiting here at least until `atLeast` (a
   * `performance.now()` time): a maintenance window on the node (cluster/maintenance.ts).
   * Deadlines only move later; the deadline timer, armed at the earliest, finds them later.
   */
  relaxDeadlines(atLeast: number): void {
    for (let i = 0; i < this.#inFlight.length; i++) this.#inFlight.at(i)!.relaxDeadline?.(atLeast);
    for (let i = 0; i < this.#waiting.length; i++) this.#waiting.at(i)!.relaxDeadline?.(atLeast);
  }

  #failHandshake(failure: RedisClusterError): void {
    const socket = this.#socket;
    this.#onSocketClosed(failure);
    socket?.destroy();
  }

  /** The socket may take commands. */
  #onReady(): void {
    const socket = this.#socket;
    if (!socket) return;
    clearTimeout(this.#connectTimer);
    // Reset only once the node has answered (see #socketAnswered); else at its first reply.
    if (this.#socketAnswered) this.#connectFailures = 0;
    this.#lastFailure = undefined;
    if (this.#options.idleTimeoutMs > 0) socket.setTimeout(this.#options.idleTimeoutMs);
    if (this.#state === "connecting") this.#state = "ready";
    else if (this.#state !== "closing") return;
    this.#endConnectTrace(undefined);
    publishConnectionReady(this.host, this.port, this.address);
    this.#options.onReady?.(this);
    this.#drainWaiting();
    this.#endIfDrained();
  }

  #onIdle(socket: Socket): void {
    if (socket !== this.#socket || this.#inFlight.length > 0 || this.#waiting.length > 0) return;
    // Expected close: no error, no backoff; the next command reconnects.
    this.#socket = undefined;
    this.#socketEpoch++;
    this.#state = "idle";
    socket.end();
    publishConnectionClosed(this.host, this.port, this.address, "idle", undefined);
    this.#options.onDisconnect?.(undefined, this);
  }

  /** Ends the `rediscluster:connect` trace of the socket, if one is open. */
  #endConnectTrace(error: RedisClusterError | undefined): void {
    const trace = this.#connectTrace;
    if (trace === undefined) return;
    this.#connectTrace = undefined;
    finishConnect(trace, error);
  }

  // ── writing ───────────────────────────────────────────────────────────────────────────

  #encode(command: Sendable): void {
    try {
      this.#writer.write(command.name, command.args);
    } catch (error) {
      command.fail(error as RedisClusterError, false, this);
      return;
    }
    this.#inFlight.push(command);
    this.#unflushed++;
    this.#scheduleFlush();
  }

  /** Encodes every part of a unit, or (one failing to encode) none of them. */
  #encodeUnit(unit: SendUnit): void {
    const checkpoint = this.#writer.checkpoint();
    try {
      if (unit.asking) this.#writer.write(ASKING.name, ASKING.args);
      for (const part of unit.parts) this.#writer.write(part.name, part.args);
    } catch (error) {
      // Half a unit must never reach the server (MULTI without its EXEC would leave the
      // connection queueing every later caller's commands).
      this.#writer.restore(checkpoint);
      unit.fail(error as RedisClusterError, false, this);
      return;
    }
    if (unit.asking) this.#inFlight.push(ASKING);
    for (const part of unit.parts) this.#inFlight.push(part);
    this.#unflushed += unit.parts.length + (unit.asking ? 1 : 0);
    this.#scheduleFlush();
  }

  #scheduleFlush(): void {
    if (this.#writer.length >= FLUSH_THRESHOLD_BYTES || !this.#options.coalesceWrites) {
      this.#flush();
    } else if (!this.#flushScheduled) {
      this.#flushScheduled = true;
      // Alone on an idle connection, a command goes out at the end of this tick: latency
      // first. With others awaiting replies, the write waits for the end of this event-loop
      // turn, gathering what replies from every node trigger into one write per node:
      // a quarter fewer system calls at 64 in flight.
      if (this.#inFlight.length === 1) process.nextTick(this.#flushTask);
      else setImmediate(this.#flushTask);
    }
  }

  #flush(): void {
    this.#flushScheduled = false;
    const socket = this.#socket;
    if (this.#unflushed === 0 || socket === undefined) return;
    const chunks = this.#writer.take();
    this.#unflushed = 0;
    if (chunks.length === 1) {
      socket.write(chunks[0]!);
      return;
    }
    socket.cork();
    for (const chunk of chunks) socket.write(chunk);
    socket.uncork();
  }

  /** Moves waiting commands into the writer while the connection has room. */
  #drainWaiting(): void {
    const limit = this.#options.maxInFlight;
    while (this.#waiting.length > 0 && this.#state !== "connecting") {
      if (this.#inFlight.length >= limit) break;
      // A unit moves whole: it may end over the limit.
      const next = this.#waiting.shift()!;
      if (next instanceof SendUnit) this.#encodeUnit(next);
      else this.#encode(next);
    }
  }

  // ── reading ───────────────────────────────────────────────────────────────────────────

  #onReply(value: RespValue): void {
    const command = this.#inFlight.shift();
    if (command === undefined) {
      throw new ProtocolError(`${this.address} sent a reply nobody asked for`, this.address);
    }
    command.settle(value, this);
    if (this.#waiting.length > 0 && this.#state === "ready") this.#drainWaiting();
    else if (this.#state === "closing") this.#endIfDrained();
  }

  /**
   * The head of the FIFO expired: its reply, still arriving, is read only to be dropped. A
   * large one is not worth reading (a hostile `*134217727` followed by endless elements
   * would grow memory until it ends): reset the connection instead.
   */
  #dropExpiredReplyIfLarge(): void {
    const buffered = this.#decoder.partialReplyBytes;
    if (buffered > EXPIRED_REPLY_MAX_BYTES) {
      this.reset(`the reply of an expired command was still arriving (${buffered} bytes so far)`);
    }
  }

  #asProtocolError(error: unknown): RedisClusterError {
    if (error instanceof ProtocolError) {
      error.address ??= this.address;
      return error;
    }
    // A callback threw inside decoding: not the server's fault, but the stream position is
    // lost, so the connection cannot go on.
    return new ConnectionError(`reply handling failed on ${this.address}`, this.address, { cause: error });
  }

  // ── deadlines ─────────────────────────────────────────────────────────────────────────

  #armDeadline(at: number): void {
    clearTimeout(this.#deadlineTimer);
    this.#deadlineArmedAt = at;
    // A deadline past the timer range (a long block time) fires early and is re-armed.
    this.#deadlineTimer = setTimeout(this.#deadlineTask, timerDelayMs(at));
    this.#deadlineTimer.unref();
  }

  /**
   * Expires every command past its deadline (rare: it runs once per earliest deadline, not
   * per command), and resets a connection that has read nothing for `stallTimeoutMs` while a
   * written command expired.
   */
  #checkDeadlines(): void {
    this.#deadlineTimer = undefined;
    this.#deadlineArmedAt = Number.POSITIVE_INFINITY;
    const now = performance.now();
    let next = Number.POSITIVE_INFINITY;
    let stalled = false;
    // A live command ahead (WAIT, which the server may rightly hold for its timeout) explains
    // the silence: the expired ones behind it are no sign of a dead connection.
    let liveAhead = false;
    const written = this.#inFlight.length - this.#unflushed;
    for (let i = 0; i < this.#inFlight.length; i++) {
      const command = this.#inFlight.at(i)!;
      if (command === TOMBSTONE) continue;
      if (command.deadlineAt > now) {
        next = Math.min(next, command.deadlineAt);
        liveAhead = true;
        continue;
      }
      if (i < written && !liveAhead && now - this.#lastReadAt >= this.#options.stallTimeoutMs) stalled = true;
      this.#inFlight.set(i, TOMBSTONE);
      command.expire(this);
    }
    if (this.#waiting.length > 0) next = Math.min(next, this.#expireWaiting(now));
    if (this.#state === "closing" && this.#endIfDrained()) return;
    if (this.#inFlight.peek() === TOMBSTONE && this.#socket !== undefined && !stalled) {
      this.#dropExpiredReplyIfLarge();
      if (this.#socket === undefined) return;
    }
    if (stalled && this.#socket !== undefined) {
      const quietMs = Math.round(now - this.#lastReadAt);
      this.reset(`${this.address} answered nothing for ${quietMs} ms`);
      return;
    }
    if (next < this.#deadlineArmedAt) this.#armDeadline(next);
  }

  /** Expires waiting commands past `now`; returns the earliest deadline left. */
  #expireWaiting(now: number): number {
    let next = Number.POSITIVE_INFINITY;
    // A unit lives and dies whole: ASKING alone would let the next command read an importing
    // slot whose keys are still on the source, MULTI alone would queue everybody's commands.
    for (const command of this.#waiting.drain()) {
      if (command.deadlineAt > now) {
        this.#waiting.push(command);
        next = Math.min(next, command.deadlineAt);
      } else {
        command.expire(this);
      }
    }
    return next;
  }

  // ── closing ───────────────────────────────────────────────────────────────────────────

  #onSocketClosed(error: RedisClusterError): void {
    this.#socket = undefined;
    this.#socketEpoch++;
    clearTimeout(this.#connectTimer);
    const wasClosing = this.#state === "closing";
    // A lost socket may be a node restarting, perhaps upgraded to a version that has HELLO
    // or CLIENT MAINT_NOTIFICATIONS: what it refused is forgotten, and the reconnect asks again.
    if (!wasClosing) {
      this.#helloUnsupported = false;
      this.#options.maintenanceRefusedBy?.delete(this.address);
    }
    if (this.#state === "connecting" || this.#state === "ready") this.#backOff(error);
    if (this.#state !== "closed") this.#state = wasClosing ? "closed" : "idle";
    this.#endConnectTrace(error);
    publishConnectionClosed(
      this.host,
      this.port,
      this.address,
      wasClosing ? "closed" : "error",
      wasClosing ? undefined : error,
    );
    this.#teardown(error, error);
    // A close we asked for is not a failure worth reporting.
    this.#options.onDisconnect?.(wasClosing ? undefined : error, this);
    if (wasClosing) this.#finishClose();
  }

  /**
   * Holds the next connect back after a failure: a delay doubling per failure in a row, with
   * jitter so that many clients do not reconnect to a node that came back in lockstep. A
   * ready socket that had answered starts the count afresh; one that never did (refused,
   * failed handshake, accepted then reset, invalid options) adds to it.
   */
  #backOff(error: RedisClusterError): void {
    this.#lastFailure = error;
    if (this.#state === "ready" && this.#socketAnswered) {
      // A working connection that broke: reconnect soon, but not in a tight loop.
      this.#connectFailures = 1;
      this.#connectAllowedAt = performance.now() + this.#options.reconnectBaseDelayMs;
      return;
    }
    this.#connectFailures++;
    const delayMs = Math.min(
      this.#options.reconnectMaxDelayMs,
      this.#options.reconnectBaseDelayMs * 2 ** Math.min(this.#connectFailures - 1, 30),
    );
    this.#connectAllowedAt = performance.now() + delayMs * (0.5 + Math.random() / 2);
  }

  /** Fails everything pending: in-flight with `written` where the bytes left, waiting as unsent. */
  #teardown(writtenError: RedisClusterError, unsentError: RedisClusterError): void {
    clearTimeout(this.#deadlineTimer);
    this.#deadlineTimer = undefined;
    this.#deadlineArmedAt = Number.POSITIVE_INFINITY;
    this.#writer.take();
    const writtenCount = this.#inFlight.length - this.#unflushed;
    this.#unflushed = 0;
    this.#handshakeRemaining = 0;
    // A part of a reply is of no use without its socket; do not keep it (issue 17.5).
    this.#decoder.reset();
    const inFlight = this.#inFlight.drain();
    for (let i = 0; i < inFlight.length; i++) {
      const written = i < writtenCount;
      inFlight[i]!.fail(written ? writtenError : unsentError, written, this);
    }
    this.#failWaiting(unsentError);
  }

  #failWaiting(error: RedisClusterError): void {
    for (const command of this.#waiting.drain()) command.fail(error, false, this);
  }

  /**
   * Finishes a graceful close once nobody waits for a reply: every in-flight entry is
   * answered or a tombstone (an expired command), and nothing waits to be sent. The socket is
   * ended, not awaited: a stalled or paused node never sends its FIN, so it is destroyed
   * after a grace period instead.
   */
  #endIfDrained(): boolean {
    if (this.#state !== "closing" || this.#waiting.length > 0) return false;
    for (let i = 0; i < this.#inFlight.length; i++) if (this.#inFlight.at(i) !== TOMBSTONE) return false;
    const socket = this.#socket;
    this.#socket = undefined; // its 'close' event is no longer ours
    this.#socketEpoch++;
    this.#inFlight.drain();
    this.#decoder.reset();
    if (socket !== undefined) {
      socket.end();
      setTimeout(() => socket.destroy(), CLOSE_GRACE_MS).unref();
      this.#publishClosedByUs(new ClosedError(`connection to ${this.address} closed`));
    }
    this.#finishClose();
    return true;
  }

  /** A socket we closed: a connect under way ends with `error`; `closed` is no failure. */
  #publishClosedByUs(error: RedisClusterError): void {
    this.#endConnectTrace(error);
    publishConnectionClosed(this.host, this.port, this.address, "closed", undefined);
  }

  #finishClose(): void {
    this.#state = "closed";
    clearTimeout(this.#deadlineTimer);
    clearTimeout(this.#connectTimer);
    this.#writer = new CommandWriter(); // a closed connection keeps no 64 KiB chunk
    this.#lastFailure = undefined;
    for (const resolve of this.#closeWaiters.splice(0)) resolve();
  }
}

/** One step of the handshake; its reply goes back to the connection, not to a user. */
class HandshakeStep implements Sendable {
  readonly wantsBuffers = false;
  readonly deadlineAt = Number.POSITIVE_INFINITY; // the connect timer covers the handshake

  constructor(
    readonly name: string,
    readonly args: readonly RedisArg[],
    /** AUTH, or HELLO with AUTH: the server's text about it may repeat the password. */
    readonly carriesCredentials: boolean,
    /** Which run of the handshake on this socket it belongs to. */
    readonly generation: number,
    /** What the handshake authenticates with, for a restart (HELLO → AUTH). */
    readonly credentials: Credentials | undefined,
    readonly owner: Connection,
    /** A refusal is no failure (a feature the server may lack). */
    readonly optional = false,
  ) {}

  settle(value: RespValue): void {
    this.owner.handshakeReply(this, value);
  }
  fail(): void {}
  expire(): void {}
}

/** `ERR unknown command 'HELLO'` (Redis < 6, or renamed) or `NOPROTO` (no RESP3). */
function lacksHello(error: ReplyError): boolean {
  return error.code === "NOPROTO" || (error.code === "ERR" && /^ERR unknown command/i.test(error.message));
}

/** What a handshake step's error reply means, in words of our own where the server's could echo secrets. */
function handshakeFailure(step: HandshakeStep, reply: ReplyError, address: string): RedisClusterError {
  const code = reply.code;
  // The server's message of a step with credentials may quote them; only its code is kept.
  const cause = step.carriesCredentials
    ? new ReplyError(`${code} (the server's message is withheld: it may repeat the credentials)`, step.name)
    : reply;
  cause.command = step.name;
  const refused = authFailure(step.name, cause, address);
  if (refused !== undefined) return refused;
  if (step.carriesCredentials) {
    // "ERR invalid password" (Redis < 6), "ERR AUTH ... called without any password configured".
    return new AuthError(
      `${step.name} failed on ${address} (${code}): check the username and password`,
      address,
      {
        cause,
      },
    );
  }
  const shown = step.args[0] === "TRACKING" ? "CLIENT TRACKING (clientCache needs it)" : step.name;
  return new ConnectionError(
    `${shown} failed during the handshake with ${address}: ${reply.message}`,
    address,
    { cause },
  );
}

/**
 * An `AuthError` for a handshake reply that refuses the credentials or a permission
 * (`WRONGPASS`, `NOAUTH`, `NOPERM`) to `command`, in words of our own; undefined for any
 * other reply.
 */
function authFailure(command: string, reply: unknown, address: string): AuthError | undefined {
  if (!(reply instanceof ReplyError)) return undefined;
  switch (reply.code) {
    case "WRONGPASS":
      return new AuthError(
        `${address} refused the credentials (WRONGPASS): check the username and password`,
        address,
        { cause: reply },
      );
    case "NOAUTH":
      return new AuthError(
        `${address} requires a password (NOAUTH): set password (and username for an ACL user)`,
        address,
        { cause: reply },
      );
    case "NOPERM":
      return new AuthError(
        `the ACL user may not run ${command} on ${address} (NOPERM), which the client needs: ` +
          `grant it (e.g. ACL SETUSER <user> +${command.toLowerCase().replace(" ", "|")})`,
        address,
        { cause: reply },
      );
    default:
      return undefined;
  }
}

function isCredentials(value: unknown): value is Credentials {
  if (value === null || typeof value !== "object") return false;
  const { username, password } = value as { username?: unknown; password?: unknown };
  return typeof password === "string" && (username === undefined || typeof username === "string");
}

/** A Node error's code for a message (never the error's own message: it may quote options). */
function errorCode(error: unknown): string {
  const code = (error as { code?: unknown } | null)?.code;
  return typeof code === "string" ? code : error instanceof Error ? error.name : "unknown error";
}

/** The delay until `at` (a `performance.now()` time), within what a timer can wait. */
function timerDelayMs(at: number): number {
  return Math.min(MAX_TIMER_DELAY_MS, Math.max(0, Math.ceil(at - performance.now())));
}

/** `ASKING` before a redirected command; its `OK` is dropped, a failure reaches the command. */
class AskingStep implements Sendable {
  readonly name = "ASKING";
  readonly args: readonly RedisArg[] = [];
  readonly wantsBuffers = false;
  readonly deadlineAt = Number.POSITIVE_INFINITY;

  settle(): void {}
  fail(): void {}
  expire(): void {}
}

const ASKING = new AskingStep();

/**
 * Sendables that must reach the server back to back (see `sendUnit`). It waits in the
 * waiting queue as one entry; encoded, its parts enter the in-flight FIFO one by one, each
 * for its own reply. As a waiting entry it fails and expires as a whole.
 */
class SendUnit implements Sendable {
  readonly name = "";
  readonly args: readonly RedisArg[] = [];
  readonly wantsBuffers = false;
  deadlineAt: number;

  constructor(
    readonly parts: readonly Sendable[],
    readonly asking: boolean,
  ) {
    let deadlineAt = Number.POSITIVE_INFINITY;
    for (const part of parts) deadlineAt = Math.min(deadlineAt, part.deadlineAt);
    this.deadlineAt = deadlineAt;
  }

  settle(): void {} // never in flight itself: its parts are

  fail(error: RedisClusterError, written: boolean, connection: Connection): void {
    for (const part of this.parts) part.fail(error, written, connection);
  }

  expire(connection: Connection): void {
    for (const part of this.parts) part.expire(connection);
  }

  relaxDeadline(atLeast: number): void {
    for (const part of this.parts) part.relaxDeadline?.(atLeast);
    if (atLeast > this.deadlineAt) this.deadlineAt = atLeast;
  }
}

/** Adapts one promise to the Sendable callbacks, for `Connection#command`. */
class PromiseCommand implements Sendable {
  readonly deadlineAt: number;

  constructor(
    readonly name: string,
    readonly args: readonly RedisArg[],
    readonly wantsBuffers: boolean,
    readonly timeoutMs: number,
    readonly resolve: (value: RespValue) => void,
    readonly reject: (error: Error) => void,
  ) {
    this.deadlineAt = performance.now() + timeoutMs;
  }

  settle(value: RespValue): void {
    if (value instanceof ReplyError) {
      value.command = this.name;
      this.reject(value);
    } else {
      this.resolve(value);
    }
  }
  fail(error: RedisClusterError): void {
    this.reject(error);
  }
  expire(): void {
    this.reject(new TimeoutError(this.name, 1, this.timeoutMs));
  }
}

/**
 * Certificate and TLS-setup failures (Node's and OpenSSL's codes): a wrong CA, a name that
 * does not match, TLS to a plain-text port. Retrying does not help; waiting for the
 * deadline only hides the cause.
 */
const PERMANENT_TLS_CODES = new Set([
  "UNABLE_TO_VERIFY_LEAF_SIGNATURE",
  "UNABLE_TO_GET_ISSUER_CERT",
  "UNABLE_TO_GET_ISSUER_CERT_LOCALLY",
  "SELF_SIGNED_CERT_IN_CHAIN",
  "DEPTH_ZERO_SELF_SIGNED_CERT",
  "CERT_HAS_EXPIRED",
  "CERT_NOT_YET_VALID",
  "CERT_SIGNATURE_FAILURE",
  "CERT_REVOKED",
  "CERT_UNTRUSTED",
  "CERT_REJECTED",
  "HOSTNAME_MISMATCH",
  "ERR_INVALID_ARG_TYPE",
  "ERR_INVALID_ARG_VALUE",
]);

/**
 * True for a failure that no retry within the deadline can cure, so the command fails at
 * once with it: refused credentials or permissions (`AuthError`), and TLS misconfiguration
 * (an untrusted certificate, invalid `tls` options), whose Node error is the `cause`.
 *
 * @example
 * if (isPermanentFailure(error)) command.completeError(error); // rather than retry
 */
export function isPermanentFailure(error: unknown): boolean {
  if (error instanceof AuthError) return true;
  if (!(error instanceof ConnectionError)) return false;
  const code = (error.cause as { code?: unknown } | undefined)?.code;
  return (
    typeof code === "string" &&
    (PERMANENT_TLS_CODES.has(code) ||
      code.startsWith("ERR_TLS_") ||
      code.startsWith("ERR_SSL_") ||
      code.startsWith("ERR_OSSL_"))
  );
}

/** A private (RFC 1918, RFC 4193), loopback or link-local IP; false for names. */
function isPrivateAddress(ip: string): boolean {
  const v4 = /^(?:::ffff:)?(\d+)\.(\d+)\.\d+\.\d+$/i.exec(ip);
  if (v4 !== null) {
    const [a, b] = [Number(v4[1]), Number(v4[2])];
    return (
      a === 10 ||
      a === 127 ||
      (a === 172 && b >= 16 && b <= 31) ||
      (a === 192 && b === 168) ||
      (a === 169 && b === 254)
    );
  }
  const v6 = ip.toLowerCase();
  return v6 === "::1" || v6.startsWith("fc") || v6.startsWith("fd") || v6.startsWith("fe80:");
}

function isIp(host: string): boolean {
  return /^[\d.]+$/.test(host) || host.includes(":");
}

/**
 * What failed, for a ConnectionError's message. TLS failures say which side refused what, and
 * what to set, since OpenSSL's codes alone (`SELF_SIGNED_CERT_IN_CHAIN`) leave users guessing.
 */
function describeSocketError(
  error: NodeJS.ErrnoException,
  address: string,
  context: { tls: boolean; answered: boolean },
): string {
  switch (error.code) {
    case "ECONNREFUSED":
      return `connection to ${address} refused (is the node running?)`;
    case "ECONNRESET":
      // A TLS port drops a plain-text client at its first bytes, without a word.
      return context.tls || context.answered
        ? `connection to ${address} reset by the peer`
        : `connection to ${address} reset by the peer before it answered anything (a TLS port? then set the tls option)`;
    case "ETIMEDOUT":
      return `connection to ${address} timed out`;
    case "EHOSTUNREACH":
    case "ENETUNREACH":
      return `${address} is unreachable`;
    case "ENOTFOUND":
    case "EAI_AGAIN":
      return `cannot resolve the host of ${address}`;
    default:
      if (context.tls) return describeTlsError(error, address);
      return `connection to ${address} failed: ${error.code ?? error.message}`;
  }
}

/** Hints for the TLS failures users meet, by Node/OpenSSL error code. */
const TLS_HINTS: Record<string, string> = {
  SELF_SIGNED_CERT_IN_CHAIN: "the node's certificate is not signed by a CA you trust: set tls.ca",
  DEPTH_ZERO_SELF_SIGNED_CERT: "the node's certificate is self-signed: set tls.ca to it",
  UNABLE_TO_GET_ISSUER_CERT_LOCALLY: "the node's certificate is not signed by a CA you trust: set tls.ca",
  UNABLE_TO_VERIFY_LEAF_SIGNATURE: "the node's certificate is not signed by a CA you trust: set tls.ca",
  CERT_HAS_EXPIRED: "the node's certificate has expired",
  CERT_NOT_YET_VALID: "the node's certificate is not valid yet (check the clocks)",
  ERR_TLS_CERT_ALTNAME_INVALID:
    "the node's certificate does not name the address connected to: set tls.servername, or natMap to a name it has",
  ERR_SSL_TLSV13_ALERT_CERTIFICATE_REQUIRED:
    "the node requires a client certificate (mutual TLS): set tls.cert and tls.key",
  ERR_SSL_SSLV3_ALERT_CERTIFICATE_EXPIRED: "the node refused the client certificate: it has expired",
  ERR_SSL_TLSV1_ALERT_UNKNOWN_CA: "the node does not trust the CA of the client certificate",
  ERR_SSL_SSLV3_ALERT_BAD_CERTIFICATE: "the node refused the client certificate",
  ERR_SSL_WRONG_VERSION_NUMBER: "the port does not speak TLS: is it the node's plain-text port?",
  ERR_SSL_PACKET_LENGTH_TOO_LONG: "the port does not speak TLS: is it the node's plain-text port?",
};

function describeTlsError(error: NodeJS.ErrnoException, address: string): string {
  const hint = error.code === undefined ? undefined : TLS_HINTS[error.code];
  // "...:error:0A000415:SSL routines:ssl3_read_bytes:sslv3 alert certificate expired:<file>:..."
  const reason = /SSL routines:[^:]*:([^:\n]+)/.exec(error.message)?.[1] ?? error.message;
  const code = error.code === undefined ? "" : ` (${error.code})`;
  return `TLS connection to ${address} failed: ${hint ?? reason}${code}`;
}

function stripUndefined<T extends object>(value: T): T {
  const copy = { ...value };
  for (const key of Object.keys(copy) as Array<keyof T>) if (copy[key] === undefined) delete copy[key];
  return copy;
}
