/**
 * The `clientCache` option: what a user may pass, checked in one place (each mistake a
 * `ConfigError` naming the field), and the `CLIENT TRACKING` arguments it turns into.
 */
import { ConfigError } from "../errors.js";
import type { RedisArg } from "../resp/types.js";
import { keyName } from "./values.js";

/**
 * Client-side caching (see the README's "Client-side caching"): reads of the cacheable
 * commands are answered from memory until the server says their key changed.
 *
 * @example
 * new RedisCluster({ nodes, protocol: 3, clientCache: { maxEntries: 10_000, ttl: 60_000 } });
 */
export interface ClientCacheOptions {
  /** Replies kept at most; past it the least recently used go. Required. */
  maxEntries: number;
  /**
   * Estimated bytes the cached replies may take (keys, values and per-entry bookkeeping);
   * past it the least recently used go, and a reply larger than this alone is not cached.
   * Default 64 MiB.
   */
  maxBytes?: number;
  /**
   * A cached reply is not served once this old (ms): a safety net on top of the server's
   * invalidations (e.g. for a key that expires, which the server invalidates when it
   * removes it). Default: none.
   */
  ttl?: number;
  /**
   * How the server tracks: `"default"` (each connection's reads), `"optin"` (only the reads
   * the cache will keep: `CLIENT CACHING YES` goes before each), `"bcast"` (every change of
   * a key under `prefixes`, read or not). Default `"default"`.
   */
  mode?: "default" | "optin" | "bcast";
  /**
   * For `mode: "bcast"`: the key prefixes to track (the client's `keyPrefix` is prepended);
   * only keys under them are cached. None: every key (the server then pushes every change).
   * Prefixes must not overlap (Redis refuses `"a"` with `"ab"`).
   */
  prefixes?: string[];
}

/** `clientCache` after the checks, defaults filled in. */
export interface NormalizedCacheOptions {
  maxEntries: number;
  maxBytes: number;
  /** 0: no TTL. */
  ttlMs: number;
  mode: "default" | "optin" | "bcast";
  /** The bcast prefixes as key names (values.ts `keyName`), `keyPrefix` included. */
  prefixNames: string[];
  /** What follows `CLIENT TRACKING` in every node connection's handshake. */
  trackingArgs: RedisArg[];
}

export const DEFAULT_MAX_BYTES = 64 * 1024 * 1024;

const FIELDS = new Set(["maxEntries", "maxBytes", "ttl", "mode", "prefixes"]);
const MODES = ["default", "optin", "bcast"] as const;
const MAX_DURATION_MS = 2 ** 31 - 1;

/**
 * Checks `clientCache` (undefined: no cache) against the rest of the options: the cache needs
 * RESP3 (the server's invalidations are RESP3 pushes), so `protocol: 2` given explicitly is a
 * `ConfigError`; without `protocol`, the client speaks RESP3.
 *
 * @example
 * normalizeClientCache({ maxEntries: 1000 }, 3, undefined)?.trackingArgs; // ["ON"]
 */
export function normalizeClientCache(
  value: unknown,
  protocol: unknown,
  keyPrefix: string | undefined,
): NormalizedCacheOptions | undefined {
  if (value === undefined) return undefined;
  if (value === null || typeof value !== "object" || Array.isArray(value)) {
    throw new ConfigError("clientCache", "expected { maxEntries, maxBytes?, ttl?, mode?, prefixes? }");
  }
  for (const field of Object.keys(value)) {
    if (!FIELDS.has(field)) {
      throw new ConfigError(`clientCache.${field}`, `unknown field (known: ${[...FIELDS].join(", ")})`);
    }
  }
  if (protocol === 2) {
    throw new ConfigError(
      "protocol",
      "clientCache needs RESP3: the server sends its invalidations as RESP3 pushes; drop protocol: 2 (or set 3)",
    );
  }
  const o = value as Partial<Record<keyof ClientCacheOptions, unknown>>;
  const maxEntries = positiveInteger("maxEntries", o.maxEntries, undefined);
  const maxBytes = positiveInteger("maxBytes", o.maxBytes, DEFAULT_MAX_BYTES);
  let ttlMs = 0;
  if (o.ttl !== undefined) {
    if (typeof o.ttl !== "number" || !Number.isFinite(o.ttl) || o.ttl <= 0) {
      throw new ConfigError("clientCache.ttl", "expected a positive number of milliseconds");
    }
    if (o.ttl > MAX_DURATION_MS) {
      throw new ConfigError("clientCache.ttl", `at most ${MAX_DURATION_MS} ms (about 24.8 days)`);
    }
    ttlMs = o.ttl;
  }
  const mode = o.mode ?? "default";
  if (!MODES.includes(mode as (typeof MODES)[number])) {
    throw new ConfigError("clientCache.mode", `expected one of ${MODES.map((m) => `"${m}"`).join(", ")}`);
  }
  const prefixes = prefixesOption(o.prefixes, mode as (typeof MODES)[number]);
  const prefixed = prefixes.map((prefix) => (keyPrefix ?? "") + prefix);
  const trackingArgs: RedisArg[] = ["ON"];
  if (mode === "optin") trackingArgs.push("OPTIN");
  if (mode === "bcast") {
    trackingArgs.push("BCAST");
    for (const prefix of prefixed) trackingArgs.push("PREFIX", prefix);
    // Without prefixes of its own, a keyPrefix still narrows what the server broadcasts.
    if (prefixed.length === 0 && keyPrefix !== undefined && keyPrefix !== "") {
      trackingArgs.push("PREFIX", keyPrefix);
      prefixed.push(keyPrefix);
    }
  }
  return {
    maxEntries,
    maxBytes,
    ttlMs,
    mode: mode as (typeof MODES)[number],
    prefixNames: prefixed.map((prefix) => keyName(prefix)),
    trackingArgs,
  };
}

function positiveInteger(field: string, value: unknown, fallback: number | undefined): number {
  if (value === undefined) {
    if (fallback !== undefined) return fallback;
    throw new ConfigError(
      `clientCache.${field}`,
      "required: how many replies the cache may hold, e.g. 10000",
    );
  }
  if (typeof value !== "number" || !Number.isSafeInteger(value) || value < 1) {
    throw new ConfigError(`clientCache.${field}`, "expected a positive integer");
  }
  return value;
}

function prefixesOption(value: unknown, mode: (typeof MODES)[number]): string[] {
  if (value === undefined) return [];
  if (mode !== "bcast") {
    throw new ConfigError(
      "clientCache.prefixes",
      'prefixes are for mode: "bcast" (set it, or drop prefixes)',
    );
  }
  if (!Array.isArray(value) || value.some((prefix) => typeof prefix !== "string" || prefix === "")) {
    throw new ConfigError("clientCache.prefixes", "expected an array of non-empty strings");
  }
  const prefixes = value as string[];
  for (const a of prefixes) {
    for (const b of prefixes) {
      if (a !== b && b.startsWith(a)) {
        throw new ConfigError(
          "clientCache.prefixes",
          `"${a}" and "${b}" overlap (Redis refuses that): keep the shorter one`,
        );
      }
    }
  }
  if (new Set(prefixes).size !== prefixes.length) {
    throw new ConfigError("clientCache.prefixes", "a prefix is listed twice");
  }
  return prefixes;
}
