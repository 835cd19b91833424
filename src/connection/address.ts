/** `host:port` strings, the key of every node in this package. IPv6 literals go in brackets. */

export interface HostPort {
  host: string;
  port: number;
}

/** `host:port`, with IPv6 literals in brackets: `[::1]:7000`. */
export function formatAddress(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}

/**
 * Reads `host:port`, `[v6]:port` or `:port` (an empty host, as a `MOVED` from a node with an
 * unknown endpoint sends it: the caller substitutes the host it asked). Undefined when the
 * text is not an address.
 */
export function parseAddress(text: string): HostPort | undefined {
  const colon = text.lastIndexOf(":");
  if (colon === -1) return undefined;
  const port = Number(text.slice(colon + 1));
  if (!Number.isInteger(port) || port <= 0 || port > 65535) return undefined;
  let host = text.slice(0, colon);
  if (host.startsWith("[") && host.endsWith("]")) host = host.slice(1, -1);
  return { host, port };
}
