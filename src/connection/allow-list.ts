/**
 * Where node connections — and with them the credentials of the handshake — may go
 * (SPEC "Connections and safety": credentials are sent only to nodes of the cluster the
 * client was given; issue 17.13).
 *
 * A topology reply or a `MOVED`/`ASK` names the hosts to connect to. Without a check, one
 * node (buggy, compromised, or a man in the middle of a plain-text link) could send the
 * client, and its `AUTH`, anywhere. The `connectTo` option decides:
 *
 * | `connectTo`            | a connection may go to                                               |
 * | ---------------------- | -------------------------------------------------------------------- |
 * | `"cluster"` (default)  | the seeds' hosts, and hosts that topology replies (`CLUSTER SHARDS` / `SLOTS`, read from such a host) announce |
 * | `{ hosts, cidrs }`     | exactly these hosts (names or IP literals) and IP ranges; seeds must be among them |
 * | `"any"`                | anywhere (the behaviour before this option existed)                   |
 *
 * So by default a `MOVED`/`ASK` to a host no topology named is refused — no socket, no
 * credentials — until a refresh shows the host as a member of the cluster. Hosts are
 * compared as written (after natMap): a name is not resolved to check it against `cidrs`.
 */
import { BlockList, isIP } from "node:net";
import { ConnectionError } from "../errors.js";
import { formatAddress, type HostPort, isValidHost } from "./address.js";

/** The `connectTo` option: see the table at the top of this file. */
export type ConnectTo = "cluster" | "any" | ConnectToList;

/** `connectTo` as a list: connections may go to these hosts and IP ranges only. */
export interface ConnectToList {
  /** Host names or IP literals, compared as written (after `natMap`); the seeds must be among them. */
  hosts?: string[];
  /** IP ranges, e.g. `"10.0.0.0/8"` or `"fd00::/8"`. */
  cidrs?: string[];
}

/** The errors `refusal()` made: told apart from other connection failures by the executor. */
const REFUSALS = new WeakSet<Error>();

/**
 * Whether `error` is a refusal of the `connectTo` allow-list (nothing was sent): the executor
 * retries such a command once, after the topology refresh it starts, since a refresh may name
 * the host (a node just added), and then gives up rather than retrying until the deadline.
 */
export function isAllowListRefusal(error: unknown): boolean {
  return error instanceof Error && REFUSALS.has(error);
}

/**
 * Decides whether a connection may be opened to a host.
 *
 * @example
 * const allowed = new HostAllowList("cluster", [{ host: "10.0.0.1", port: 7000 }]);
 * allowed.refusal("10.0.0.1", 7001); // undefined: a seed's host
 * allowed.refusal("10.9.9.9", 7001); // ConnectionError: not part of the cluster
 * allowed.learn("10.9.9.9");         // a topology reply named it
 */
export class HostAllowList {
  readonly #mode: "cluster" | "any" | "list";
  /** Host names, lower case, and IP literals as written ("cluster": seeds + learned). */
  readonly #names = new Set<string>();
  /** IP literals and ranges of an explicit list, compared as addresses. */
  readonly #ranges = new BlockList();

  constructor(connectTo: ConnectTo, seeds: readonly HostPort[]) {
    if (connectTo === "any" || connectTo === "cluster") {
      this.#mode = connectTo;
      for (const seed of seeds) this.#names.add(normalizeHost(seed.host));
      return;
    }
    this.#mode = "list";
    for (const host of connectTo.hosts ?? []) {
      const family = ipFamily(host);
      if (family === undefined) this.#names.add(normalizeHost(host));
      else this.#ranges.addAddress(unbracket(host), family);
    }
    for (const cidr of connectTo.cidrs ?? []) {
      const range = parseCidr(cidr);
      if (range === undefined) throw new TypeError(`not a CIDR range: ${cidr}`);
      this.#ranges.addSubnet(range.network, range.prefix, range.family);
    }
  }

  /** True when a connection to `host` may be opened. */
  allows(host: string): boolean {
    if (this.#mode === "any") return true;
    if (this.#names.has(normalizeHost(host))) return true;
    if (this.#mode !== "list") return false;
    const family = ipFamily(host);
    return family !== undefined && this.#ranges.check(unbracket(host), family);
  }

  /**
   * Undefined when `host` is allowed; otherwise the error a command sent there fails with
   * (never sent: it may be retried elsewhere).
   */
  refusal(host: string, port: number): ConnectionError | undefined {
    if (this.allows(host)) return undefined;
    const address = formatAddress(host, port);
    const why =
      this.#mode === "cluster"
        ? "it is neither a seed nor a node that the cluster's topology names"
        : "it is outside the connectTo option";
    const refusal = new ConnectionError(
      `refused to connect to ${address}: ${why} (see the connectTo option; nothing, credentials included, was sent there)`,
      address,
    );
    REFUSALS.add(refusal);
    return refusal;
  }

  /** A topology reply read from an allowed node names `host` as a member ("cluster" mode). */
  learn(host: string): void {
    if (this.#mode === "cluster" && isValidHost(host)) this.#names.add(normalizeHost(host));
  }
}

/**
 * Checks the `connectTo` option's shape; returns what is wrong, or undefined.
 *
 * @example
 * connectToProblem({ cidrs: ["10.0.0.0/33"] }); // "cidrs entry 0 ..."
 */
export function connectToProblem(value: unknown): string | undefined {
  if (value === "cluster" || value === "any") return undefined;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    return 'expected "cluster", "any" or { hosts?: string[], cidrs?: string[] }';
  }
  for (const key of Object.keys(value)) {
    if (key !== "hosts" && key !== "cidrs") return `unknown field ${key} (known: hosts, cidrs)`;
  }
  const { hosts, cidrs } = value as { hosts?: unknown; cidrs?: unknown };
  if (hosts !== undefined) {
    if (!Array.isArray(hosts)) return "hosts must be an array of host names or IP addresses";
    const bad = hosts.findIndex((host) => !isValidHost(host));
    if (bad !== -1) return `hosts entry ${bad} is not a host name or IP address`;
  }
  if (cidrs !== undefined) {
    if (!Array.isArray(cidrs)) return 'cidrs must be an array of ranges such as "10.0.0.0/8"';
    const bad = cidrs.findIndex((cidr) => typeof cidr !== "string" || parseCidr(cidr) === undefined);
    if (bad !== -1) return `cidrs entry ${bad} is not a range such as "10.0.0.0/8" or "fd00::/8"`;
  }
  if ((hosts?.length ?? 0) + (cidrs?.length ?? 0) === 0) {
    return "an empty list allows no connection at all; list the cluster's hosts or ranges";
  }
  return undefined;
}

function parseCidr(cidr: string): { network: string; prefix: number; family: "ipv4" | "ipv6" } | undefined {
  const slash = cidr.lastIndexOf("/");
  if (slash === -1) return undefined;
  const network = cidr.slice(0, slash);
  const prefixText = cidr.slice(slash + 1);
  if (!/^\d{1,3}$/.test(prefixText)) return undefined;
  const prefix = Number(prefixText);
  const family = ipFamily(network);
  if (family === undefined || prefix > (family === "ipv4" ? 32 : 128)) return undefined;
  return { network: unbracket(network), prefix, family };
}

function ipFamily(host: string): "ipv4" | "ipv6" | undefined {
  const version = isIP(unbracket(host));
  return version === 4 ? "ipv4" : version === 6 ? "ipv6" : undefined;
}

function unbracket(host: string): string {
  return host.startsWith("[") && host.endsWith("]") ? host.slice(1, -1) : host;
}

/** Host names are case-insensitive; IP literals are kept as written, without brackets. */
function normalizeHost(host: string): string {
  return unbracket(host).toLowerCase();
}
