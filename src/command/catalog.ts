/**
 * The commands one client knows: the built-in table (shared, never changed at run time) and
 * what this client learned from its cluster — module commands, a newer server's commands —
 * with `COMMAND INFO`. Per client, because two clients may talk to different servers: one
 * learning a module command must not change how another routes it.
 *
 * ```
 *   find("JSON.SET") ─► built-in table ─► learned here ─► undefined (learn it)
 *   learn("JSON.SET")   one COMMAND INFO per name, however many calls wait for it; a name
 *                       the server does not know is asked again a minute later
 *   locate(...)         COMMAND GETKEYS, for movable keys the key specs cannot find
 * ```
 *
 * Only the calls of a name being learned or located wait; the rest of the client's traffic
 * does not. Calls of one name keep their order through both.
 */
import type { RedisArg } from "../resp/types.js";
import { type CommandInfo, findCommand, parseCommandInfoReply } from "./table.js";

/** Sends `COMMAND <args>` to any node and resolves with its reply. */
export type AskCommand = (args: RedisArg[]) => Promise<unknown>;

/**
 * How long a server's "no such command" holds before the name is asked about again: a
 * module loaded since (`MODULE LOAD`) is learned within this, instead of never.
 */
const UNKNOWN_FOR_MS = 60_000;
/**
 * At most this many names are remembered as unknown to the server, the oldest forgotten
 * first: the names are the caller's input, so the memory they take must be bounded.
 */
export const MAX_UNKNOWN_NAMES = 1024;

/** For tests: another clock and another `UNKNOWN_FOR_MS`. */
export interface CatalogClock {
  /** Milliseconds on a monotonic clock (by default `performance.now()`). */
  now(): number;
  /** How long the server's "no such command" holds. */
  unknownForMs: number;
}

/** The commands one client knows: the built-in table plus what it learned with `COMMAND INFO`. */
export class CommandCatalog {
  /** Learned commands, by upper-case name. */
  readonly #learned = new Map<string, CommandInfo>();
  /** Names the server does not know either (sent as they are, to any node), with when it said so. */
  readonly #unknown = new Map<string, number>();
  readonly #learning = new Map<string, Promise<CommandInfo | undefined>>();
  /** Per name, the last located call's turn: the next one is dispatched after it. */
  readonly #locating = new Map<string, Promise<void>>();
  readonly #ask: AskCommand;
  readonly #clock: CatalogClock;

  constructor(
    ask: AskCommand,
    clock: CatalogClock = { now: () => performance.now(), unknownForMs: UNKNOWN_FOR_MS },
  ) {
    this.#ask = ask;
    this.#clock = clock;
  }

  /**
   * The command named `name` (any case), from the built-in table or learned by this
   * client; `undefined` when neither knows it yet.
   */
  find(name: string): CommandInfo | undefined {
    return findCommand(name) ?? this.#learned.get(name.toUpperCase());
  }

  /** True when the server was asked and does not know the command either. */
  isUnknownToServer(name: string): boolean {
    return this.#isUnknown(name.toUpperCase());
  }

  /**
   * Asks the server to describe a command, once per name: concurrent callers share one
   * `COMMAND INFO`. Resolves with its description, or `undefined` when the server does not
   * know it; rejects when the server could not be asked (the next call asks again).
   */
  learn(name: string): Promise<CommandInfo | undefined> {
    const upper = name.toUpperCase();
    const known = this.find(upper);
    if (known !== undefined || this.#isUnknown(upper)) return Promise.resolve(known);
    let learning = this.#learning.get(upper);
    if (learning === undefined) {
      learning = this.#askInfo(upper).finally(() => this.#learning.delete(upper));
      this.#learning.set(upper, learning);
    }
    return learning;
  }

  /** Learns several commands (a pipeline's); those unknown to the server too are fine. */
  async learnAll(names: readonly string[]): Promise<void> {
    await Promise.all(names.map((name) => this.learn(name)));
  }

  /**
   * The keys of a call whose key specs cannot say where they are (a module's movable keys),
   * from `COMMAND GETKEYS`; `undefined` when the server cannot tell either. Then `onKeys`
   * runs — after the `onKeys` of every earlier call of the same name, so that calls of one
   * command reach their nodes in the order they were made, even though their round trips
   * overlap.
   */
  locate(name: string, args: readonly RedisArg[], onKeys: (keys: RedisArg[] | undefined) => void): void {
    const keys = this.#ask(["GETKEYS", name, ...args]).then(
      (reply) => (Array.isArray(reply) ? (reply as RedisArg[]) : undefined),
      () => undefined,
    );
    const previous = this.#locating.get(name);
    // onKeys settles its command whatever happens (it dispatches, which never throws); the
    // catch only keeps one broken turn from breaking the chain of the next ones.
    const turn: Promise<void> = (previous === undefined ? keys : previous.then(() => keys))
      .then(onKeys)
      .catch(() => {})
      .finally(() => {
        if (this.#locating.get(name) === turn) this.#locating.delete(name);
      });
    this.#locating.set(name, turn);
  }

  async #askInfo(upper: string): Promise<CommandInfo | undefined> {
    const reply = await this.#ask(["INFO", upper]);
    for (const info of parseCommandInfoReply(reply as never))
      this.#learned.set(info.name.toUpperCase(), info);
    const info = this.#learned.get(upper);
    if (info === undefined) this.#markUnknown(upper);
    return info;
  }

  #isUnknown(upper: string): boolean {
    const since = this.#unknown.get(upper);
    if (since === undefined) return false;
    if (this.#clock.now() - since < this.#clock.unknownForMs) return true;
    this.#unknown.delete(upper);
    return false;
  }

  #markUnknown(upper: string): void {
    this.#unknown.delete(upper); // re-added last: the Map's order is the order of the answers
    if (this.#unknown.size >= MAX_UNKNOWN_NAMES) {
      const oldest = this.#unknown.keys().next().value;
      if (oldest !== undefined) this.#unknown.delete(oldest);
    }
    this.#unknown.set(upper, this.#clock.now());
  }
}
