/**
 * RedisCluster clients for tests, always closed: a test that fails half-way must not leave
 * sockets (and their timers) behind for the next test, nor keep the worker alive.
 *
 * `close()` is graceful and waits for in-flight commands; if it has not finished after
 * `CLOSE_BUDGET_MS` (a node paused for good, a bug), the client is destroyed and the hook
 * fails, so that a hanging close is reported instead of hanging the run.
 */
import { afterAll, afterEach } from "vitest";
import type { RespVersion } from "../../src/command/types.js";
import { PartialFailureError } from "../../src/errors.js";
import {
  AbortError,
  ArgumentError,
  AuthError,
  ClosedError,
  ClusterDownError,
  ConfigError,
  ConnectionError,
  CrossSlotError,
  MaxRedirectionsError,
  ProtocolError,
  RedisCluster,
  RedisClusterError,
  type RedisClusterOptions,
  ReplyError,
  SubscriptionOverflowError,
  TimeoutError,
  WatchConflictError,
} from "../../src/index.js";

const CLOSE_BUDGET_MS = 15_000;

export interface ClientFactory {
  /** A new client, closed after the test (or after the file, see {@link useClients}). */
  create<R extends RespVersion = 2>(options: RedisClusterOptions<R>): RedisCluster<R>;
}

/**
 * Creates clients that are closed after each test (`"each"`, the default) or after the
 * file's last test (`"all"`).
 *
 * @example
 * const clients = useClients();
 * it("sets", async () => {
 *   const client = clients.create({ nodes: cluster.seeds });
 *   await client.set("a", "1");
 * });
 */
export function useClients(scope: "each" | "all" = "each"): ClientFactory {
  const open = new Set<RedisCluster<RespVersion>>();
  const closeAll = async () => {
    const clients = [...open];
    open.clear();
    const stuck: string[] = [];
    await Promise.all(
      clients.map(async (client) => {
        if (!(await closeWithin(client, CLOSE_BUDGET_MS))) stuck.push(client.name ?? "(unnamed)");
      }),
    );
    if (stuck.length > 0) {
      throw new Error(
        `close() did not finish within ${CLOSE_BUDGET_MS} ms for client(s) ${stuck.join(", ")}`,
      );
    }
  };
  if (scope === "each") afterEach(closeAll);
  else afterAll(closeAll);
  return {
    create<R extends RespVersion = 2>(options: RedisClusterOptions<R>): RedisCluster<R> {
      const client = new RedisCluster<R>(options);
      open.add(client as unknown as RedisCluster<RespVersion>);
      return client;
    },
  };
}

/** Closes gracefully; past `budgetMs`, destroys the client and returns false. */
export async function closeWithin(
  client: Pick<RedisCluster<RespVersion>, "close" | "disconnect">,
  budgetMs: number,
): Promise<boolean> {
  let timer: NodeJS.Timeout | undefined;
  const timedOut = new Promise<false>((resolve) => {
    timer = setTimeout(() => resolve(false), budgetMs);
  });
  try {
    const closed = await Promise.race([client.close().then(() => true as const), timedOut]);
    if (!closed) client.disconnect();
    return closed;
  } finally {
    clearTimeout(timer);
  }
}

/** The public error classes: an error a user sees must be exactly one of these. */
const ERROR_CLASSES = [
  ReplyError,
  CrossSlotError,
  ConnectionError,
  AuthError,
  TimeoutError,
  ClusterDownError,
  MaxRedirectionsError,
  ProtocolError,
  ConfigError,
  ArgumentError,
  PartialFailureError,
  ClosedError,
  SubscriptionOverflowError,
  AbortError,
  WatchConflictError,
] as const;

/** True for an instance of one of the public error classes of src/errors.ts. */
export function isTypedError(error: unknown): error is RedisClusterError {
  return error instanceof RedisClusterError && ERROR_CLASSES.some((type) => error.constructor === type);
}

/** Server codes the client must handle itself; one reaching the user as a ReplyError is a bug. */
const CLUSTER_REPLY_CODES = new Set(["MOVED", "ASK", "TRYAGAIN", "CLUSTERDOWN", "LOADING", "MASTERDOWN"]);

/** A ReplyError carrying a redirection or a retryable cluster state: the client leaked it. */
export function isLeakedClusterReply(error: unknown): boolean {
  return error instanceof ReplyError && CLUSTER_REPLY_CODES.has(error.code);
}

/** `name: message` of an error (or the value itself), for assertion messages. */
export function describeError(error: unknown): string {
  return error instanceof Error ? `${error.constructor.name}: ${error.message}` : String(error);
}
