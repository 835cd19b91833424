/**
 * The one retry loop. Every single-node command goes through `dispatch`; every outcome that
 * is not a plain reply comes back here, is classified once, and ends in exactly one of:
 *
 * - **redirect**: `MOVED` patches the slot table, triggers one refresh and resends at once;
 *   `ASK` resends to the target with `ASKING`, table untouched;
 * - **retry**: `TRYAGAIN`, `CLUSTERDOWN`, `LOADING`, `MASTERDOWN`, `READONLY`, a refused or
 *   lost connection — resent after a bounded, jittered exponential backoff, if that still
 *   fits in the command's deadline; a read that failed on a replica is resent at once to
 *   another node of the same shard;
 * - **fail**: a typed error. A write whose connection broke after it was sent is failed
 *   (its outcome is unknown) unless it is idempotent or `retryUnsafeWrites` is set.
 *
 * Commands that cannot be routed (no topology yet, slot unserved) wait in the offline queue
 * and are dispatched, in order, when a topology is installed.
 */
import { type Command, NO_SLOT } from "../command/command.js";
import { Gather, GatherPart } from "../command/gather.js";
import { CommandFlag, isIdempotentCall } from "../command/table.js";
import { formatAddress, type HostPort } from "../connection/address.js";
import type { Connection } from "../connection/connection.js";
import {
  ArgumentError,
  ClosedError,
  ClusterDownError,
  ConnectionError,
  MaxRedirectionsError,
  type RedisClusterError,
  ReplyError,
  TimeoutError,
} from "../errors.js";
import { OnDedicatedConnection } from "./dedicated.js";
import type { Discovery } from "./discovery.js";
import { fanOutTargets, mergeFanOut } from "./fanout.js";
import type { NodeEntry, NodeRegistry } from "./nodes.js";
import { CommandBatch, OfflineQueue } from "./offline-queue.js";
import { classifyReplyError, FINAL_OUTCOME } from "./redirect.js";
import type { Router } from "./router.js";
import { SlotHold } from "./slot-hold.js";
import type { Topology } from "./topology.js";

export interface ExecutorOptions {
  maxRedirections: number;
  /** natMap: the address a node announces → the one to connect to. */
  mapAddress: (host: string, port: number) => HostPort;
  retryUnsafeWrites: boolean;
  maxOfflineQueue: number;
  /** First retry delay in ms; doubles per attempt up to `retryMaxDelayMs`. */
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
}

/** The executor's counters (part of `cluster.stats()`). */
export interface ExecutorStats {
  /** Commands dispatched (each command once, however many attempts it took). */
  commands: number;
  /** Attempts beyond the first (redirections included). */
  retries: number;
  moved: number;
  ask: number;
  /** Connections that failed or were lost. */
  connectionErrors: number;
  timeouts: number;
  /** Commands that went through the offline queue. */
  queuedOffline: number;
}

export interface ExecutorEvents {
  moved(slot: number, from: string, to: string): void;
  ask(slot: number, from: string, to: string): void;
}

const AUTH_ERROR_CODES = new Set(["WRONGPASS", "NOAUTH", "NOPERM"]);

export class Executor {
  closed = false;
  readonly stats: ExecutorStats = {
    commands: 0,
    retries: 0,
    moved: 0,
    ask: 0,
    connectionErrors: 0,
    timeouts: 0,
    queuedOffline: 0,
  };

  #discovery: Discovery;
  #registry: NodeRegistry;
  #router: Router;
  #options: ExecutorOptions;
  #events: ExecutorEvents;
  #offline: OfflineQueue<Command | CommandBatch>;
  /** Slots whose commands wait behind a retry (cluster/slot-hold.ts). */
  #holds = new Map<number, SlotHold>();
  /** Connections of blocking commands in flight, destroyed on close. */
  #dedicated = new Set<Connection>();

  constructor(
    discovery: Discovery,
    registry: NodeRegistry,
    router: Router,
    options: ExecutorOptions,
    events: ExecutorEvents,
  ) {
    this.#discovery = discovery;
    this.#registry = registry;
    this.#router = router;
    this.#options = options;
    this.#events = events;
    this.#offline = new OfflineQueue(options.maxOfflineQueue, (entry) => {
      if (entry instanceof CommandBatch) for (const command of entry.commands) this.#expireOffline(command);
      else this.#expireOffline(entry);
    });
  }

  /** Commands waiting for a topology or for their slot to be served. */
  get offlineCount(): number {
    return this.#offline.length;
  }

  /**
   * Sends a batch (a pipeline) in order. Before the first topology it waits as one entry of
   * the offline queue, so that a large pipeline issued at start-up does not fill it.
   */
  dispatchAll(commands: Command[]): void {
    if (this.#discovery.current !== undefined || commands.length <= 1) {
      for (const command of commands) this.dispatch(command);
      return;
    }
    const batch = new CommandBatch(commands);
    if (!this.#offline.push(batch)) {
      const error = this.#offlineFull(commands[0]!);
      for (const command of commands) command.completeError(error);
      return;
    }
    this.stats.queuedOffline += commands.length;
    this.#discovery.requestRefresh();
  }

  /** Routes and sends one command. Never throws. */
  dispatch(command: Command): void {
    if (this.closed) {
      command.completeError(new ClosedError());
      return;
    }
    if (this.#holds.size > 0 && command.slotGate === undefined && command.slot >= 0) {
      const hold = this.#holds.get(command.slot);
      if (hold !== undefined && command.pinnedAddress === undefined) {
        hold.enqueue(command); // behind the retry of its slot
        return;
      }
    }
    const topology = this.#discovery.current;
    // A fan-out's parts are pinned to their nodes; a command pinned by the user goes where it is told.
    if (
      command.slot === NO_SLOT &&
      command.pinnedAddress === undefined &&
      topology !== undefined &&
      isFanOut(command)
    ) {
      this.#fanOut(command, topology); // its parts are counted, each as a command
      return;
    }
    if (command.attempts === 0) {
      this.stats.commands++;
    } else if (performance.now() >= command.deadlineAt) {
      this.#timeout(command);
      return;
    }
    const askAddress = command.askAddress;
    if (askAddress !== undefined) {
      command.askAddress = undefined;
      const entry = this.#registry.get(askAddress);
      if (entry !== undefined) {
        command.attempts++;
        entry.connection.sendAsking(command);
        return;
      }
    }
    const pinnedAddress = command.pinnedAddress;
    if (pinnedAddress !== undefined) {
      this.#sendPinned(command, pinnedAddress);
      return;
    }
    const node = topology === undefined ? undefined : this.#router.pick(topology, command);
    if (node === undefined) {
      this.#waitForTopology(command);
      return;
    }
    const entry = this.#registry.get(node.address) ?? this.#registry.ensure(node.host, node.port, node.role);
    command.attempts++;
    if (command.blockingTimeoutMs === undefined) entry.connection.send(command);
    else this.#sendBlocking(entry, command);
  }

  /**
   * A blocking call gets a connection of its own, closed once it has answered: it must not
   * hold up the commands queued behind it on the node's shared connection.
   */
  #sendBlocking(entry: NodeEntry, command: Command): void {
    const connection = entry.openDedicatedConnection();
    this.#dedicated.add(connection);
    connection.send(new OnDedicatedConnection(command, () => this.#dedicated.delete(connection)));
  }

  /** Sends a keyless command to every primary (or node) and merges the replies by its policy. */
  #fanOut(command: Command, topology: Topology): void {
    const info = command.info!;
    const targets = fanOutTargets(info.requestPolicy, topology) ?? [];
    const gather = new Gather(targets.length, (outcomes) => {
      try {
        command.complete(mergeFanOut(info.responsePolicy, outcomes));
      } catch (error) {
        if (error instanceof ReplyError) error.command = command.displayName;
        command.completeError(error as Error);
      }
    });
    const remainingMs = Math.max(1, command.deadlineAt - performance.now());
    targets.forEach((node, index) => {
      const part = new GatherPart(
        gather,
        index,
        this,
        command.name,
        command.args,
        info,
        command.wantsBuffers,
        remainingMs,
      );
      part.pinnedAddress = node.address;
      this.dispatch(part);
    });
  }

  /** A command for one given node; if that node is gone from the cluster, it fails. */
  #sendPinned(command: Command, address: string): void {
    const entry = this.#registry.get(address);
    if (entry === undefined) {
      command.completeError(
        new ConnectionError(`${command.displayName}: ${address} is no longer part of the cluster`, address),
      );
      return;
    }
    command.attempts++;
    entry.connection.send(command);
  }

  /** A new topology is in: health caches are stale, and waiting commands may go. */
  onTopology(): void {
    this.#router.invalidate();
    if (this.#offline.length === 0) return;
    for (const entry of this.#offline.drain()) {
      if (entry instanceof CommandBatch) for (const command of entry.commands) this.dispatch(command);
      else this.dispatch(entry);
    }
  }

  /** The topology could not be read. Commands keep waiting (until their deadline) for the next try. */
  onRefreshFailed(): void {
    if (this.#offline.length > 0) this.#discovery.requestRefresh();
  }

  /** Fails every command waiting offline, and every blocking call, on close. */
  failPending(error: RedisClusterError): void {
    for (const entry of this.#offline.drain()) {
      if (entry instanceof CommandBatch) for (const command of entry.commands) command.completeError(error);
      else entry.completeError(error);
    }
    for (const connection of this.#dedicated) connection.destroy(error);
    this.#dedicated.clear();
    for (const hold of this.#holds.values()) {
      clearTimeout(hold.timer);
      for (const command of hold.waiting.splice(0)) command.completeError(error);
    }
    this.#holds.clear();
  }

  // ── outcomes ──────────────────────────────────────────────────────────────────────────

  onErrorReply(command: Command, error: ReplyError, connection: Connection): void {
    let outcome = classifyReplyError(error);
    // A command for a given node takes that node's answer, redirections included.
    if (command.pinnedAddress !== undefined && outcome.kind !== "retry") outcome = FINAL_OUTCOME;
    switch (outcome.kind) {
      case "final":
        error.command = command.displayName;
        command.completeError(error);
        return;
      case "moved": {
        if (!this.#countRedirection(command, connection)) return;
        this.stats.moved++;
        const { host, port } = this.#redirectTarget(outcome, connection);
        const target = formatAddress(host, port);
        this.#events.moved(outcome.slot, connection.address, target);
        this.#discovery.requestRefresh();
        if (target === connection.address) {
          // A node that redirects to itself is about to drop this connection (managed
          // services do this): retry on a fresh one rather than loop; what is in flight on
          // the old one still gets its replies.
          this.#registry.get(connection.address)?.renew(connection);
          this.#retryLater(command, error);
          return;
        }
        const entry = this.#registry.ensure(host, port, "primary");
        this.#discovery.current?.patchSlot(outcome.slot, {
          id: "",
          host: entry.host,
          port: entry.port,
          address: entry.address,
          role: "primary",
          health: "online",
          replicationOffset: 0,
          hostname: undefined,
        });
        command.replicaReadable = false;
        this.dispatch(command);
        return;
      }
      case "ask": {
        if (!this.#countRedirection(command, connection)) return;
        this.stats.ask++;
        const { host, port } = this.#redirectTarget(outcome, connection);
        const entry = this.#registry.ensure(host, port, "primary");
        this.#events.ask(outcome.slot, connection.address, entry.address);
        command.askAddress = entry.address;
        this.dispatch(command);
        return;
      }
      case "retry":
        if (outcome.refresh) this.#discovery.requestRefresh();
        if (command.replicaReadable && this.#isReplica(connection.address)) {
          // A replica that is loading, lost its primary, or was reconfigured: the primary
          // can answer now; the refresh will sort out the replica.
          command.replicaReadable = false;
          this.#retryNow(command);
          return;
        }
        this.#retryLater(command, error);
        return;
    }
  }

  onFailure(command: Command, error: RedisClusterError, written: boolean, connection: Connection): void {
    if (this.closed) {
      command.completeError(error instanceof ClosedError ? error : new ClosedError());
      return;
    }
    if (error instanceof ArgumentError) {
      command.completeError(error); // refused before any byte was sent: nothing to retry
      return;
    }
    if (!(error instanceof ClosedError)) {
      // A closed connection is one we retired (node left, role changed); anything else is
      // the node failing, which may mean a failover under way.
      this.stats.connectionErrors++;
      this.#discovery.requestRefresh();
    }
    const cause = error.cause;
    if (cause instanceof ReplyError && AUTH_ERROR_CODES.has(cause.code)) {
      command.completeError(error); // wrong credentials do not get better with retries
      return;
    }
    if (written && !this.#safeToResend(command)) {
      command.completeError(
        new ConnectionError(
          `${command.displayName} may or may not have run on ${connection.address}: the connection broke after it ` +
            "was sent, so it was not retried (set retryUnsafeWrites: true to resend such writes)",
          connection.address,
          { cause: error, outcomeUnknown: true },
        ),
      );
      return;
    }
    if (command.replicaReadable && this.#isReplica(connection.address)) {
      command.avoidAddress = connection.address;
      this.#retryNow(command);
      return;
    }
    this.#retryLater(command, error);
  }

  onExpire(command: Command): void {
    this.stats.timeouts++;
    this.#timeout(command);
  }

  // ── helpers ───────────────────────────────────────────────────────────────────────────

  /**
   * Where a MOVED/ASK points, as we can reach it: an empty host (unknown endpoint) is the
   * host that answered, and the announced address goes through natMap like the topology's.
   */
  #redirectTarget(outcome: { host: string; port: number }, connection: Connection): HostPort {
    return this.#options.mapAddress(outcome.host === "" ? connection.host : outcome.host, outcome.port);
  }

  #waitForTopology(command: Command): void {
    if (!this.#offline.push(command)) {
      command.completeError(this.#offlineFull(command));
      return;
    }
    this.stats.queuedOffline++;
    this.#discovery.requestRefresh();
  }

  #offlineFull(command: Command): ClusterDownError {
    return new ClusterDownError(
      `${command.displayName}: ${this.#offline.limit} commands are already waiting for the cluster ` +
        "(maxOfflineQueue); is it reachable?",
      command.slot >= 0 ? command.slot : undefined,
      { cause: this.#discovery.lastError },
    );
  }

  #expireOffline(command: Command): void {
    const lastError = this.#discovery.lastError;
    if (this.#discovery.current === undefined && lastError !== undefined) {
      command.completeError(lastError);
    } else if (this.#discovery.current !== undefined && command.slot !== NO_SLOT) {
      command.completeError(
        new ClusterDownError(
          `no node serves slot ${command.slot} (waited ${command.timeoutMs} ms)`,
          command.slot,
        ),
      );
    } else {
      this.#timeout(command);
    }
  }

  #timeout(command: Command): void {
    command.completeError(new TimeoutError(command.displayName, command.attempts, command.timeoutMs));
  }

  /** Counts a MOVED/ASK; false (and the command failed) past `maxRedirections`. */
  #countRedirection(command: Command, connection: Connection): boolean {
    if (++command.redirections <= this.#options.maxRedirections) {
      this.stats.retries++;
      return true;
    }
    command.completeError(
      new MaxRedirectionsError(command.displayName, command.redirections - 1, connection.address),
    );
    return false;
  }

  #retryNow(command: Command): void {
    this.stats.retries++;
    this.dispatch(command);
  }

  /**
   * Resends a command after a backoff, if that still fits its deadline. Its slot goes on
   * hold (cluster/slot-hold.ts): the slot's later commands wait behind it, then go in order.
   */
  #retryLater(command: Command, cause: RedisClusterError): void {
    const exponent = Math.min(command.attempts, 16);
    const delayMs = Math.min(this.#options.retryMaxDelayMs, this.#options.retryBaseDelayMs * 2 ** exponent);
    const jittered = delayMs * (0.5 + Math.random() / 2);
    if (performance.now() + jittered >= command.deadlineAt) {
      command.completeError(this.#finalError(command, cause));
      return;
    }
    this.stats.retries++;
    if (command.slot < 0 || command.pinnedAddress !== undefined) {
      setTimeout(() => this.dispatch(command), jittered); // no slot to keep in order
      return;
    }
    let hold = this.#holds.get(command.slot);
    if (hold === undefined) {
      hold = new SlotHold(command.slot, (settled) => this.#release(settled));
      this.#holds.set(command.slot, hold);
    }
    if (hold.probe === command) {
      // The probe failed again: back to the head of the line, and wait again.
      hold.probe = undefined;
      command.slotGate = undefined;
    }
    hold.enqueue(command);
    if (hold.timer === undefined && hold.probe === undefined) {
      const waiting = hold;
      hold.timer = setTimeout(() => this.#sendProbe(waiting), jittered);
    }
  }

  /** After the backoff: resend the first waiting command alone. */
  #sendProbe(hold: SlotHold): void {
    hold.timer = undefined;
    const now = performance.now();
    for (let next = hold.waiting.shift(); next !== undefined; next = hold.waiting.shift()) {
      if (next.deadlineAt <= now) {
        this.#timeout(next);
        continue;
      }
      hold.probe = next;
      next.slotGate = hold;
      this.dispatch(next);
      return;
    }
    this.#holds.delete(hold.slot);
  }

  /** The probe settled: the slot answers again; whatever waited goes, in order. */
  #release(hold: SlotHold): void {
    if (this.#holds.get(hold.slot) === hold) this.#holds.delete(hold.slot);
    clearTimeout(hold.timer);
    const now = performance.now();
    for (const command of hold.waiting.splice(0)) {
      if (command.deadlineAt <= now) this.#timeout(command);
      else this.dispatch(command);
    }
  }

  /**
   * The error a command ends with when its retries run out of time: never a raw cluster
   * reply (MOVED, TRYAGAIN, LOADING, ...), which only the client is meant to see.
   */
  #finalError(command: Command, cause: RedisClusterError): Error {
    if (cause instanceof ReplyError) {
      if (cause.code === "TRYAGAIN") {
        // A multi-key command on a slot that stayed mid-migration for the whole budget.
        return new TimeoutError(command.displayName, command.attempts, command.timeoutMs, { cause });
      }
      return new ClusterDownError(
        `${command.displayName}: slot ${command.slot} was not served within ${command.timeoutMs} ms (${cause.message})`,
        command.slot >= 0 ? command.slot : undefined,
        { cause },
      );
    }
    if (cause instanceof ConnectionError) {
      return new ConnectionError(
        `${command.displayName} failed after ${command.attempts} attempt(s): ${cause.message}`,
        cause.address,
        { cause },
      );
    }
    return cause;
  }

  #safeToResend(command: Command): boolean {
    if (this.#options.retryUnsafeWrites) return true;
    const info = command.info;
    if (info === undefined) return false;
    if (info.flags & CommandFlag.READONLY) return true;
    return (info.flags & CommandFlag.IDEMPOTENT) !== 0 && isIdempotentCall(info, command.args);
  }

  #isReplica(address: string): boolean {
    return this.#registry.get(address)?.role === "replica";
  }
}

function isFanOut(command: Command): boolean {
  const policy = command.info?.requestPolicy;
  return policy === "all_shards" || policy === "all_nodes";
}
