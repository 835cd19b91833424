/**
 * The one place that decides where and how a command is sent, and the one retry loop.
 *
 * Sending: every command — routed by its slot, pinned to a node (node handles, fan-out
 * parts), redirected by ASK, retried — reaches a node through `#send`, which picks the
 * node's shared multiplexed connection, or one of its pooled dedicated connections for a
 * call that blocks on keys and for WATCH (cluster/dedicated.ts). Nothing else in the client
 * chooses a connection. What is decided per node is decided there too: a transaction's
 * MULTI … EXEC goes as one unit (ASKING first when redirected by ASK), a `defineScript()`
 * script as EVALSHA where the node is known to have it, else as EVAL.
 *
 * Commands of a WATCH session (`pinnedConnection`) go over that session's connection and
 * are never resent elsewhere after a failure: the watches died with it. A redirection there
 * means the slot is moving: a read follows it (on shared connections), and the session's
 * transaction resolves `null` (aborted, retryable) instead of committing anywhere.
 *
 * Every outcome that is not a plain reply comes back here, is classified once, and ends in
 * exactly one of:
 *
 * - **redirect**: `MOVED` patches the slot table, triggers one refresh and resends at once;
 *   `ASK` resends to the target with `ASKING`, table untouched;
 * - **retry**: `TRYAGAIN`, `CLUSTERDOWN`, `LOADING`, `MASTERDOWN`, `READONLY`, `UNBLOCKED`,
 *   a refused or lost connection — resent after a bounded, jittered exponential backoff, if
 *   that still fits in the command's deadline; a read that failed on a replica is resent at
 *   once to another node of the same shard. While a command of a slot waits to be retried,
 *   the slot's later commands wait behind it (cluster/slot-hold.ts);
 * - **fail**: a typed error. A write whose connection broke after it was sent is failed
 *   (its outcome is unknown) unless it is idempotent or `retryUnsafeWrites` is set.
 *
 * Commands that cannot be routed (no topology yet, slot unserved) wait in the offline queue
 * and are dispatched, in order, when a topology is installed. Every queue a command can wait
 * in is bounded and watched by an alarm at its earliest deadline.
 */
import { type Command, NO_SLOT } from "../command/command.js";
import { Gather, GatherPart } from "../command/gather.js";
import { CommandFlag, isIdempotentCall } from "../command/table.js";
import { formatAddress, type HostPort } from "../connection/address.js";
import { isAllowListRefusal } from "../connection/allow-list.js";
import { type Connection, isPermanentFailure } from "../connection/connection.js";
import {
  ArgumentError,
  ClosedError,
  ClusterDownError,
  ConnectionError,
  MaxRedirectionsError,
  RedisClusterError,
  ReplyError,
  TimeoutError,
} from "../errors.js";
import { traceDispatch, tracingBatches, tracingCommands } from "../observe/channels.js";
import { CommandBatch, DeadlineQueue } from "./deadline-queue.js";
import { KeptOnConnection, OnDedicatedConnection } from "./dedicated.js";
import { credentialFailure, type Discovery } from "./discovery.js";
import { fanOutTargets, keylessPlan, mergeFanOut } from "./fanout.js";
import { relaxForWindow } from "./maintenance.js";
import type { NodeEntry, NodeRegistry } from "./nodes.js";
import { classifyReplyError, FINAL_OUTCOME, type ReplyOutcome } from "./redirect.js";
import type { Router } from "./router.js";
import { SlotHold } from "./slot-hold.js";
import type { Topology } from "./topology.js";

/**
 * ASK for WATCH: the slot is migrating and a watched key is not (or no longer) on the
 * source. Watching on the target would need ASKING before every later command of the
 * session; waiting for the migration to end is simpler, and bounded by the deadline.
 */
const WAIT_FOR_MIGRATION: ReplyOutcome = { kind: "retry", refresh: false, code: "ASK" };

/** Scripts remembered per node (NodeEntry.scripts) before the set is started over. */
const MAX_KNOWN_SCRIPTS = 1024;

/** The client options the executor reads. */
export interface ExecutorOptions {
  maxRedirections: number;
  /** natMap: the address a node announces → the one to connect to. */
  mapAddress: (host: string, port: number) => HostPort;
  retryUnsafeWrites: boolean;
  /** Commands that may wait for a topology; also the bound of each held slot's line. */
  maxOfflineQueue: number;
  /** First retry delay in ms; doubles per attempt up to `retryMaxDelayMs`. */
  retryBaseDelayMs: number;
  retryMaxDelayMs: number;
}

/** The executor's counters (part of `cluster.stats()`). */
export interface ExecutorStats {
  /** Commands sent to a node (each command once, however many attempts it took). */
  commands: number;
  /** Attempts beyond the first (redirections included). */
  retries: number;
  /** `MOVED` redirections followed. */
  moved: number;
  /** `ASK` redirections followed. */
  ask: number;
  /** Connections that failed to open or were lost (each once, however many commands it carried). */
  connectionErrors: number;
  /** Commands whose deadline passed (a `TimeoutError`, or the error that kept them retrying). */
  timeouts: number;
  /** Commands that went through the offline queue. */
  queuedOffline: number;
}

/** What the executor tells the client about (the client turns them into its events). */
export interface ExecutorEvents {
  moved(slot: number, from: string, to: string): void;
  ask(slot: number, from: string, to: string): void;
}

/** Sends every command and runs the one retry loop (see the top of this file). */
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
  #offline: DeadlineQueue<Command | CommandBatch>;
  /** Slots whose commands wait behind a retry (cluster/slot-hold.ts). */
  #holds = new Map<number, SlotHold>();
  /** Commands sleeping before a retry that no slot orders (keyless, pinned, blocking). */
  #sleeping = new Map<Command, NodeJS.Timeout>();
  /** Nodes whose connection failed, until the refresh that followed has ended. */
  #suspects = new Set<string>();
  /** Commands parked until the refresh under way ends (see #waitForRefresh). */
  #awaiting: DeadlineQueue<Command>;
  /** The refresh whose end releases `#awaiting`. */
  #awaitingFor: Promise<unknown> | undefined;

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
    this.#awaiting = new DeadlineQueue(options.maxOfflineQueue, (command) =>
      this.#expire(command, command.retryCause),
    );
    this.#offline = new DeadlineQueue(options.maxOfflineQueue, (entry) => {
      if (entry instanceof CommandBatch) for (const command of entry.commands) this.#expireOffline(command);
      else this.#expireOffline(entry);
    });
  }

  /** Commands waiting for a topology or for their slot to be served. */
  get offlineCount(): number {
    return this.#offline.length;
  }

  /**
   * Sends a batch (a pipeline, a split command's parts) in order. Before the first topology
   * it waits as one entry of the offline queue, so that a large batch issued at start-up
   * does not fill it.
   */
  dispatchAll(commands: Command[]): void {
    if (this.#discovery.current !== undefined || commands.length <= 1) {
      for (const command of commands) this.dispatch(command);
      return;
    }
    if (this.closed) {
      for (const command of commands) command.completeError(new ClosedError());
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

  /** Routes and sends one command. Never throws: whatever goes wrong settles the command. */
  dispatch(command: Command): void {
    // Traced from its first dispatch, in its caller's context (observe/channels.ts).
    if (command.attempts === 0 && this.#startsTrace(command)) {
      traceDispatch(command, command.unit?.size, this.#dispatchNow, this);
      return;
    }
    this.#dispatchNow(command);
  }

  /**
   * Whether this first dispatch starts the command's trace: someone listens (a transaction
   * is traced on `rediscluster:batch`), or a pipeline made its trace already, and it is not
   * traced yet. A fan-out is traced by its parts, one per node. When nobody listens, this is
   * one `hasSubscribers` check per sub-channel and nothing else.
   */
  #startsTrace(command: Command): boolean {
    const trace = command.trace;
    const listened =
      trace !== undefined
        ? !trace.started
        : command.unit === undefined
          ? tracingCommands()
          : tracingBatches();
    return listened && !this.#fansOut(command);
  }

  #dispatchNow(command: Command): void {
    try {
      this.#route(command);
    } catch (error) {
      // A bug or an unexpected exception below (an address the OS refuses, a callback that
      // threw): the command still settles, with a typed error, instead of being lost.
      command.completeError(
        error instanceof RedisClusterError
          ? error
          : new ConnectionError(
              `${command.displayName} could not be sent: ${describeThrown(error)}`,
              undefined,
              {
                cause: error,
              },
            ),
      );
    }
  }

  /** A keyless command sent to every primary (or node) as parts of its own. */
  #fansOut(command: Command): boolean {
    return (
      command.slot === NO_SLOT &&
      command.pinnedAddress === undefined &&
      command.pinnedConnection === undefined &&
      command.info !== undefined &&
      keylessPlan(command.info).kind === "all"
    );
  }

  #route(command: Command): void {
    if (command.settled) return; // abandoned (AbortSignal) while it waited somewhere
    if (this.closed) {
      command.completeError(new ClosedError());
      return;
    }
    // Client-side caching (src/cache): a read it holds is answered here, before any routing;
    // a write tells it which keys to forget.
    if (command.cacheHook?.route(command)) return;
    const pinnedConnection = command.pinnedConnection;
    if (pinnedConnection !== undefined) {
      if (command.attempts > 0 && performance.now() >= command.deadlineAt) {
        this.#timeout(command);
        return;
      }
      if (command.attempts === 0) this.stats.commands++;
      this.#sendPinned(pinnedConnection, command);
      return;
    }
    if (
      this.#holds.size > 0 &&
      command.slotGate === undefined &&
      command.slot >= 0 &&
      command.pinnedAddress === undefined
    ) {
      const hold = this.#holds.get(command.slot);
      if (hold !== undefined) {
        if (!hold.enqueue(command)) command.completeError(this.#holdFull(command)); // behind the retry of its slot
        return;
      }
    }
    const topology = this.#discovery.current;
    if (command.slot === NO_SLOT && command.pinnedAddress === undefined && command.info !== undefined) {
      const plan = keylessPlan(command.info);
      if (plan.kind === "refuse") {
        command.completeError(new ArgumentError(plan.reason, command.displayName));
        return;
      }
      // A fan-out's parts are pinned to their nodes, and each is counted as a command.
      if (plan.kind === "all" && topology !== undefined) {
        this.#fanOut(command, topology, plan.policy, plan.merge);
        return;
      }
    }
    if (command.attempts > 0 && performance.now() >= command.deadlineAt) {
      this.#expire(command, command.retryCause);
      return;
    }
    const askAddress = command.askAddress;
    if (askAddress !== undefined) {
      command.askAddress = undefined;
      const entry = this.#registry.get(askAddress);
      if (entry !== undefined) {
        this.#send(entry, command, true);
        return;
      }
    }
    const pinnedAddress = command.pinnedAddress;
    if (pinnedAddress !== undefined) {
      const entry = this.#registry.get(pinnedAddress);
      if (entry === undefined) {
        command.completeError(
          new ConnectionError(
            `${command.displayName}: ${pinnedAddress} is no longer part of the cluster`,
            pinnedAddress,
          ),
        );
        return;
      }
      this.#send(entry, command, false);
      return;
    }
    const node = topology === undefined ? undefined : this.#router.pick(topology, command);
    if (node === undefined) {
      this.#waitForTopology(command);
      return;
    }
    if (this.#suspects.size > 0 && this.#suspects.has(node.address) && this.#awaitRefresh(command)) return;
    const entry = this.#registry.get(node.address) ?? this.#registry.ensure(node.host, node.port, node.role);
    this.#send(entry, command, false);
  }

  /**
   * A node whose connection just failed is suspect until the refresh that the failure started
   * has ended: a command routed to it meanwhile waits for that refresh (it may name a new
   * primary), instead of going to a node that is down or silent and waiting out its
   * deadline there. False when no refresh is pending any more: the node is trusted again.
   */
  #awaitRefresh(command: Command): boolean {
    const pending = this.#discovery.pending;
    if (pending === undefined) {
      this.#suspects.clear();
      return false;
    }
    this.#waitForRefresh(command, pending);
    return true;
  }

  /** Parks `command` until `pending` (a refresh) settles, within its deadline, then routes it. */
  #waitForRefresh(command: Command, pending: Promise<unknown>): void {
    if (!this.#awaiting.push(command)) {
      command.completeError(this.#offlineFull(command));
      return;
    }
    if (this.#awaitingFor === pending) return;
    this.#awaitingFor = pending;
    const resume = () => {
      if (this.#awaitingFor === pending) this.#awaitingFor = undefined;
      for (const waiting of this.#awaiting.drain()) this.dispatch(waiting);
    };
    void pending.then(resume, resume);
  }

  /**
   * Hands a command to a node: on the node's shared connection, or — for a call that blocks
   * on keys — on one of its dedicated connections, so that the wait never holds up the
   * commands queued behind it. `asking` sends `ASKING` right before it, on the same one.
   */
  #send(entry: NodeEntry, command: Command, asking: boolean): void {
    if (command.attempts++ === 0) this.stats.commands++;
    if (command.trace !== undefined)
      command.trace.sentTo(entry.endpoint?.host ?? entry.host, entry.endpoint?.port ?? entry.port);
    // The node announced maintenance (cluster/maintenance.ts): this command gets more time.
    if (entry.relaxedUntil !== 0) relaxForWindow(entry, command);
    if (command.script !== undefined) this.#chooseScriptForm(entry, command);
    if (command.unit !== undefined) {
      entry.connection.sendUnit(command.unit.sendables(), asking);
      return;
    }
    if (command.blocking?.dedicated === true || command.keeper !== undefined) {
      this.#sendDedicated(entry, command, asking);
      return;
    }
    const connection = entry.connection;
    // A cacheable read notes where it went; in OPTIN mode `CLIENT CACHING YES` goes right before it.
    const first = command.cacheHook?.sending(connection, asking);
    if (first !== undefined) connection.sendUnit([first, command], asking);
    else if (asking) connection.sendAsking(command);
    else connection.send(command);
  }

  /** A WATCH session's command (or transaction), on the session's own connection. */
  #sendPinned(connection: Connection, command: Command): void {
    command.attempts++;
    if (command.trace !== undefined) command.trace.sentTo(connection.host, connection.port);
    if (command.script !== undefined) {
      const entry = this.#registry.get(connection.address);
      if (entry !== undefined) this.#chooseScriptForm(entry, command);
    }
    if (command.unit !== undefined) connection.sendUnit(command.unit.sendables());
    else connection.send(command);
  }

  /**
   * EVALSHA where the node has been sent the script (an EVAL caches it there), else EVAL —
   * so that the first call to a node (a new one, a promoted replica) costs no NOSCRIPT round
   * trip, and a pipeline's later commands never overtake a script that had to be resent.
   */
  #chooseScriptForm(entry: NodeEntry, command: Command): void {
    const script = command.script!;
    const known = entry.scripts.has(script.sha);
    command.name = script.readOnly ? (known ? "EVALSHA_RO" : "EVAL_RO") : known ? "EVALSHA" : "EVAL";
    command.args[0] = known ? script.sha : script.lua;
    if (!known) {
      if (entry.scripts.size >= MAX_KNOWN_SCRIPTS) entry.scripts.clear();
      entry.scripts.add(script.sha);
    }
  }

  #sendDedicated(entry: NodeEntry, command: Command, asking: boolean): void {
    const pool = entry.dedicated;
    pool.acquire({
      deadlineAt: command.deadlineAt,
      granted: (connection) => {
        if (command.settled) {
          pool.release(connection, true); // abandoned while it waited for this connection
          return;
        }
        const sendable =
          command.keeper === undefined
            ? new OnDedicatedConnection(command, pool, connection)
            : new KeptOnConnection(command, pool, connection);
        if (asking) connection.sendAsking(sendable);
        else connection.send(sendable);
      },
      expired: () => this.onExpire(command),
      // The pool closed under it (the node left the cluster) or its line is full; nothing
      // was sent, so the usual rules apply.
      refused: (error) => this.#failed(command, error, false, entry.address),
    });
  }

  /** Sends a keyless command to every primary (or node) and merges the replies. */
  #fanOut(
    command: Command,
    topology: Topology,
    policy: "all_shards" | "all_nodes" | "multi_shard" | "special",
    merge: Parameters<typeof mergeFanOut>[0],
  ): void {
    const targets = fanOutTargets(policy, topology);
    const gather = new Gather(targets.length, (outcomes) => {
      try {
        command.complete(mergeFanOut(merge, outcomes));
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
        command.info,
        command.wantsBuffers,
        remainingMs,
      );
      part.pinnedAddress = node.address;
      part.blocking = command.blocking; // WAIT: each primary may take its timeout
      this.dispatch(part);
    });
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

  /**
   * The topology could not be read. Commands keep waiting (until their deadline) for the
   * next try — unless every node refused who we are (wrong credentials, no permission to
   * read the topology) or the TLS setup cannot work: waiting cannot help, so they fail now,
   * with that cause.
   */
  onRefreshFailed(error: Error): void {
    if (this.#offline.length === 0) return;
    if (this.#discovery.current === undefined && isPermanent(error)) {
      const failure = error instanceof RedisClusterError ? error : new ConnectionError(error.message);
      for (const entry of this.#offline.drain()) {
        if (entry instanceof CommandBatch)
          for (const command of entry.commands) command.completeError(failure);
        else entry.completeError(failure);
      }
      return;
    }
    this.#discovery.requestRefresh();
  }

  /**
   * A node connection failed to open, or broke (once per connection, whatever it carried):
   * counted, and the topology is read again, since it may mean a failover.
   */
  onConnectionLost(address: string): void {
    this.stats.connectionErrors++;
    if (this.closed) return;
    this.#discovery.noteLost(address);
    this.#discovery.requestRefresh();
    this.#suspects.add(address);
  }

  /** Fails every command waiting offline, behind a held slot, or sleeping before a retry. */
  failPending(error: RedisClusterError): void {
    for (const entry of this.#offline.drain()) {
      if (entry instanceof CommandBatch) for (const command of entry.commands) command.completeError(error);
      else entry.completeError(error);
    }
    for (const hold of this.#holds.values()) {
      for (const command of hold.drain()) command.completeError(error);
    }
    this.#holds.clear();
    for (const [command, timer] of this.#sleeping) {
      clearTimeout(timer);
      command.completeError(error);
    }
    this.#sleeping.clear();
    for (const command of this.#awaiting.drain()) command.completeError(error);
  }

  // ── outcomes ──────────────────────────────────────────────────────────────────────────

  onErrorReply(command: Command, error: ReplyError, connection: Connection): void {
    if (error.code === "NOSCRIPT" && command.script !== undefined && command.name.startsWith("EVALSHA")) {
      // The node lost the script (SCRIPT FLUSH, a restart): it is sent whole, and cached again.
      this.#registry.get(connection.address)?.scripts.delete(command.script.sha);
      this.#retryNow(command);
      return;
    }
    if (command.unit !== undefined && error.code === "EXECABORT")
      error = whyAborted(error, command.unit.refusals());
    let outcome = classifyReplyError(error);
    // A command for a given node takes that node's answer, redirections included.
    if (command.pinnedAddress !== undefined && outcome.kind !== "retry") outcome = FINAL_OUTCOME;
    if (command.pinnedConnection !== undefined && outcome.kind !== "final") {
      if (command.unit !== undefined) {
        // A WATCH session's transaction: EXEC discarded it and dropped every watch, so it
        // cannot be resent anywhere. Aborted, as a WATCH conflict is: the caller retries.
        if (outcome.kind === "moved") this.#learnMoved(outcome, connection);
        command.complete(null);
        return;
      }
      // A read of a WATCH session on a slot that moves: it follows the redirection (on the
      // shared connections); the session's transaction will be refused by this node.
      if (outcome.kind !== "retry") command.pinnedConnection = undefined;
    }
    if (command.keeper !== undefined && outcome.kind === "ask") outcome = WAIT_FOR_MIGRATION;
    // Resent, it may be answered by another process, which does not know this cursor.
    if (command.cursorIndex >= 0 && outcome.kind !== "final") command.args[command.cursorIndex] = "0";
    switch (outcome.kind) {
      case "final":
        error.command = command.displayName;
        command.completeError(error);
        return;
      case "moved": {
        if (!this.#countRedirection(command, connection)) return;
        this.stats.moved++;
        const entry = this.#learnMoved(outcome, connection);
        if (entry === undefined) {
          // A node that redirects to itself is about to drop this connection (managed
          // services do this): retry on a fresh one rather than loop; what is in flight on
          // the old one still gets its replies.
          this.#registry.get(connection.address)?.renew(connection);
          this.#retryLater(command, error);
          return;
        }
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

  /**
   * What a MOVED teaches: the slot's new owner, patched into the table at once, and a
   * refresh asked for. Returns the owner's entry; undefined when the node named itself.
   */
  #learnMoved(
    outcome: { slot: number; host: string; port: number },
    connection: Connection,
  ): NodeEntry | undefined {
    const { host, port } = this.#redirectTarget(outcome, connection);
    const target = formatAddress(host, port);
    this.#events.moved(outcome.slot, connection.address, target);
    this.#discovery.requestRefresh({ slot: outcome.slot, address: target });
    if (target === connection.address) return undefined;
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
    return entry;
  }

  onFailure(command: Command, error: RedisClusterError, written: boolean, connection: Connection): void {
    this.#failed(command, error, written, connection.address);
  }

  /**
   * The deadline passed before an answer. A command that was being retried because the slot
   * was not served (CLUSTERDOWN, LOADING, ...) ends saying so, as when its retries run out;
   * otherwise it is a TimeoutError, with what made it retry as the cause.
   */
  onExpire(command: Command): void {
    this.#expire(command, command.retryCause);
  }

  #expire(command: Command, cause: RedisClusterError | undefined): void {
    this.stats.timeouts++;
    if (cause instanceof ReplyError) command.completeError(this.#finalError(command, cause));
    else
      command.completeError(
        new TimeoutError(command.displayName, command.attempts, command.timeoutMs, cause && { cause }),
      );
  }

  /** No answer will come for `command` from `address`: retry, or fail it. */
  #failed(command: Command, error: RedisClusterError, written: boolean, address: string): void {
    if (this.closed) {
      command.completeError(error instanceof ClosedError ? error : new ClosedError());
      return;
    }
    if (error instanceof ArgumentError) {
      command.completeError(error); // refused before any byte was sent: nothing to retry
      return;
    }
    if (isPermanent(error)) {
      command.completeError(error); // wrong credentials or TLS setup do not get better with retries
      return;
    }
    if (isAllowListRefusal(error) && isAllowListRefusal(command.retryCause)) {
      // Refused again after the refresh the first refusal started (retries after a connection
      // failure wait for it): the topology does not name that host, and waiting will not help.
      command.completeError(error);
      return;
    }
    if (command.pinnedConnection !== undefined) {
      // A WATCH session's connection: its watches are gone with it, so nothing is resent.
      command.completeError(
        error instanceof ConnectionError
          ? new ConnectionError(
              `${command.displayName}: the connection of its WATCH session to ${address} broke`,
              address,
              { cause: error, outcomeUnknown: written && !this.#safeToResend(command) },
            )
          : error,
      );
      return;
    }
    if (command.cursorIndex >= 0) command.args[command.cursorIndex] = "0"; // see onErrorReply
    // A node that fails (or is still in its reconnect backoff) may be gone in a failover:
    // the topology is read again while its commands keep failing, not only when a new
    // connection attempt fails (those grow apart with the backoff). A closed connection
    // is one we retired (node left, role changed), not a failure.
    if (!(error instanceof ClosedError)) this.#discovery.requestRefresh();
    if (written && !this.#safeToResend(command)) {
      command.completeError(
        new ConnectionError(
          `${command.displayName} may or may not have run on ${address}: the connection broke after it ` +
            "was sent, so it was not retried (set retryUnsafeWrites: true to resend such writes)",
          address,
          { cause: error, outcomeUnknown: true },
        ),
      );
      return;
    }
    if (command.replicaReadable && this.#isReplica(address)) {
      command.avoidAddress = address;
      this.#retryNow(command);
      return;
    }
    if (written) command.unanswered = true;
    this.#retryLater(command, error);
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

  #holdFull(command: Command): ClusterDownError {
    return new ClusterDownError(
      `${command.displayName}: ${this.#options.maxOfflineQueue} commands already wait for slot ${command.slot} ` +
        "to answer again (maxOfflineQueue)",
      command.slot,
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
   * A blocking call never holds its slot: resent, it may block again, and the write that
   * would wake it would wait behind it.
   */
  #retryLater(command: Command, cause: RedisClusterError): void {
    const exponent = Math.min(command.attempts, 16);
    const delayMs = Math.min(this.#options.retryMaxDelayMs, this.#options.retryBaseDelayMs * 2 ** exponent);
    const jittered = delayMs * (0.5 + Math.random() / 2);
    if (performance.now() + jittered >= command.deadlineAt) {
      // Sent, and never answered before its time ran out (a node gone silent): a timeout.
      command.completeError(
        command.unanswered && cause instanceof ConnectionError
          ? new TimeoutError(command.displayName, command.attempts, command.timeoutMs, { cause })
          : this.#finalError(command, cause),
      );
      return;
    }
    this.stats.retries++;
    command.retryCause = cause;
    if (
      command.slot < 0 ||
      command.pinnedAddress !== undefined ||
      command.pinnedConnection !== undefined ||
      command.blocking !== undefined
    ) {
      const timer = setTimeout(() => {
        this.#sleeping.delete(command);
        // After a connection failure, not before the refresh it started has ended.
        const pending = cause instanceof ConnectionError ? this.#discovery.pending : undefined;
        if (pending === undefined) this.dispatch(command);
        else this.#waitForRefresh(command, pending);
      }, jittered);
      this.#sleeping.set(command, timer);
      return;
    }
    let hold = this.#holds.get(command.slot);
    if (hold === undefined) {
      hold = new SlotHold(
        command.slot,
        cause,
        this.#options.maxOfflineQueue,
        (settled) => this.#release(settled),
        // Waiting behind the retry, it shares the reason the slot is held.
        (expired, held) => this.#expire(expired, expired.retryCause ?? held.cause),
      );
      this.#holds.set(command.slot, hold);
    } else {
      hold.cause = cause;
    }
    if (hold.probe === command) {
      // The probe failed again: back to the head of the line, and wait again.
      hold.probe = undefined;
      command.slotGate = undefined;
    }
    hold.enqueue(command, true);
    if (hold.timer === undefined && hold.probe === undefined) {
      const waiting = hold;
      hold.timer = setTimeout(
        () => this.#afterRefreshFor(waiting.cause, () => this.#sendProbe(waiting)),
        jittered,
      );
    }
  }

  /**
   * Runs `resend` (a held slot's probe) at once — or, when a connection failed, once the
   * topology refresh that the failure started has ended: resent by the old table, the
   * command would go to the same dead or silent node again (a failover is what the refresh
   * may find). The held commands' deadlines are watched by their hold meanwhile.
   */
  #afterRefreshFor(cause: RedisClusterError, resend: () => void): void {
    const pending = cause instanceof ConnectionError ? this.#discovery.pending : undefined;
    if (pending === undefined) resend();
    else void pending.then(resend, resend);
  }

  /** After the backoff: resend the first waiting command alone. */
  #sendProbe(hold: SlotHold): void {
    hold.timer = undefined;
    const now = performance.now();
    for (let next = hold.shift(); next !== undefined; next = hold.shift()) {
      if (next.deadlineAt <= now) {
        this.#expire(next, next.retryCause ?? hold.cause);
        continue;
      }
      hold.probe = next;
      next.slotGate = hold;
      this.dispatch(next);
      return;
    }
    if (this.#holds.get(hold.slot) === hold) this.#holds.delete(hold.slot);
  }

  /** The probe settled: the slot answers again; whatever waited goes, in order. */
  #release(hold: SlotHold): void {
    if (this.#holds.get(hold.slot) === hold) this.#holds.delete(hold.slot);
    const now = performance.now();
    for (const command of hold.drain()) {
      if (command.deadlineAt <= now) this.#expire(command, command.retryCause ?? hold.cause);
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
    if (command.keeper !== undefined) return true; // WATCH: it only set up the connection that broke
    if (this.#options.retryUnsafeWrites) return true;
    if (command.unit !== undefined) return command.unit.readOnly;
    const info = command.info;
    if (info === undefined) return false;
    if (info.flags & CommandFlag.READONLY) return true;
    return (info.flags & CommandFlag.IDEMPOTENT) !== 0 && isIdempotentCall(info, command.args);
  }

  #isReplica(address: string): boolean {
    return this.#registry.get(address)?.role === "replica";
  }
}

/**
 * What decides a transaction that EXEC discarded (EXECABORT): a command the server refused
 * for good (a syntax error, OOM, NOPERM) makes it fail anywhere — the EXECABORT is final, with
 * that error as its cause; otherwise the redirection that refused its commands (MOVED before
 * ASK before TRYAGAIN and the like) says where and when to resend it whole.
 */
function whyAborted(execAbort: ReplyError, refusals: readonly ReplyError[]): ReplyError {
  let decisive: ReplyError | undefined;
  let rank = 0;
  for (const refusal of refusals) {
    const kind = classifyReplyError(refusal).kind;
    if (kind === "final") return new ReplyError(execAbort.message, "EXEC", { cause: refusal });
    const refusalRank = kind === "moved" ? 3 : kind === "ask" ? 2 : 1;
    if (refusalRank > rank) {
      rank = refusalRank;
      decisive = refusal;
    }
  }
  return decisive ?? execAbort;
}

function describeThrown(error: unknown): string {
  if (error instanceof Error) return error.message;
  return typeof error;
}

/** Refused credentials or permissions, or TLS that cannot work: no retry helps (issue 17.9). */
function isPermanent(error: unknown): boolean {
  return credentialFailure(error) !== undefined || isPermanentFailure(error);
}
