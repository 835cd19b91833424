/**
 * Dedicated connections of one node, for what must not share the node's multiplexed
 * connection: blocking calls (BLPOP, XREAD BLOCK, ...) and WATCH sessions (WATCH … EXEC,
 * the connection held for the callback's lifetime). Both count against the same limit,
 * `maxBlockingConnections`.
 *
 * ```
 *   acquire ──► idle connection? ──yes──► handed over (in use)
 *                 │ no
 *                 ├─ fewer than `limit` open ──► a new connection (in use)
 *                 └─ else: wait in line (FIFO, until the caller's deadline) ──► the next release
 *
 *   release(clean)   ──► to the next in line, or idle (closed after `idleMs` unused)
 *   release(dirty)   ──► destroyed (a call still blocked at the server, a broken socket)
 * ```
 *
 * At most `limit` connections are open at once per node (in use and idle together), so a
 * loop of blocking calls reuses sockets instead of churning them, and a burst of them cannot
 * open thousands.
 */
import type { Command } from "../command/command.js";
import type { Connection } from "../connection/connection.js";
import type { Sendable } from "../connection/types.js";
import { ClosedError, ConnectionError, type RedisClusterError, ReplyError } from "../errors.js";
import type { RespValue } from "../resp/types.js";
import { Alarm } from "./alarm.js";
import { DeadlineQueue } from "./deadline-queue.js";

/** How long a released dedicated connection stays open for reuse, in ms. */
const IDLE_MS = 10_000;

/** Someone waiting for a dedicated connection. */
export interface DedicatedWaiter {
  readonly deadlineAt: number;
  /** A connection is yours until you release it. */
  granted(connection: Connection): void;
  /** None came before your deadline. */
  expired(): void;
  /** The pool closed, or its line is full. */
  refused(error: RedisClusterError): void;
}

/** One node's dedicated connections for blocking calls and WATCH sessions (see the top of this file). */
export class DedicatedPool {
  readonly #address: string;
  readonly #open: () => Connection;
  readonly #limit: number;
  readonly #idle: Array<{ connection: Connection; releasedAt: number }> = [];
  readonly #inUse = new Set<Connection>();
  readonly #line: DeadlineQueue<DedicatedWaiter>;
  readonly #sweep: Alarm;
  #closed = false;

  /**
   * @param open opens a new connection to the node (the registry's options)
   * @param limit connections open at once, in use and idle
   * @param maxWaiting callers that may wait in line at once
   */
  constructor(address: string, open: () => Connection, limit: number, maxWaiting: number) {
    this.#address = address;
    this.#open = open;
    this.#limit = limit;
    this.#line = new DeadlineQueue(maxWaiting, (waiter) => waiter.expired());
    this.#sweep = new Alarm(() => this.#closeStale(), false);
  }

  /** Connections open now (in use and idle). */
  get size(): number {
    return this.#inUse.size + this.#idle.length;
  }

  /** Callers waiting for a connection. */
  get waiting(): number {
    return this.#line.length;
  }

  /** Hands `waiter` a connection now, or when one is released (or refuses it). */
  acquire(waiter: DedicatedWaiter): void {
    if (this.#closed) {
      waiter.refused(new ClosedError("the node's connections are closed"));
      return;
    }
    const idle = this.#idle.pop();
    if (idle !== undefined) {
      this.#grant(idle.connection, waiter);
      return;
    }
    if (this.size < this.#limit) {
      this.#grant(this.#open(), waiter);
      return;
    }
    if (!this.#line.push(waiter)) {
      waiter.refused(
        new ConnectionError(
          `all ${this.#limit} dedicated connections to ${this.#address} are in use and ${this.#line.limit} ` +
            "calls already wait for one (raise maxBlockingConnections, or block on fewer calls at once)",
          this.#address,
        ),
      );
    }
  }

  /**
   * Gives a connection back. `clean` means nothing is pending on it and its state is the
   * default (a blocking call that answered); anything else is destroyed.
   */
  release(connection: Connection, clean: boolean): void {
    if (!this.#inUse.delete(connection)) return;
    if (!clean || this.#closed || connection.state === "closing" || connection.state === "closed") {
      connection.destroy();
      this.#serveLine();
      return;
    }
    const next = this.#line.shift();
    if (next !== undefined) {
      this.#grant(connection, next);
      return;
    }
    this.#idle.push({ connection, releasedAt: performance.now() });
    this.#sweep.armBy(performance.now() + IDLE_MS);
  }

  /** Closes idle connections (they were reusable for the old role of the node). */
  dropIdle(): void {
    for (const { connection } of this.#idle.splice(0)) void connection.close();
  }

  /** Closes everything: idle ones gracefully, in-use ones at once (`error`), waiters refused. */
  close(error: RedisClusterError = new ClosedError("the node's connections are closed")): void {
    this.#closed = true;
    this.#sweep.cancel();
    this.dropIdle();
    for (const connection of this.#inUse) connection.destroy(error);
    this.#inUse.clear();
    for (const waiter of this.#line.drain()) waiter.refused(error);
  }

  #grant(connection: Connection, waiter: DedicatedWaiter): void {
    this.#inUse.add(connection);
    waiter.granted(connection);
  }

  /** A connection was destroyed: room for a new one, for whoever waits first. */
  #serveLine(): void {
    if (this.#closed || this.size >= this.#limit) return;
    const next = this.#line.shift();
    if (next !== undefined) this.#grant(this.#open(), next);
  }

  #closeStale(): void {
    const now = performance.now();
    let kept = 0;
    for (const idle of this.#idle) {
      if (now - idle.releasedAt >= IDLE_MS) void idle.connection.close();
      else {
        this.#idle[kept++] = idle;
        this.#sweep.armBy(idle.releasedAt + IDLE_MS);
      }
    }
    this.#idle.length = kept;
  }
}

/**
 * A command on a dedicated connection: passes every outcome on, then gives the connection
 * back — clean after an answer, destroyed after a failure or an expiry (a call still blocked
 * at the server is unblocked by closing its socket).
 */
export class OnDedicatedConnection implements Sendable {
  protected readonly command: Command;
  protected readonly pool: DedicatedPool;

  /** `connection` is the one it is sent on: abandoning the command (AbortSignal) closes it. */
  constructor(command: Command, pool: DedicatedPool, connection: Connection) {
    this.command = command;
    this.pool = pool;
    command.cancel = () => pool.release(connection, false);
  }

  get name(): string {
    return this.command.name;
  }
  get args() {
    return this.command.args;
  }
  get wantsBuffers(): boolean {
    return this.command.wantsBuffers;
  }
  get deadlineAt(): number {
    return this.command.deadlineAt;
  }

  relaxDeadline(atLeast: number): void {
    this.command.relaxDeadline(atLeast);
  }

  settle(value: RespValue, connection: Connection): void {
    this.command.cancel = undefined;
    // An error reply may come from a server about to drop the connection: a primary demoted
    // by a failover answers its blocked calls UNBLOCKED, then closes their connections. A
    // call resent at once must not be handed that connection (it would break after the
    // call was written: an unknown outcome). Errors are rare here; a new connection is cheap.
    this.pool.release(connection, !(value instanceof ReplyError));
    this.command.settle(value, connection);
  }

  fail(error: RedisClusterError, written: boolean, connection: Connection): void {
    this.command.cancel = undefined;
    this.pool.release(connection, false);
    this.command.fail(error, written, connection);
  }

  expire(connection: Connection): void {
    this.command.cancel = undefined;
    this.pool.release(connection, false);
    this.command.expire(connection);
  }
}

/**
 * A command that keeps its dedicated connection when it succeeds (WATCH): the connection
 * goes to the command's keeper instead of back to the pool. An error reply (MOVED: nothing
 * was watched) gives it back clean; a failure or an expiry destroys it.
 */
export class KeptOnConnection extends OnDedicatedConnection {
  override settle(value: RespValue, connection: Connection): void {
    const command = this.command;
    command.cancel = undefined;
    if (value instanceof ReplyError) {
      this.pool.release(connection, true);
      command.settle(value, connection);
      return;
    }
    if (command.settled || command.keeper === undefined) {
      // Abandoned meanwhile: nobody will use what it set up on the connection.
      this.pool.release(connection, false);
      return;
    }
    const pool = this.pool;
    command.keeper.keep(connection, (clean) => pool.release(connection, clean));
    command.settle(value, connection);
  }
}
