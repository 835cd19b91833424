/**
 * Every error this package throws or rejects with. Each is a class with a stable `name`
 * and `code`, and all of them are `instanceof RedisClusterError`, so one `catch` can tell
 * "the client failed" from "my code failed".
 *
 * | class                  | code                   | when                                            |
 * | ---------------------- | ---------------------- | ----------------------------------------------- |
 * | `ReplyError`           | the server's, e.g. `WRONGTYPE` | the server answered with an error reply |
 * | `CrossSlotError`       | `RC_CROSS_SLOT`        | keys that must share a slot do not              |
 * | `ConnectionError`      | `RC_CONNECTION`        | a node could not be reached / connection lost   |
 * | `AuthError`            | `RC_AUTH`              | the server refused the credentials or the ACL user's permissions |
 * | `TimeoutError`         | `RC_TIMEOUT`           | the command's deadline passed                   |
 * | `ClusterDownError`     | `RC_CLUSTER_DOWN`      | the slot is not served after all retries        |
 * | `MaxRedirectionsError` | `RC_MAX_REDIRECTIONS`  | MOVED/ASK loop exceeded `maxRedirections`       |
 * | `ProtocolError`        | `RC_PROTOCOL`          | the server sent bytes that are not valid RESP   |
 * | `ConfigError`          | `RC_CONFIG`            | bad options (thrown by the constructor)         |
 * | `ArgumentError`        | `RC_ARGUMENT`          | a command got an argument it cannot send        |
 * | `PartialFailureError`  | `RC_PARTIAL`           | a split command (MSET across slots) half done   |
 * | `ClosedError`          | `RC_CLOSED`            | the client or connection was closed             |
 * | `SubscriptionOverflowError` | `RC_OVERFLOW`     | a subscription's consumer fell too far behind   |
 * | `AbortError`           | `RC_ABORTED`           | the command's AbortSignal fired                 |
 * | `WatchConflictError`   | `RC_WATCH_CONFLICT`    | `optimistic()` lost every attempt to a conflict |
 *
 * Messages never contain argument values or passwords: commands are named, never quoted.
 */

/** The `code` of each error class of this package (a `ReplyError` has the server's). */
export type RedisClusterErrorCode =
  | "RC_CROSS_SLOT"
  | "RC_CONNECTION"
  | "RC_AUTH"
  | "RC_TIMEOUT"
  | "RC_CLUSTER_DOWN"
  | "RC_MAX_REDIRECTIONS"
  | "RC_PROTOCOL"
  | "RC_CONFIG"
  | "RC_ARGUMENT"
  | "RC_PARTIAL"
  | "RC_CLOSED"
  | "RC_OVERFLOW"
  | "RC_ABORTED"
  | "RC_WATCH_CONFLICT";

/**
 * The code of a `ReplyError`: the server's first word. The common ones are listed (for
 * completion); any other upper-case word a server or module sends is possible.
 */
export type ReplyErrorCode =
  | "ERR"
  | "WRONGTYPE"
  | "MOVED"
  | "ASK"
  | "TRYAGAIN"
  | "CROSSSLOT"
  | "CLUSTERDOWN"
  | "LOADING"
  | "MASTERDOWN"
  | "READONLY"
  | "NOSCRIPT"
  | "BUSY"
  | "NOAUTH"
  | "WRONGPASS"
  | "NOPERM"
  | "OOM"
  | "EXECABORT"
  | (string & {});

/** Base class of every error of this package. */
export class RedisClusterError extends Error {
  /** A stable identifier, safe to branch on (unlike `message`): see each class. */
  readonly code: RedisClusterErrorCode | ReplyErrorCode;

  constructor(message: string, code: RedisClusterErrorCode | ReplyErrorCode, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
  }

  /** The class's name, e.g. `"TimeoutError"` (what stack traces and `util.inspect` show). */
  override get name(): string {
    return this.constructor.name;
  }
}

/**
 * The server answered with an error reply (`WRONGTYPE`, `ERR`, `NOSCRIPT`, ...).
 *
 * `code` is the first word of the server's message; `command` is the command's name only
 * (never its arguments, which may hold secrets or personal data).
 *
 * @example
 * try { await cluster.incr("a-string-key"); }
 * catch (err) { if (err instanceof ReplyError && err.code === "ERR") { ... } }
 */
export class ReplyError extends RedisClusterError {
  /** The first word of the server's message (upper case), or `"ERR"`. */
  declare readonly code: ReplyErrorCode;
  /** Name of the command that got this reply (e.g. `"INCR"`), when known. */
  command: string | undefined;

  /** `cause`: for EXECABORT, the first command the server refused to queue. */
  constructor(message: string, command?: string, options?: { cause?: unknown }) {
    super(withoutEchoedArguments(message), replyErrorCode(message), options);
    this.command = command;
  }
}

/** What the server quotes of a refused command's arguments (`unknown command`, ...). */
const ECHOED_ARGUMENTS = /, with args beginning with: .*$/s;

/**
 * The server's message without the arguments it echoes back: they may be a password, a
 * token, personal data (`ERR unknown command 'X', with args beginning with: 'secret'`).
 */
function withoutEchoedArguments(message: string): string {
  return message.includes(", with args beginning with: ")
    ? message.replace(ECHOED_ARGUMENTS, " (its arguments are not repeated here)")
    : message;
}

/** The first word of a server error message: `"MOVED 3999 ..."` → `"MOVED"`. */
function replyErrorCode(message: string): string {
  const space = message.indexOf(" ");
  const word = space === -1 ? message : message.slice(0, space);
  // Servers send upper-case codes; anything else (a bare message) is a generic ERR.
  return /^[A-Z][A-Z0-9_-]*$/.test(word) ? word : "ERR";
}

/**
 * Keys that must share one hash slot do not (e.g. `MSETNX`, `multi()`, `RENAME` across
 * slots). Thrown before anything is sent. Use a hash tag (`user:{42}:a`, `user:{42}:b`)
 * to put related keys in one slot.
 */
export class CrossSlotError extends RedisClusterError {
  declare readonly code: "RC_CROSS_SLOT";
  /** The distinct slots the keys hash to. */
  readonly slots: readonly number[];
  /** The command's name. */
  readonly command: string | undefined;

  constructor(slots: readonly number[], command?: string) {
    const list = slots.slice(0, 8).join(", ") + (slots.length > 8 ? ", ..." : "");
    super(
      `${command ? `${command}: ` : ""}keys hash to different slots (${list}); ` +
        "use a hash tag such as {user42} so that they share one slot",
      "RC_CROSS_SLOT",
    );
    this.slots = slots;
    this.command = command;
  }
}

/** A node could not be reached, or the connection to it was lost. */
export class ConnectionError extends RedisClusterError {
  declare readonly code: "RC_CONNECTION";
  /** `host:port` of the node, when one is concerned. */
  readonly address: string | undefined;
  /**
   * True when the command may have reached the server before the connection broke: it may
   * or may not have been executed. Such a write is not retried unless it is idempotent or
   * `retryUnsafeWrites` is set.
   */
  readonly outcomeUnknown: boolean;

  constructor(message: string, address?: string, options?: { cause?: unknown; outcomeUnknown?: boolean }) {
    super(message, "RC_CONNECTION", options);
    this.address = address;
    this.outcomeUnknown = options?.outcomeUnknown ?? false;
  }
}

/**
 * The server refused the credentials (`WRONGPASS`, `NOAUTH`, a failed `AUTH`), or the ACL
 * user lacks a permission the client needs (`NOPERM`), or the `credentials` provider
 * failed. Permanent until the configuration changes: commands fail with it at once rather
 * than at their deadline, and reconnects to the node are backed off.
 *
 * `cause` is the server's error reply (its text withheld where it could repeat what was
 * sent, i.e. the credentials) or the provider's error. Never carries the password.
 *
 * @example
 * try { await cluster.get("k"); }
 * catch (err) { if (err instanceof AuthError) console.error("check username/password:", err.message); }
 */
export class AuthError extends RedisClusterError {
  declare readonly code: "RC_AUTH";
  /** `host:port` of the node that refused, when one is concerned. */
  readonly address: string | undefined;

  constructor(message: string, address?: string, options?: { cause?: unknown }) {
    super(message, "RC_AUTH", options);
    this.address = address;
  }
}

/** The command's deadline (`commandTimeout`) passed before it got an answer. */
export class TimeoutError extends RedisClusterError {
  declare readonly code: "RC_TIMEOUT";
  /** Name of the command. */
  readonly command: string;
  /** How many times it was sent (redirections and retries included). */
  readonly attempts: number;
  /** The deadline that passed, in milliseconds. */
  readonly timeoutMs: number;

  constructor(command: string, attempts: number, timeoutMs: number, options?: { cause?: unknown }) {
    super(
      `${command} timed out after ${timeoutMs} ms (${attempts} attempt${attempts === 1 ? "" : "s"})`,
      "RC_TIMEOUT",
      options,
    );
    this.command = command;
    this.attempts = attempts;
    this.timeoutMs = timeoutMs;
  }
}

/** The cluster did not serve the command's slot, even after retries within the deadline. */
export class ClusterDownError extends RedisClusterError {
  declare readonly code: "RC_CLUSTER_DOWN";
  /** The slot that was not served, when one is concerned. */
  readonly slot: number | undefined;

  constructor(message: string, slot?: number, options?: { cause?: unknown }) {
    super(message, "RC_CLUSTER_DOWN", options);
    this.slot = slot;
  }
}

/** MOVED/ASK redirections went on past `maxRedirections`: the cluster keeps sending us around. */
export class MaxRedirectionsError extends RedisClusterError {
  declare readonly code: "RC_MAX_REDIRECTIONS";
  /** `host:port` of the last node the command was sent to. */
  readonly address: string;
  /** Name of the command. */
  readonly command: string;

  constructor(command: string, redirections: number, address: string) {
    super(
      `${command}: gave up after ${redirections} MOVED/ASK redirections (last node ${address}); ` +
        "the cluster is probably resharding: retry later or raise maxRedirections",
      "RC_MAX_REDIRECTIONS",
    );
    this.address = address;
    this.command = command;
  }
}

/** The server sent bytes that are not valid RESP. The connection is closed. */
export class ProtocolError extends RedisClusterError {
  declare readonly code: "RC_PROTOCOL";
  /** `host:port` of the node, when known. */
  address: string | undefined;

  constructor(message: string, address?: string) {
    super(message, "RC_PROTOCOL");
    this.address = address;
  }
}

/** An option is invalid. Thrown synchronously by the constructor that received it. */
export class ConfigError extends RedisClusterError {
  declare readonly code: "RC_CONFIG";
  /** Name of the offending option (e.g. `"commandTimeout"`). */
  readonly option: string;

  constructor(option: string, message: string) {
    super(`option ${option}: ${message}`, "RC_CONFIG");
    this.option = option;
  }
}

/**
 * A command got an argument that cannot be sent (e.g. `undefined`, an object, `NaN`), or
 * too few arguments to name its keys. Rejected before anything is sent.
 */
export class ArgumentError extends RedisClusterError {
  declare readonly code: "RC_ARGUMENT";
  /** Name of the command the argument was given to, when known. */
  readonly command: string | undefined;

  constructor(message: string, command?: string) {
    super(command ? `${command}: ${message}` : message, "RC_ARGUMENT");
    this.command = command;
  }
}

/**
 * A command split across slots (`mset` with keys in several slots) succeeded for some keys
 * and failed for others. Which keys are which is in `succeeded` and `failed` (never in the
 * message, which stays free of argument values); `cause` is the first failure.
 */
export class PartialFailureError extends RedisClusterError {
  declare readonly code: "RC_PARTIAL";
  /** Name of the split command (e.g. `"MSET"`). */
  readonly command: string;
  /** Keys whose part succeeded. */
  readonly succeeded: readonly unknown[];
  /** Keys whose part failed. */
  readonly failed: readonly unknown[];

  constructor(message: string, command: string, succeeded: unknown[], failed: unknown[], cause: Error) {
    super(message, "RC_PARTIAL", { cause });
    this.command = command;
    this.succeeded = succeeded;
    this.failed = failed;
  }
}

/** The client (or a connection) was used after `close()`/`destroy()`, or closed under the command. */
export class ClosedError extends RedisClusterError {
  declare readonly code: "RC_CLOSED";
  constructor(message = "the client is closed; create a new RedisCluster to send more commands") {
    super(message, "RC_CLOSED");
  }
}

/**
 * A subscription's async iterator fell more than `bufferSize` messages behind, with
 * `overflow: "error"`: the iterator ends with this error (after the messages it holds) and
 * the subscription is unsubscribed. With the default `overflow: "dropOldest"` the oldest
 * messages are dropped instead (counted in `subscription.dropped`, `overflow` event).
 */
export class SubscriptionOverflowError extends RedisClusterError {
  declare readonly code: "RC_OVERFLOW";
  /** The buffer's size, in messages. */
  readonly bufferSize: number;

  constructor(bufferSize: number) {
    super(
      `a subscription's consumer fell more than ${bufferSize} messages behind (overflow: "error"), so it ` +
        'was unsubscribed; consume faster, raise bufferSize, or use overflow: "dropOldest"',
      "RC_OVERFLOW",
    );
    this.bufferSize = bufferSize;
  }
}

/**
 * The command's `AbortSignal` fired before its answer came (`cluster.withOptions({ signal })`).
 * A blocking call is cut short by closing its dedicated connection; a command already sent on
 * a shared connection may still run (its answer is ignored). `cause` is the signal's reason.
 *
 * @example
 * const controller = new AbortController();
 * const popped = cluster.withOptions({ signal: controller.signal }).blpop("jobs", 0);
 * controller.abort();
 * await popped; // rejects with AbortError
 */
export class AbortError extends RedisClusterError {
  /** Name of the command. */
  readonly command: string;

  constructor(command: string, options?: { cause?: unknown }) {
    super(`${command} was aborted by its AbortSignal`, "RC_ABORTED", options);
    this.command = command;
  }
}

/**
 * `cluster.optimistic()` ran its callback `attempts` times and another client changed a
 * watched key (or the slot moved) every time: nothing was committed.
 *
 * @example
 * try { await cluster.optimistic(["acct:{7}"], transfer, { attempts: 5 }); }
 * catch (err) { if (err instanceof WatchConflictError) { ... } }
 */
export class WatchConflictError extends RedisClusterError {
  /** How many times the transaction was tried. */
  readonly attempts: number;

  constructor(attempts: number) {
    super(
      `the watched keys changed before every one of ${attempts} attempt(s) could commit; nothing was committed ` +
        "(raise attempts, or reduce contention on these keys)",
      "RC_WATCH_CONFLICT",
    );
    this.attempts = attempts;
  }
}
