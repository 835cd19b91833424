/**
 * Topology discovery: asks the cluster what it looks like, and decides what to believe.
 *
 * - Single flight: at most one refresh runs per client; every trigger (first use, MOVED, a
 *   node failure, CLUSTERDOWN, the periodic timer) joins it.
 * - Storm control: after a refresh, the next may start only after a minimum interval (with
 *   jitter, scaled to the cluster's size); triggers inside that window share one deferred run.
 * - Consensus: a refresh asks up to three known nodes at once (known nodes first, seeds last,
 *   so a dead seed list after a scale-out still works) and takes the view most of them
 *   agree on; on a tie, the view of the node with the highest `cluster_current_epoch`.
 * - Caution: a view that serves fewer slots than the current table replaces it only when
 *   every node asked agrees; a node that just joined, or a reply cut short, cannot empty it.
 */
import { formatAddress, type HostPort } from "../connection/address.js";
import { ClusterDownError, ConnectionError, type RedisClusterError, ReplyError } from "../errors.js";
import type { NodeRegistry } from "./nodes.js";
import { diffTopology, isEmptyChange, Topology, type TopologyChange } from "./topology.js";
import { type AddressMapper, parseClusterShards, parseClusterSlots } from "./topology-parse.js";

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
}

/** Nodes asked at once per refresh. */
const CONSENSUS_SIZE = 3;
/** Once one view is in, how long to wait for the others before deciding. */
const CONSENSUS_WAIT_MS = 200;

interface View {
  topology: Topology;
  address: string;
}

export class Discovery {
  /** The topology in use; undefined until the first refresh succeeds. */
  current: Topology | undefined;
  /** Refreshes run so far. */
  refreshes = 0;
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

  /** A refresh for a trigger that does not wait for it (MOVED, a node failure, ...). */
  requestRefresh(): void {
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
    const failures: string[] = [];
    const candidates = this.#candidates();
    for (let start = 0; start < candidates.length; start += CONSENSUS_SIZE) {
      const views = await this.#ask(candidates.slice(start, start + CONSENSUS_SIZE), failures);
      if (views.length === 0) continue;
      const topology = await this.#choose(views);
      this.lastError = undefined;
      return topology;
    }
    const error = new ConnectionError(
      `could not read the cluster topology from any node: ${failures.join("; ") || "no nodes to ask"}`,
    );
    this.lastError = error;
    throw error;
  }

  /** Known nodes (ready connections first), then the seeds, each group shuffled. */
  #candidates(): HostPort[] {
    const known = this.current ? [...this.current.nodes.values()] : [];
    shuffle(known);
    known.sort(
      (a, b) => readiness(this.#options.registry, b.address) - readiness(this.#options.registry, a.address),
    );
    const seen = new Set(known.map((node) => node.address));
    const seeds = this.#options.seeds.filter((seed) => !seen.has(formatAddress(seed.host, seed.port)));
    shuffle(seeds);
    return [...known, ...seeds];
  }

  /** Asks several nodes at once; resolves with the views that came back in time. */
  #ask(nodes: HostPort[], failures: string[]): Promise<View[]> {
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
            failures.push(`${formatAddress(node.host, node.port)} (${error.message})`);
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
    if (!this.#useClusterSlots) {
      try {
        const reply = await entry.connection.request("CLUSTER", ["SHARDS"], { timeoutMs });
        return { topology: new Topology(parseClusterShards(reply, context)), address: entry.address };
      } catch (error) {
        // Servers before 7.0 lack CLUSTER SHARDS: fall back to CLUSTER SLOTS from now on.
        if (!(error instanceof ReplyError && /unknown subcommand|unknown command/i.test(error.message)))
          throw error;
        this.#useClusterSlots = true;
      }
    }
    const reply = await entry.connection.request("CLUSTER", ["SLOTS"], { timeoutMs });
    return { topology: new Topology(parseClusterSlots(reply, context)), address: entry.address };
  }

  async #choose(views: View[]): Promise<Topology> {
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
    const unanimous = groups.size === 1 && views.length > 1;
    const current = this.current;
    const covered = chosen.topology.coveredSlots;
    if (covered === 0 && !unanimous) {
      throw new ClusterDownError(`${chosen.address} reports no slots served; keeping the current table`);
    }
    const fingerprint = chosen.topology.fingerprint();
    if (
      current !== undefined &&
      covered < current.coveredSlots &&
      !unanimous &&
      fingerprint !== this.#refusedView
    ) {
      // Maybe a node that has not learned the whole cluster yet, or a cut reply: keep what we
      // have and look again soon; the same smaller view seen twice in a row is the truth.
      this.#refusedView = fingerprint;
      this.#lookAgainSoon = true;
      return current;
    }
    this.#refusedView = undefined;
    await this.#options.prepare?.(chosen.topology);
    this.#install(chosen.topology);
    return chosen.topology;
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
    for (let i = 1; i < views.length; i++) if (epochs[i]! > epochs[best]!) best = i;
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
