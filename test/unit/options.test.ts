/**
 * Options (SPEC section 1): every mistake is a ConfigError naming the option, thrown by the
 * constructor; resty-redis-cluster's option names are accepted and mean what SPEC says.
 * No cluster needed: nothing connects before the first command.
 */
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
