/**
 * Topology discovery: asks the cluster what it looks like, and decides what to believe.
 *
 * - Single flight: at most one refresh runs per client; every trigger (first use, MOVED, a
 *   node failure, CLUSTERDOWN, the periodic timer) joins it.
 * - Storm control: after a refresh, the next may start only after a minimum interval (with
 *   jitter, scaled to the cluster's size); triggers inside that window share one deferred run.
 * - One question when the answer fits: a refresh asks one node (a ready connection first).
 *   Its view is taken unless it contradicts what the client has seen — it serves fewer slots
 *   than the current table (or, on the first refresh, not all of them), or it disagrees with
 *   a `MOVED` that triggered the refresh. Then two more nodes are asked, and the view most of
 *   them agree on wins; on a tie, the view of the node with the highest
 *   `cluster_current_epoch`. A fleet of clients thus costs the servers about one
 *   `CLUSTER SHARDS` per client per event, and a lagging or confused node still cannot
 *   impose its view alone.
 * - Caution: a view that serves fewer slots than the current table replaces it only when
 *   every node asked agrees, or when the same view comes back on the next look; a node that
 *   just joined, or a reply cut short, cannot empty it.
 * - Bounded: one refresh asks at most `MAX_NODES_ASKED` nodes, however large the cluster.
 * - Closing stops a refresh under way: nothing is installed, nothing opened, after close().
 */

import { SLOT_COUNT } from "../command/slot.js";
import { formatAddress, type HostPort } from "../connection/address.js";
import { isPermanentFailure } from "../connection/connection.js";
import {
  AuthError,
  ClosedError,
  ClusterDownError,
  ConnectionError,
  type RedisClusterError,
  ReplyError,
} from "../errors.js";
import type { NodeEntry, NodeRegistry } from "./nodes.js";
import { diffTopology, isEmptyChange, Topology, type TopologyChange } from "./topology.js";
import {
  type AddressMapper,
  AmbiguousShardError,
  type ParseContext,
  parseClusterShards,
  parseClusterSlots,
} from "./topology-parse.js";

/** What topology discovery needs from the client. */
export interface DiscoveryOptions {
  seeds: HostPort[];
  registry: NodeRegistry;
  mapAddress: AddressMapper;
  tls: boolean;
  /** Budget of one topology query, in ms. */
  queryTimeoutMs: number;
  /** Minimum time between two refreshes, in ms; undefined scales it to the cluster's size. */
  minRefreshIntervalMs: number | undefined;
  /** Periodic refresh, in ms (jittered); 0 turns it off. */
  refreshIntervalMs: number;
  /**
   * Awaited before a topology is installed (replica health checks), so that the first
   * commands routed by it already know which replicas may serve.
   */
  prepare?(topology: Topology): Promise<void>;
  /** Called when a refresh failed (no node answered, or the cluster serves nothing). */
  onRefreshFailed?(error: Error): void;
  /** Called after a new topology is installed. */
  onTopology(topology: Topology, change: TopologyChange): void;
  /** Called after each periodic refresh, changed or not (health checks ride on it). */
  onPeriodicRefresh(topology: Topology): void;
  /** A node's view was not taken (see `ViewRejection`): for monitoring, the table is safe. */
  onViewRejected?(rejection: ViewRejection): void;
}

/** Nodes asked in all when the first view needs confirming. */
const CONSENSUS_SIZE = 3;
/** Once one view is in, how long to wait for the others before deciding. */
const CONSENSUS_WAIT_MS = 200;
/** How long the first node asked may take before the next ones are asked too. */
const HEDGE_MS = 300;
/** Most nodes one refresh asks, known nodes and seeds together. */
const MAX_NODES_ASKED = 12;
/** Most MOVED targets remembered for the next refresh to check its view against. */
const MAX_EXPECTATIONS = 16;

interface View {
  topology: Topology;
  address: string;
}

/** A node that gave no usable view, and why. */
interface Failure {
  address: string;
  error: Error;
}

/** A node whose view of the topology the client did not take, and why. */
export interface ViewRejection {
  /** `host:port` of the node whose view it was. */
  address: string;
  /** Other nodes asked agreed on another view; or it serves fewer slots than the table in use. */
  reason: "outvoted" | "fewer slots";
}

/** What a MOVED told the client: the next view should agree. */
export interface SlotOwner {
  slot: number;
  address: string;
}

/** Topology refreshes: single flight, storm control, consensus when a view does not fit (see the top of this file). */
export class Discovery {
  /** The topology in use; undefined until the first refresh succeeds. */
  current: Topology | undefined;
  /** Refreshes run so far. */
  refreshes = 0;
  /** `CLUSTER SHARDS`/`SLOTS` questions sent so far (one refresh asks one to a dozen nodes). */
  viewsAsked = 0;
  /** Views not taken: outvoted by other nodes, or serving fewer slots than the table in use. */
  viewsRejected = 0;
  /** Why the last refresh failed, if it did. */
  lastError: RedisClusterError | undefined;

  #options: DiscoveryOptions;
  #running: Promise<Topology> | undefined;
  #deferred:
    | { promise: Promise<Topology>; resolve: (t: Topology) => void; reject: (e: Error) => void }
    | undefined;
  #deferTimer: NodeJS.Timeout | undefined;
  #periodicTimer: NodeJS.Timeout | undefined;
  #nextAllowedAt = 0;
  #useClusterSlots = false;
  #closed = false;
  /** Fingerprint of the last smaller view refused, accepted if it comes back. */
  #refusedView: string | undefined;
  #lookAgainSoon = false;
  /** MOVED targets seen since the last refresh began. */
  #expectations: SlotOwner[] = [];
  /** Nodes whose connection failed since the last refresh began. */
  #lost = new Set<string>();
  /** The user may not run CLUSTER SHARDS (NOPERM): CLUSTER SLOTS from now on. */
  #shardsDenied = false;

  constructor(options: DiscoveryOptions) {
    this.#options = options;
  }

  /**
   * Joins the refresh in flight, or starts one now, or — inside the minimum interval after
   * the last one — joins the one deferred to the end of that interval.
   */
  refresh(): Promise<Topology> {
    if (this.#running) return this.#running;
    if (this.#closed) return Promise.reject(new ClusterDownError("the client is closed"));
    const waitMs = this.#nextAllowedAt - performance.now();
    if (waitMs > 0) return this.#deferredRefresh(waitMs);
    return this.#start();
  }

  /**
   * A refresh for a trigger that does not wait for it (MOVED, a node failure, ...). A MOVED
   * passes what it said (`expected`), for the refresh to check its first view against.
   */
  requestRefresh(expected?: SlotOwner): void {
    if (expected !== undefined && this.#expectations.length < MAX_EXPECTATIONS)
      this.#expectations.push(expected);
    // Already under way or scheduled: joining costs nothing (thousands of failing commands
    // may ask within one turn).
    if (this.#running !== undefined || this.#deferred !== undefined || this.#closed) return;
    this.refresh().catch(() => {
      // Recorded in lastError; commands waiting on a topology see it through their own path.
    });
  }

  /** Starts the periodic refresh. */
  startPeriodic(): void {
    const intervalMs = this.#options.refreshIntervalMs;
    if (intervalMs <= 0 || this.#closed) return;
    clearTimeout(this.#periodicTimer);
    this.#periodicTimer = setTimeout(
      () => {
        this.refresh().then(
          (topology) => this.#options.onPeriodicRefresh(topology),
          () => {}, // recorded in lastError
        );
        this.startPeriodic();
      },
      jitter(intervalMs, 0.1),
    );
    this.#periodicTimer.unref();
  }

  close(): void {
    this.#closed = true;
    clearTimeout(this.#periodicTimer);
    clearTimeout(this.#deferTimer);
    this.#deferred?.reject(new ClusterDownError("the client is closed"));
    this.#deferred = undefined;
  }

  #deferredRefresh(waitMs: number): Promise<Topology> {
    if (this.#deferred) return this.#deferred.promise;
    let resolve!: (t: Topology) => void;
    let reject!: (e: Error) => void;
    const promise = new Promise<Topology>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    promise.catch(() => {}); // a deferred run nobody awaits must not be an unhandled rejection
    this.#deferred = { promise, resolve, reject };
    this.#deferTimer = setTimeout(() => {
      const deferred = this.#deferred;
      this.#deferred = undefined;
      this.#deferTimer = undefined;
      if (!deferred) return;
      (this.#running ?? this.#start()).then(deferred.resolve, deferred.reject);
    }, waitMs);
    this.#deferTimer.unref();
    return promise;
  }

  #start(): Promise<Topology> {
    this.#lookAgainSoon = false;
    const running = this.#run().finally(() => {
      this.#running = undefined;
      // A refused view is checked again at once (the next trigger is not held back).
      const waitMs = this.#lookAgainSoon ? 0 : jitter(this.#minIntervalMs(), 0.25);
      this.#nextAllowedAt = performance.now() + waitMs;
    });
    running.catch((error: Error) => this.#options.onRefreshFailed?.(error));
    this.#running = running;
    return running;
  }

  #minIntervalMs(): number {
    const configured = this.#options.minRefreshIntervalMs;
    if (configured !== undefined) return configured;
    // Bigger clusters get more clients' refreshes per MOVED wave; space them out more.
    const nodes = this.current?.nodes.size ?? this.#options.seeds.length;
    return Math.min(1000, 100 + 10 * nodes);
  }

  async #run(): Promise<Topology> {
    this.refreshes++;
    const expectations = this.#expectations;
    this.#expectations = [];
    const lost = this.#lost;
    this.#lost = new Set();
    const failures: Failure[] = [];
    const candidates = this.#candidates();
    let next = 0;
    // One node first; more only when its view needs confirming (see the file comment).
    while (next < candidates.length) {
      const group = candidates.slice(next, next + CONSENSUS_SIZE);
      const first = await this.#firstView(group, failures);
      this.#checkOpen();
      if (first === undefined) {
        next += group.length;
        continue;
      }
      next += first.asked;
      const view = first.view;
      if (!this.#contradicts(view.topology, expectations, lost)) return await this.#decide([view], failures);
      const confirmers = candidates.slice(next, next + CONSENSUS_SIZE - 1);
      next += confirmers.length;
      const more = await this.#ask(confirmers, failures);
      this.#checkOpen();
      try {
        return await this.#decide([view, ...more], failures);
      } catch (error) {
        // This group's views serve nothing (nodes that lost the cluster, a cut reply):
        // another group may know better.
        if (!(error instanceof ClusterDownError)) throw error;
      }
    }
    const error = topologyUnreadable(failures);
    this.lastError = error;
    throw error;
  }

  /** Takes a decision over the views in, and records success. */
  async #decide(views: View[], failures: Failure[]): Promise<Topology> {
    try {
      const topology = await this.#choose(views);
      this.lastError = undefined;
      return topology;
    } catch (error) {
      if (error instanceof ClusterDownError) failures.push({ address: views[0]!.address, error });
      throw error;
    }
  }

  /**
   * Whether a lone view needs other nodes' word before it is believed: it serves fewer slots
   * than the table in use (on the first refresh: not all of them), it disagrees with a MOVED
   * that triggered the refresh, or it moves a slot in a way nothing the client saw explains —
   * explained are moves to a node a MOVED named (a reshard, a failover's new primary) and moves
   * away from a node whose connection failed (a primary that died).
   */
  #contradicts(view: Topology, expectations: readonly SlotOwner[], lost: ReadonlySet<string>): boolean {
    const current = this.current;
    if (current === undefined) return view.coveredSlots < SLOT_COUNT;
    if (view.coveredSlots < current.coveredSlots) return true;
    const namedByMoved = new Set<string>();
    for (const { slot, address } of expectations) {
      if (view.shardOf(slot)?.primary.address !== address) return true;
      namedByMoved.add(address);
    }
    for (let slot = 0; slot < SLOT_COUNT; slot++) {
      const was = current.shardOf(slot)?.primary.address;
      const is = view.shardOf(slot)?.primary.address;
      if (was === is || is === undefined) continue;
      if (namedByMoved.has(is) || (was !== undefined && lost.has(was))) continue;
      return true;
    }
    return false;
  }

  /** A node's connection failed: a view moving its slots elsewhere is expected (failover). */
  noteLost(address: string): void {
    this.#lost.add(address);
  }

  /** The refresh under way or scheduled, if any (settles either way). */
  get pending(): Promise<unknown> | undefined {
    return this.#running ?? this.#deferred?.promise;
  }

  /**
   * The first view one of `nodes` gives: asked one at a time — the next when one fails, and
   * all the rest at once when none has answered after `HEDGE_MS` (a node that stalls must
   * not hold the refresh). `asked` says how many of `nodes` were asked.
   */
  #firstView(nodes: HostPort[], failures: Failure[]): Promise<{ view: View; asked: number } | undefined> {
    return new Promise((resolve) => {
      let asked = 0;
      let pending = 0;
      let done = false;
      const finish = (result: { view: View; asked: number } | undefined) => {
        if (done) return;
        done = true;
        clearTimeout(hedge);
        resolve(result);
      };
      const askNext = () => {
        const node = nodes[asked++];
        if (node === undefined) return;
        pending++;
        this.#askOne(node).then(
          (view) => finish({ view, asked }),
          (error: Error) => {
            failures.push({ address: formatAddress(node.host, node.port), error });
            pending--;
            if (asked < nodes.length) askNext();
            else if (pending === 0) finish(undefined);
          },
        );
      };
      const hedge = setTimeout(() => {
        while (!done && asked < nodes.length) askNext();
      }, HEDGE_MS);
      askNext();
    });
  }

  #checkOpen(): void {
    if (this.#closed) throw new ClosedError("the client was closed during a topology refresh");
  }

  /**
   * Known nodes (ready connections first), then the seeds, each group shuffled; at most
   * `MAX_NODES_ASKED` in all, so that a huge (or hostile) topology cannot make one refresh
   * open thousands of connections.
   */
  #candidates(): HostPort[] {
    const known = this.current ? [...this.current.nodes.values()] : [];
    shuffle(known);
    known.sort(
      (a, b) => readiness(this.#options.registry, b.address) - readiness(this.#options.registry, a.address),
    );
    const seen = new Set(known.map((node) => node.address));
    const seeds = this.#options.seeds.filter((seed) => !seen.has(formatAddress(seed.host, seed.port)));
    shuffle(seeds);
    // Seeds keep a place even in a large cluster: after a scale-out the known nodes may all be gone.
    const knownShare = Math.min(
      known.length,
      seeds.length > 0 ? MAX_NODES_ASKED - CONSENSUS_SIZE : MAX_NODES_ASKED,
    );
    return [...known.slice(0, knownShare), ...seeds].slice(0, MAX_NODES_ASKED);
  }

  /** Asks several nodes at once; resolves with the views that came back in time. */
  #ask(nodes: HostPort[], failures: Failure[]): Promise<View[]> {
    if (nodes.length === 0) return Promise.resolve([]);
    return new Promise((resolve) => {
      const views: View[] = [];
      let pending = nodes.length;
      let done = false;
      let waitTimer: NodeJS.Timeout | undefined;
      const finish = () => {
        if (done) return;
        done = true;
        clearTimeout(waitTimer);
        resolve(views);
      };
      for (const node of nodes) {
        this.#askOne(node).then(
          (view) => {
            views.push(view);
            if (--pending === 0) finish();
            else waitTimer ??= setTimeout(finish, CONSENSUS_WAIT_MS);
          },
          (error: Error) => {
            failures.push({ address: formatAddress(node.host, node.port), error });
            if (--pending === 0) finish();
          },
        );
      }
    });
  }

  async #askOne(node: HostPort): Promise<View> {
    const entry = this.#options.registry.ensure(node.host, node.port, "primary");
    const context = { replierHost: node.host, mapAddress: this.#options.mapAddress, tls: this.#options.tls };
    const timeoutMs = this.#options.queryTimeoutMs;
    this.viewsAsked++;
    if (!this.#useClusterSlots && !this.#shardsDenied) {
      try {
        const reply = await entry.connection.request("CLUSTER", ["SHARDS"], { timeoutMs });
        return { topology: new Topology(parseClusterShards(reply, context)), address: entry.address };
      } catch (error) {
        // A shard naming two primaries (around a failover, Redis 7.2+): this node's
        // CLUSTER SLOTS says who serves what; the next refresh tries SHARDS again.
        if (error instanceof AmbiguousShardError) return await this.#askSlots(entry, context);
        if (!(error instanceof ReplyError)) throw error;
        if (error.code === "NOPERM") {
          // A hardened ACL may allow only CLUSTER SLOTS; it says the same, less richly.
          this.#shardsDenied = true;
        } else if (/unknown subcommand|unknown command/i.test(error.message)) {
          // Servers before 7.0 lack CLUSTER SHARDS: CLUSTER SLOTS from now on.
          this.#useClusterSlots = true;
        } else {
          throw error;
        }
      }
    }
    return this.#askSlots(entry, context);
  }

  async #askSlots(entry: NodeEntry, context: ParseContext): Promise<View> {
    try {
      const reply = await entry.connection.request("CLUSTER", ["SLOTS"], {
        timeoutMs: this.#options.queryTimeoutMs,
      });
      return { topology: new Topology(parseClusterSlots(reply, context)), address: entry.address };
    } catch (error) {
      if (error instanceof ReplyError && error.code === "NOPERM") throw permissionDenied(error);
      throw error;
    }
  }

  async #choose(all: View[]): Promise<Topology> {
    // A view that serves nothing cannot route anything (a node that lost the cluster, a
    // cluster not set up yet): never worth installing, nor a vote.
    const views = all.filter((view) => view.topology.coveredSlots > 0);
    if (views.length === 0) {
      throw new ClusterDownError(`${all[0]!.address} reports no slots served; keeping the current table`);
    }
    const groups = new Map<string, View[]>();
    for (const view of views) {
      const key = view.topology.fingerprint();
      const group = groups.get(key);
      if (group) group.push(view);
      else groups.set(key, [view]);
    }
    const ranked = [...groups.values()].sort((a, b) => b.length - a.length);
    let chosen = ranked[0]![0]!;
    if (ranked.length > 1 && ranked[0]!.length === ranked[1]!.length) {
      chosen = await this.#newestView(
        ranked.filter((group) => group.length === ranked[0]!.length).map((g) => g[0]!),
      );
    }
    const unanimous = groups.size === 1 && views.length > 1 && views.length === all.length;
    const winning = chosen.topology.fingerprint();
    for (const view of views) if (view.topology.fingerprint() !== winning) this.#reject(view, "outvoted");
    const current = this.current;
    const covered = chosen.topology.coveredSlots;
    const fingerprint = winning;
    if (
      current !== undefined &&
      covered < current.coveredSlots &&
      !unanimous &&
      fingerprint !== this.#refusedView
    ) {
      // Maybe a node that has not learned the whole cluster yet, or a cut reply: keep what we
      // have and look again soon; the same smaller view seen twice in a row is the truth.
      this.#refusedView = fingerprint;
      this.#reject(chosen, "fewer slots");
      this.#lookAgainSoon = true;
      return current;
    }
    this.#refusedView = undefined;
    await this.#options.prepare?.(chosen.topology);
    this.#checkOpen();
    this.#install(chosen.topology);
    return chosen.topology;
  }

  #reject(view: View, reason: ViewRejection["reason"]): void {
    this.viewsRejected++;
    this.#options.onViewRejected?.({ address: view.address, reason });
  }

  /** Among views that tie, the one whose node has seen the newest configuration. */
  async #newestView(views: View[]): Promise<View> {
    const epochs = await Promise.all(
      views.map(async (view) => {
        try {
          const entry = this.#options.registry.get(view.address);
          const info = await entry?.connection.request("CLUSTER", ["INFO"], {
            timeoutMs: this.#options.queryTimeoutMs,
          });
          const match = typeof info === "string" ? /cluster_current_epoch:(\d+)/.exec(info) : null;
          return match ? Number(match[1]) : -1;
        } catch {
          return -1;
        }
      }),
    );
    let best = 0;
    for (let i = 1; i < views.length; i++) {
      const newer = epochs[i]! > epochs[best]!;
      // Same epoch: the view that routes more slots.
      const wider =
        epochs[i] === epochs[best] && views[i]!.topology.coveredSlots > views[best]!.topology.coveredSlots;
      if (newer || wider) best = i;
    }
    return views[best]!;
  }

  #install(topology: Topology): void {
    const previous = this.current;
    this.current = topology;
    this.#options.registry.sync(topology);
    const change = diffTopology(previous, topology);
    if (previous === undefined || !isEmptyChange(change)) this.#options.onTopology(topology, change);
  }
}

/**
 * No node gave a usable view. When every node refused for the same permanent reason (the
 * user may not read the topology, wrong credentials), that is the error: waiting will not
 * help, and the caller should be told at once.
 */
function topologyUnreadable(failures: Failure[]): RedisClusterError {
  const text = failures.map(({ address, error }) => `${address} (${error.message})`).join("; ");
  const causes = failures.map(({ error }) => credentialFailure(error));
  const permanent = causes.length > 0 && causes.every((cause) => cause !== undefined);
  if (permanent) {
    // Refused credentials or permissions are the answer itself: an AuthError (the node's
    // own, from the handshake, or one made of the refusal), which commands fail with at once.
    const first = failures[0]!;
    if (first.error instanceof AuthError) return first.error;
    return new AuthError(`could not read the cluster topology: ${text}`, first.address, { cause: causes[0] });
  }
  // A credentials provider that fails, TLS that cannot work: no retry helps either.
  const setup = failures[0]?.error;
  if (setup !== undefined && failures.every(({ error }) => isPermanentFailure(error))) {
    return setup as RedisClusterError;
  }
  return new ConnectionError(
    `could not read the cluster topology from any node: ${text || "no nodes to ask"}`,
    undefined,
    { cause: permanent ? causes[0] : failures[0]?.error },
  );
}

const CREDENTIAL_CODES = new Set(["WRONGPASS", "NOAUTH", "NOPERM"]);

/**
 * The server's refusal behind an error, when it is about who the client is (wrong
 * credentials, missing permission): retrying changes nothing until someone fixes the ACL.
 *
 * @example
 * credentialFailure(new ReplyError("NOPERM ...")); // that ReplyError
 */
export function credentialFailure(error: unknown): ReplyError | undefined {
  for (let at = error, depth = 0; at instanceof Error && depth < 4; at = at.cause, depth++) {
    if (at instanceof ReplyError && CREDENTIAL_CODES.has(at.code)) return at;
  }
  return undefined;
}

/** The user may run neither CLUSTER SHARDS nor CLUSTER SLOTS. */
function permissionDenied(cause: ReplyError): ReplyError {
  const error = new ReplyError(
    "NOPERM this user may run neither CLUSTER SHARDS nor CLUSTER SLOTS, which the client needs to " +
      "find the slots: grant them, e.g. ACL SETUSER <user> +cluster|shards +cluster|slots +cluster|info",
    "CLUSTER SLOTS",
  );
  error.cause = cause;
  return error;
}

function readiness(registry: NodeRegistry, address: string): number {
  const entry = registry.get(address);
  return entry?.hasConnection && entry.connection.state === "ready" ? 1 : 0;
}

function shuffle<T>(items: T[]): void {
  for (let i = items.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [items[i], items[j]] = [items[j]!, items[i]!];
  }
}

/** `value` ± `spread` (a fraction), so that many clients do not act in lockstep. */
export function jitter(value: number, spread: number): number {
  return value * (1 - spread + Math.random() * 2 * spread);
}
