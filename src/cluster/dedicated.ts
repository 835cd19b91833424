/**
 * Blocking commands (BLPOP, XREAD BLOCK, WAIT, ...) run on a connection of their own, so that
 * the wait never holds up the commands queued behind them on the node's shared connection.
 */
import type { Command } from "../command/command.js";
import type { Connection } from "../connection/connection.js";
import type { Sendable } from "../connection/types.js";
import type { RedisClusterError } from "../errors.js";
import type { RespValue } from "../resp/types.js";

/**
 * A command on a dedicated connection: passes every outcome on, then retires the
 * connection (a blocked connection that expired is destroyed, which unblocks the server).
 */
export class OnDedicatedConnection implements Sendable {
  readonly #command: Command;
  readonly #release: () => void;

  constructor(command: Command, release: () => void) {
    this.#command = command;
    this.#release = release;
  }

  get name(): string {
    return this.#command.name;
  }
  get args() {
    return this.#command.args;
  }
  get wantsBuffers(): boolean {
    return this.#command.wantsBuffers;
  }
  get deadlineAt(): number {
    return this.#command.deadlineAt;
  }

  settle(value: RespValue, connection: Connection): void {
    this.#release();
    void connection.close();
    this.#command.settle(value, connection);
  }

  fail(error: RedisClusterError, written: boolean, connection: Connection): void {
    this.#release();
    connection.destroy();
    this.#command.fail(error, written, connection);
  }

  expire(connection: Connection): void {
    this.#release();
    connection.destroy();
    this.#command.expire(connection);
  }
}
