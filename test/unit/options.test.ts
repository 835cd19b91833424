/**
 * Options (SPEC section 1): every mistake is a ConfigError naming the option, thrown by the
 * constructor; resty-redis-cluster's option names are accepted and mean what SPEC says.
 * No cluster needed: nothing connects before the first command.
 */
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { ConfigError, RedisCluster, type RedisClusterOptions } from "../../src/index.js";
import { normalizeOptions } from "../../src/options.js";

const seeds = ["127.0.0.1:7001"];

/** The ConfigError `new RedisCluster(options)` throws, or a failure if it throws none. */
function configErrorOf(options: unknown): ConfigError {
  try {
    new RedisCluster(options as RedisClusterOptions).disconnect();
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    return error as ConfigError;
  }
  throw new Error(`no ConfigError for ${JSON.stringify(options)}`);
}

describe("bad options", () => {
  const cases: Array<[option: string, options: unknown]> = [
    ["options", undefined],
    ["options", null],
    ["options", "127.0.0.1:7001"],
    ["nodes", {}],
    ["nodes", { nodes: [] }],
    ["nodes", { nodes: "127.0.0.1:7001" }],
    ["nodes", { nodes: ["127.0.0.1"] }],
    ["nodes", { nodes: [":7001"] }],
    ["nodes", { nodes: ["127.0.0.1:0"] }],
    ["nodes", { nodes: ["127.0.0.1:70000"] }],
    ["nodes", { nodes: ["127.0.0.1:abc"] }],
    ["nodes", { nodes: [{ host: "127.0.0.1" }] }],
    ["nodes", { nodes: [{ host: "", port: 7001 }] }],
    ["nodes", { nodes: [{ host: "127.0.0.1", port: "7001" }] }],
    ["nodes", { nodes: [null] }],
    ["nodes", { nodes: [7001] }],
    ["readFrom", { nodes: seeds, readFrom: "slave" }],
    ["readFrom", { nodes: seeds, readFrom: 1 }],
    ["connectTimeout", { nodes: seeds, connectTimeout: 0 }],
    ["connectTimeout", { nodes: seeds, connectTimeout: -1 }],
    ["connectTimeout", { nodes: seeds, connectTimeout: Number.NaN }],
    ["connectTimeout", { nodes: seeds, connectTimeout: "1000" }],
    ["commandTimeout", { nodes: seeds, commandTimeout: 0 }],
    ["commandTimeout", { nodes: seeds, commandTimeout: Number.POSITIVE_INFINITY }],
    ["commandTimeout", { nodes: seeds, commandTimeout: "5s" }],
    ["idleTimeout", { nodes: seeds, idleTimeout: -1 }],
    ["idleTimeout", { nodes: seeds, idleTimeout: null }],
    ["username", { nodes: seeds, username: 42 }],
    ["password", { nodes: seeds, password: 1234 }],
    ["tls", { nodes: seeds, tls: "yes" }],
    ["tls", { nodes: seeds, tls: 1 }],
    ["natMap", { nodes: seeds, natMap: 5 }],
    ["natMap", { nodes: seeds, natMap: { "10.0.0.1:6379": "127.0.0.1:7001" } }],
    ["natMap", { nodes: seeds, natMap: { "not an address": { host: "127.0.0.1", port: 7001 } } }],
    ["natMap", { nodes: seeds, natMap: { "10.0.0.1:6379": { host: "127.0.0.1", port: 0 } } }],
    ["protocol", { nodes: seeds, protocol: 4 }],
    ["protocol", { nodes: seeds, protocol: "3" }],
    ["clientName", { nodes: seeds, clientName: "has space" }],
    ["clientName", { nodes: seeds, clientName: "" }],
    ["clientName", { nodes: seeds, clientName: 7 }],
    ["maxRedirections", { nodes: seeds, maxRedirections: -1 }],
    ["maxRedirections", { nodes: seeds, maxRedirections: 1.5 }],
    ["maxRedirections", { nodes: seeds, maxRedirections: "16" }],
    ["retryUnsafeWrites", { nodes: seeds, retryUnsafeWrites: "true" }],
    ["retryUnsafeWrites", { nodes: seeds, retryUnsafeWrites: 1 }],
    ["autoPipelining", { nodes: seeds, autoPipelining: "no" }],
    ["maxInFlight", { nodes: seeds, maxInFlight: 0 }],
    ["maxInFlight", { nodes: seeds, maxInFlight: 2.5 }],
    ["maxOfflineQueue", { nodes: seeds, maxOfflineQueue: -1 }],
    ["maxOfflineQueue", { nodes: seeds, maxOfflineQueue: Number.NaN }],
    ["refreshInterval", { nodes: seeds, refreshInterval: -5 }],
    ["refreshInterval", { nodes: seeds, refreshInterval: Number.POSITIVE_INFINITY }],
    ["minRefreshInterval", { nodes: seeds, minRefreshInterval: "x" }],
    ["minRefreshInterval", { nodes: seeds, minRefreshInterval: -1 }],
    ["keyPrefix", { nodes: seeds, keyPrefix: 5 }],
    ["name", { nodes: seeds, name: 5 }],
    ["serv_list", { serv_list: [] }],
    ["serv_list", { serv_list: "127.0.0.1:7001" }],
    ["serv_list", { serv_list: [{ ip: 1, port: 7001 }] }],
    ["serv_list", { serv_list: [{ ip: "127.0.0.1" }] }],
    ["serv_list", { serv_list: [{ ip: "127.0.0.1", port: 99999 }] }],
    ["serv_list", { nodes: seeds, serv_list: [{ ip: "127.0.0.1", port: 7001 }] }],
    ["connection_timout", { nodes: seeds, connection_timout: -1 }],
    ["connection_timout", { nodes: seeds, connectTimeout: 100, connection_timout: 200 }],
    ["connection_timeout", { nodes: seeds, connection_timeout: "1s" }],
    ["keepalive_timeout", { nodes: seeds, keepalive_timeout: -1 }],
    ["keepalive_timeout", { nodes: seeds, idleTimeout: 100, keepalive_timeout: 100 }],
    ["keepalive_cons", { nodes: seeds, keepalive_cons: 0 }],
    ["keepalive_cons", { nodes: seeds, keepalive_cons: "10" }],
    ["enableSlaveRead", { nodes: seeds, enableSlaveRead: "yes" }],
    ["enableSlaveRead", { nodes: seeds, enableSlaveRead: true, readFrom: "primary" }],
    ["unknownOption", { nodes: seeds, unknownOption: 1 }],
    ["commandtimeout", { nodes: seeds, commandtimeout: 1000 }],
  ];

  it.each(cases)("%s: %j → ConfigError naming it", (option, options) => {
    const error = configErrorOf(options);
    expect(error.option).toBe(option);
    expect(error.code).toBe("RC_CONFIG");
    expect(error.message).toContain(option);
  });

  it("never puts the password in the message", () => {
    const error = configErrorOf({ nodes: seeds, password: "s3cret-pw", readFrom: "bogus" });
    expect(error.option).toBe("readFrom");
    expect(error.message).not.toContain("s3cret-pw");
  });

  // Regression (bug D-2, fixed in ea5d33e): maxReplyLimits was passed to the decoder unchecked.
  it.each([
    ["a string", "big"],
    ["a negative limit", { maxBulkLength: -1 }],
    ["a non-number limit", { maxBulkLength: "1mb" }],
  ])("maxReplyLimits as %s → ConfigError naming it", (_label, value) => {
    const error = configErrorOf({ nodes: seeds, maxReplyLimits: value });
    expect(error.option).toBe("maxReplyLimits");
  });
});

describe("defaults", () => {
  it("are what the options' documentation says", () => {
    const o = normalizeOptions({ nodes: ["127.0.0.1:7001", { host: "localhost", port: 7002 }] });
    expect(o.seeds).toEqual([
      { host: "127.0.0.1", port: 7001 },
      { host: "localhost", port: 7002 },
    ]);
    expect(o).toMatchObject({
      readFrom: "primary",
      connectTimeoutMs: 2000,
      commandTimeoutMs: 5000,
      idleTimeoutMs: 0,
      maxRedirections: 16,
      retryUnsafeWrites: false,
      autoPipelining: true,
      maxInFlight: 10_000,
      maxOfflineQueue: 10_000,
      refreshIntervalMs: 30_000,
      protocol: 2,
    });
  });

  it("accept IPv6 seeds in brackets", () => {
    expect(normalizeOptions({ nodes: ["[::1]:7001"] }).seeds).toEqual([{ host: "::1", port: 7001 }]);
  });
});

describe("resty-redis-cluster aliases", () => {
  it("serv_list gives the seeds", () => {
    const o = normalizeOptions({
      serv_list: [
        { ip: "127.0.0.1", port: 7001 },
        { ip: "127.0.0.2", port: 7002 },
      ],
    });
    expect(o.seeds).toEqual([
      { host: "127.0.0.1", port: 7001 },
      { host: "127.0.0.2", port: 7002 },
    ]);
  });

  it("connection_timout and connection_timeout are connectTimeout", () => {
    expect(normalizeOptions({ nodes: seeds, connection_timout: 321 }).connectTimeoutMs).toBe(321);
    expect(normalizeOptions({ nodes: seeds, connection_timeout: 654 }).connectTimeoutMs).toBe(654);
  });

  it("keepalive_timeout is idleTimeout", () => {
    expect(normalizeOptions({ nodes: seeds, keepalive_timeout: 55_000 }).idleTimeoutMs).toBe(55_000);
  });

  it("keepalive_cons is accepted (one multiplexed connection per node replaces the pool)", () => {
    expect(() => normalizeOptions({ nodes: seeds, keepalive_cons: 100 })).not.toThrow();
  });

  it('enableSlaveRead: true is readFrom "any"; false is the default "primary"', () => {
    expect(normalizeOptions({ nodes: seeds, enableSlaveRead: true }).readFrom).toBe("any");
    expect(normalizeOptions({ nodes: seeds, enableSlaveRead: false }).readFrom).toBe("primary");
    expect(normalizeOptions({ nodes: seeds, enableSlaveRead: true, readFrom: "replica" }).readFrom).toBe(
      "replica",
    );
  });

  it("name names the client", () => {
    const client = new RedisCluster({ serv_list: [{ ip: "127.0.0.1", port: 7001 }], name: "orders" });
    expect(client.name).toBe("orders");
    client.disconnect();
  });

  it("a whole resty configuration is accepted as is", () => {
    const client = new RedisCluster({
      name: "testCluster",
      serv_list: [
        { ip: "127.0.0.1", port: 7001 },
        { ip: "127.0.0.1", port: 7002 },
      ],
      keepalive_timeout: 60_000,
      keepalive_cons: 1000,
      connection_timout: 1000,
      enableSlaveRead: true,
    });
    expect(client.name).toBe("testCluster");
    client.disconnect();
  });
});

describe("durations past the timer range (17.8)", () => {
  const TOO_LONG = 2 ** 31; // one more than the longest a Node timer waits
  it.each([
    "connectTimeout",
    "commandTimeout",
    "idleTimeout",
    "refreshInterval",
    "minRefreshInterval",
    "connection_timout",
    "connection_timeout",
    "keepalive_timeout",
  ])("%s above 2^31 - 1 ms is a ConfigError that says the limit", (option) => {
    const error = configErrorOf({ nodes: seeds, [option]: TOO_LONG });
    expect(error.option).toBe(option);
    expect(error.message).toContain("2147483647");
    // The limit itself is accepted.
    expect(() => normalizeOptions({ nodes: seeds, [option]: TOO_LONG - 1 })).not.toThrow();
  });

  it("commandTimeout: 1e12 (issue 17.8's example) is refused", () => {
    expect(configErrorOf({ nodes: seeds, commandTimeout: 1e12 }).option).toBe("commandTimeout");
  });
});

describe("seed addresses are parsed strictly (17.11)", () => {
  it.each([
    ["a hex port", "127.0.0.1:0x2c78", /decimal number/],
    ["a space before the port", "127.0.0.1: 11384", /decimal number/],
    ["an empty host", ": 11384", /host is empty/],
    ["an exponent", "127.0.0.1:1e3", /decimal number/],
    ["a sign", "127.0.0.1:+7000", /decimal number/],
    ["a bare IPv6 address", "::1", /IPv6 address goes in brackets, e\.g\. \[::1\]:7000/],
    ["a bare IPv6 address with a port", "::1:7000", /brackets/],
    ["brackets around IPv4", "[127.0.0.1]:7000", /IPv6 addresses only/],
    ["unclosed brackets", "[::1:7000", /\[IPv6\]:port/],
    ["a space in the host", "my host:7000", /spaces/],
    ["port 65536", "127.0.0.1:65536", /1 to 65535/],
  ])("%s (%s) is a ConfigError naming nodes and what is wrong", (_name, seed, message) => {
    const error = configErrorOf({ nodes: [seed] });
    expect(error.option).toBe("nodes");
    expect(error.message).toMatch(message);
  });

  it("accepts host:port, host names, [IPv6]:port and { host, port } with a bracketed host", () => {
    expect(
      normalizeOptions({
        nodes: [
          "10.0.0.1:7000",
          "redis-0.redis.svc:6379",
          "[::1]:7001",
          "[fe80::1%eth0]:7002",
          { host: "[::1]", port: 7003 },
        ],
      }).seeds,
    ).toEqual([
      { host: "10.0.0.1", port: 7000 },
      { host: "redis-0.redis.svc", port: 6379 },
      { host: "::1", port: 7001 },
      { host: "fe80::1%eth0", port: 7002 },
      { host: "::1", port: 7003 },
    ]);
  });
});

describe("URL seeds (9.13)", () => {
  it("redis://host:port is a seed; the port defaults to 6379; /0 is fine", () => {
    const o = normalizeOptions({
      nodes: ["redis://127.0.0.1:7001", "redis://cache.internal", "redis://[::1]:7002/0"],
    });
    expect(o.seeds).toEqual([
      { host: "127.0.0.1", port: 7001 },
      { host: "cache.internal", port: 6379 },
      { host: "::1", port: 7002 },
    ]);
    expect(o.tls).toBeUndefined();
    expect(o.password).toBeUndefined();
  });

  it("user and password come from the URL, percent-decoded; rediss:// turns TLS on", () => {
    const o = normalizeOptions({
      nodes: ["rediss://app:p%40ss%3Aword@10.0.0.1:7001", "rediss://app:p%40ss%3Aword@10.0.0.2:7001"],
    });
    expect(o).toMatchObject({ username: "app", password: "p@ss:word", tls: true });
    expect(normalizeOptions({ nodes: ["redis://:only-pw@10.0.0.1:7001"] })).toMatchObject({
      username: undefined,
      password: "only-pw",
    });
  });

  it("rediss:// with tls options: the options are used", () => {
    const o = normalizeOptions({ nodes: ["rediss://10.0.0.1:7001"], tls: { rejectUnauthorized: true } });
    expect(o.tls).toEqual({ rejectUnauthorized: true });
  });

  const SECRET = "url-secret-never-shown";
  it.each([
    [
      "a path other than /0 (a cluster has only db 0)",
      { nodes: [`redis://u:${SECRET}@h:1/2`] },
      "nodes",
      /database 0/,
    ],
    ["query parameters", { nodes: [`redis://u:${SECRET}@h:1?db=0`] }, "nodes", /query/],
    ["another scheme", { nodes: [`http://u:${SECRET}@h:1`] }, "nodes", /only redis:\/\/ and rediss:\/\//],
    ["a user without a password", { nodes: ["redis://app@h:1"] }, "nodes", /without a password/],
    ["port 0", { nodes: ["redis://h:0"] }, "nodes", /1-65535/],
    ["no host", { nodes: [`redis://u:${SECRET}@:7000`] }, "nodes", /host|not a valid URL/],
    ["redis:// and rediss:// mixed", { nodes: ["redis://a:1", "rediss://b:1"] }, "nodes", /mixes/],
    [
      "two URLs with different credentials",
      { nodes: [`redis://u:${SECRET}@a:1`, "redis://u:other@b:1"] },
      "nodes",
      /other credentials/,
    ],
    [
      "a URL password and the password option",
      { nodes: [`redis://u:${SECRET}@a:1`], password: "x" },
      "nodes",
      /once/,
    ],
    [
      "a URL password and a credentials provider",
      { nodes: [`redis://u:${SECRET}@a:1`], credentials: () => ({ password: "x" }) },
      "nodes",
      /once/,
    ],
    ["rediss:// and tls: false", { nodes: ["rediss://a:1"], tls: false }, "tls", /drop tls: false/],
    ["redis:// and tls options", { nodes: ["redis://a:1"], tls: true }, "tls", /rediss:\/\//],
    ["a malformed URL", { nodes: [`redis://u:${SECRET}@[::1:7000`] }, "nodes", /not a valid URL/],
  ])("%s → ConfigError, which never quotes the URL", (_name, options, option, message) => {
    const error = configErrorOf(options);
    expect(error.option).toBe(option);
    expect(error.message).toMatch(message);
    expect(error.message).not.toContain(SECRET);
    expect(inspect(error, { depth: 10 })).not.toContain(SECRET);
  });

  it("a mistyped URL without its scheme (user:password@host:port) is not quoted either", () => {
    const error = configErrorOf({ nodes: [`app:${SECRET}@10.0.0.1:7000`] });
    expect(error.message).not.toContain(SECRET);
  });
});

describe("natMap (9.11, 17.2)", () => {
  it("keys of IPv6 nodes match, bracketed or not", () => {
    const { mapAddress } = normalizeOptions({
      nodes: seeds,
      natMap: {
        "[::1]:7000": { host: "127.0.0.1", port: 17000 },
        "fd00::5:7001": { host: "127.0.0.1", port: 17001 },
        "10.0.0.5:7002": { host: "127.0.0.1", port: 17002 },
      },
    });
    expect(mapAddress("::1", 7000)).toEqual({ host: "127.0.0.1", port: 17000 });
    expect(mapAddress("fd00::5", 7001)).toEqual({ host: "127.0.0.1", port: 17001 });
    expect(mapAddress("10.0.0.5", 7002)).toEqual({ host: "127.0.0.1", port: 17002 });
    expect(mapAddress("10.0.0.6", 7002)).toEqual({ host: "10.0.0.6", port: 7002 });
  });

  it("a table entry mapping to an empty host is a ConfigError", () => {
    expect(configErrorOf({ nodes: seeds, natMap: { "10.0.0.1:1": { host: "", port: 1 } } }).option).toBe(
      "natMap",
    );
  });

  it("a function's unusable result (bad port, bad host, not an object, a throw) is an address nothing connects to", () => {
    const results: unknown[] = [
      { host: "10.0.0.1", port: 70000 },
      { host: "10.0.0.1", port: 1.5 },
      { host: "", port: 7000 },
      { host: 5, port: 7000 },
      "10.0.0.1:7000",
      null,
    ];
    for (const result of results) {
      const { mapAddress } = normalizeOptions({ nodes: seeds, natMap: () => result as never });
      const mapped = mapAddress("10.9.9.9", 7000);
      expect(mapped, JSON.stringify(result)).toEqual({ host: "", port: 0 });
    }
    const { mapAddress } = normalizeOptions({
      nodes: seeds,
      natMap: () => {
        throw new Error("bug");
      },
    });
    expect(mapAddress("10.9.9.9", 7000)).toEqual({ host: "", port: 0 });
  });
});

describe("connectTo (17.13)", () => {
  it('defaults to "cluster"; "any" and lists are kept', () => {
    expect(normalizeOptions({ nodes: seeds }).connectTo).toBe("cluster");
    expect(normalizeOptions({ nodes: seeds, connectTo: "any" }).connectTo).toBe("any");
    expect(normalizeOptions({ nodes: seeds, connectTo: { cidrs: ["127.0.0.0/8"] } }).connectTo).toEqual({
      cidrs: ["127.0.0.0/8"],
    });
  });

  it.each([
    ["a word", "seeds", /expected "cluster", "any"/],
    ["an unknown field", { hosts: ["127.0.0.1"], ips: [] }, /unknown field ips/],
    ["hosts not an array", { hosts: "127.0.0.1" }, /hosts must be an array/],
    ["an empty host", { hosts: [""] }, /hosts entry 0/],
    ["a bad CIDR", { cidrs: ["127.0.0.0/33"] }, /cidrs entry 0/],
    ["a CIDR without a prefix", { cidrs: ["127.0.0.1"] }, /cidrs entry 0/],
    ["an empty list", { hosts: [] }, /allows no connection/],
    ["a list without the seeds", { hosts: ["10.0.0.1"] }, /seed 0 is outside/],
  ])("%s → ConfigError", (_name, connectTo, message) => {
    const error = configErrorOf({ nodes: seeds, connectTo });
    expect(error.option).toBe("connectTo");
    expect(error.message).toMatch(message);
  });
});

describe("credentials provider (13.2)", () => {
  it("is kept, and exclusive with username/password", () => {
    const provider = async () => ({ password: "t" });
    expect(normalizeOptions({ nodes: seeds, credentials: provider }).credentials).toBe(provider);
    expect(configErrorOf({ nodes: seeds, credentials: provider, password: "x" }).option).toBe("credentials");
    expect(configErrorOf({ nodes: seeds, credentials: provider, username: "u" }).option).toBe("credentials");
    expect(configErrorOf({ nodes: seeds, credentials: "pw" }).option).toBe("credentials");
  });
});

describe("bounds (9.10, 17.5)", () => {
  it("maxQueuedPerNode defaults to 100000 and must be a positive integer", () => {
    expect(normalizeOptions({ nodes: seeds }).maxQueuedPerNode).toBe(100_000);
    expect(normalizeOptions({ nodes: seeds, maxQueuedPerNode: 5 }).maxQueuedPerNode).toBe(5);
    expect(configErrorOf({ nodes: seeds, maxQueuedPerNode: 0 }).option).toBe("maxQueuedPerNode");
  });

  it("maxReplyLimits takes maxReplyBytes", () => {
    expect(normalizeOptions({ nodes: seeds, maxReplyLimits: { maxReplyBytes: 1024 } }).decoderLimits).toEqual(
      {
        maxReplyBytes: 1024,
      },
    );
    expect(configErrorOf({ nodes: seeds, maxReplyLimits: { maxReplyBytes: 0 } }).option).toBe(
      "maxReplyLimits",
    );
  });
});
