/**
 * `host:port` strings, the key of every node in this package (IPv6 literals in brackets),
 * and the checks every address passes before a socket may be opened to it: addresses come
 * from the user (seeds, natMap) and from servers (CLUSTER SHARDS/SLOTS, MOVED, ASK), and
 * none of them is trusted to be well formed (issue 17.2).
 */

/** A host and a port, apart (`formatAddress` joins them). */
export interface HostPort {
  /** A host name or IP literal (IPv6 without brackets). */
  host: string;
  /** A TCP port. */
  port: number;
}

/** `host:port`, with IPv6 literals in brackets: `[::1]:7000`. */
export function formatAddress(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

const DECIMAL_PORT = /^\d{1,5}$/;

/**
 * The port a text denotes: decimal digits only, 1-65535 (no sign, hex, exponent or spaces,
 * which `Number()` would accept), or undefined.
 *
 * @example
 * parsePort("7000");   // 7000
 * parsePort("0x1b58"); // undefined
 */
export function parsePort(text: string): number | undefined {
  if (!DECIMAL_PORT.test(text)) return undefined;
  const port = Number(text);
  return isValidPort(port) ? port : undefined;
}

/** An integer 1-65535. */
export function isValidPort(port: unknown): port is number {
  return typeof port === "number" && Number.isInteger(port) && port >= 1 && port <= 65535;
}

/** A host a socket can be opened to: a non-empty string without spaces or control characters. */
export function isValidHost(host: unknown): host is string {
  // biome-ignore lint/suspicious/noControlCharactersInRegex: control characters are what is refused
  return typeof host === "string" && host !== "" && !/[\s\u0000-\u001f\u007f/@]/.test(host);
}

/** Both parts of an address are usable (see {@link isValidHost}, {@link isValidPort}). */
export function isValidAddress(address: { host: unknown; port: unknown }): boolean {
  return isValidHost(address.host) && isValidPort(address.port);
}

/**
 * Reads an address as servers send it: `host:port`, `[v6]:port`, a bare IPv6 `::1:7000` (a
 * `MOVED` from an IPv6 node is not bracketed: the port is after the last colon), or `:port`
 * (an empty host, as a `MOVED` from a node with an unknown endpoint sends it: the caller
 * substitutes the host it asked). Undefined when the text is not an address.
 *
 * @example
 * parseAddress("[::1]:7000");   // { host: "::1", port: 7000 }
 * parseAddress("10.0.0.1:0x1b"); // undefined
 */
export function parseAddress(text: string): HostPort | undefined {
  const colon = text.lastIndexOf(":");
  if (colon === -1) return undefined;
  const port = parsePort(text.slice(colon + 1));
  if (port === undefined) return undefined;
  let host = text.slice(0, colon);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  if (host !== "" && !isValidHost(host)) return undefined;
  return { host, port };
}

/**
 * Reads a seed as a user writes it: `host:port`, or `[v6]:port` for IPv6. Stricter than
 * {@link parseAddress}: a bare IPv6 literal is ambiguous (`::1:7000` could be host `::1` port
 * 7000 or host `::1:7000` without a port), so it must be bracketed. Returns what is wrong
 * as text when the seed is not an address.
 *
 * @example
 * parseSeedAddress("[::1]:7000"); // { host: "::1", port: 7000 }
 * parseSeedAddress("::1");        // "an IPv6 address goes in brackets, e.g. [::1]:7000"
 */
export function parseSeedAddress(text: string): HostPort | string {
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close === -1 || text[close + 1] !== ":") return 'expected "[IPv6]:port", e.g. [::1]:7000';
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (!host.includes(":")) return "brackets are for IPv6 addresses only";
  } else {
    const colon = text.indexOf(":");
    if (colon === -1) return 'expected "host:port"';
    if (text.indexOf(":", colon + 1) !== -1) return "an IPv6 address goes in brackets, e.g. [::1]:7000";
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
  }
  if (!isValidHost(host)) return "the host is empty or has spaces";
  const port = parsePort(portText);
  if (port === undefined) return "the port must be a decimal number from 1 to 65535";
  return { host, port };
}
