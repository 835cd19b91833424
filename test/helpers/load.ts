/**
 * A bounded load loop for chaos and resharding tests: `concurrency` workers, each sending
 * one command at a time, alternating SET of a fresh key and GET of a key whose SET was
 * acknowledged. Every command is recorded (when it was issued and settled, and how), so a
 * test can check afterwards that nothing failed, that failures were typed, that no command
 * outlived its deadline, and that every acknowledged write is still there.
 */
import type { RedisCluster } from "../../src/index.js";

export interface LoadOptions {
  /** Commands in flight at once. */
  concurrency: number;
  /** At most this many commands are issued, even if nobody calls `finish()`. */
  maxCommands: number;
  /** The key of the write numbered `index` (each write gets a key of its own). */
  keyFor(index: number): string;
  /**
   * Compare each read with the acknowledged write of its key. Off where acknowledged
   * writes may legitimately be lost (a primary killed before its replica got them).
   */
  verifyReads: boolean;
}

export interface Outcome {
  kind: "set" | "get";
  key: string;
  /** `performance.now()` when the command was issued. */
  startedAt: number;
  /** `performance.now()` when its promise settled. */
  settledAt: number;
  /** The rejection, if it rejected. */
  error?: unknown;
}

export interface Unsettled {
  kind: "set" | "get";
  key: string;
  ageMs: number;
}

export class LoadLoop {
  /** Every settled command, in settlement order. */
  readonly outcomes: Outcome[] = [];
  /** Key → value of every acknowledged SET. */
  readonly acked = new Map<string, string>();
  /** Reads that returned something other than the acknowledged value. */
  readonly staleReads: Array<{ key: string; expected: string; got: unknown }> = [];

  readonly #client: RedisCluster;
  readonly #options: LoadOptions;
  readonly #ackedKeys: string[] = [];
  readonly #pending = new Map<number, { kind: "set" | "get"; key: string; startedAt: number }>();
  #issued = 0;
  #stopped = false;
  #workers: Promise<void> | undefined;
  #waiters: Array<{ target: number; resolve: () => void }> = [];

  constructor(client: RedisCluster, options: LoadOptions) {
    this.#client = client;
    this.#options = options;
  }

  /** Commands issued so far. */
  get issued(): number {
    return this.#issued;
  }

  /** Outcomes that are rejections. */
  get failures(): Outcome[] {
    return this.outcomes.filter((outcome) => "error" in outcome);
  }

  /** Starts the workers; returns at once. */
  start(): void {
    this.#workers ??= Promise.all(Array.from({ length: this.#options.concurrency }, () => this.#work())).then(
      () => this.#wake(true),
    );
  }

  /**
   * Resolves once `count` more commands have settled (or the loop ended), so that a test can
   * let load run across an event without sleeping.
   */
  settledMore(count: number): Promise<void> {
    const target = this.outcomes.length + count;
    return new Promise((resolve) => this.#waiters.push({ target, resolve }));
  }

  /**
   * Stops issuing and waits for the commands in flight, at most `budgetMs`; returns those
   * still unsettled then (none, if every command kept its deadline).
   */
  async finish(budgetMs: number): Promise<Unsettled[]> {
    this.#stopped = true;
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([
      this.#workers ?? Promise.resolve(),
      new Promise<void>((resolve) => {
        timer = setTimeout(resolve, budgetMs);
      }),
    ]);
    clearTimeout(timer);
    const now = performance.now();
    return [...this.#pending.values()].map(({ kind, key, startedAt }) => ({
      kind,
      key,
      ageMs: now - startedAt,
    }));
  }

  async #work(): Promise<void> {
    while (!this.#stopped && this.#issued < this.#options.maxCommands) {
      const index = this.#issued++;
      const readable = this.#ackedKeys.length > 0 && index % 2 === 1;
      if (readable) await this.#get(index);
      else await this.#set(index);
    }
  }

  async #set(index: number): Promise<void> {
    const key = this.#options.keyFor(index);
    const value = `v${index}`;
    await this.#track(index, "set", key, async () => {
      await this.#client.set(key, value);
      this.acked.set(key, value);
      this.#ackedKeys.push(key);
    });
  }

  async #get(index: number): Promise<void> {
    const key = this.#ackedKeys[Math.floor(Math.random() * this.#ackedKeys.length)]!;
    await this.#track(index, "get", key, async () => {
      const got = await this.#client.get(key);
      const expected = this.acked.get(key)!;
      if (this.#options.verifyReads && got !== expected) this.staleReads.push({ key, expected, got });
    });
  }

  async #track(index: number, kind: "set" | "get", key: string, run: () => Promise<void>): Promise<void> {
    const startedAt = performance.now();
    this.#pending.set(index, { kind, key, startedAt });
    try {
      await run();
      this.outcomes.push({ kind, key, startedAt, settledAt: performance.now() });
    } catch (error) {
      this.outcomes.push({ kind, key, startedAt, settledAt: performance.now(), error });
    } finally {
      this.#pending.delete(index);
      this.#wake(false);
    }
  }

  #wake(ended: boolean): void {
    if (this.#waiters.length === 0) return;
    const settled = this.outcomes.length;
    this.#waiters = this.#waiters.filter((waiter) => {
      if (!ended && settled < waiter.target) return true;
      waiter.resolve();
      return false;
    });
  }
}

/** Outcomes that took longer than `limitMs` from issue to settlement. */
export function overdue(outcomes: readonly Outcome[], limitMs: number): Outcome[] {
  return outcomes.filter((outcome) => outcome.settledAt - outcome.startedAt > limitMs);
}
