/** Passwords never appear in an error, a log line or an inspected object (SPEC 4). */
import { inspect } from "node:util";
import { describe, expect, it } from "vitest";
import { ConfigError, Connection, RedisCluster, ReplyError } from "../../src/index.js";

const PASSWORD = "s3cret-pw-never-shown";

describe("the password", () => {
  it("does not show when a connection or a client is inspected (console.log)", () => {
    const connection = new Connection({ host: "127.0.0.1", port: 1, password: PASSWORD });
    const cluster = new RedisCluster({ nodes: ["127.0.0.1:1"], password: PASSWORD });
    expect(inspect(connection, { depth: 10, showHidden: true })).not.toContain(PASSWORD);
    expect(inspect(cluster, { depth: 10, showHidden: true })).not.toContain(PASSWORD);
    connection.destroy();
    cluster.disconnect();
  });

  it("does not show in a ConfigError about another option", () => {
    let error: unknown;
    try {
      new RedisCluster({ nodes: ["127.0.0.1:1"], password: PASSWORD, commandTimeout: -1 });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(ConfigError);
    expect(inspect(error, { depth: 10 })).not.toContain(PASSWORD);
  });
});

describe("server error texts", () => {
  it("lose the arguments a server echoes back (unknown command ... with args beginning with)", () => {
    const error = new ReplyError("ERR unknown command 'X', with args beginning with: 'my-secret' 'other' ");
    expect(error.message).not.toContain("my-secret");
    expect(error.message).toMatch(/^ERR unknown command 'X'/);
    expect(error.code).toBe("ERR");
    expect(new ReplyError("WRONGTYPE Operation against a key").message).toBe(
      "WRONGTYPE Operation against a key",
    );
  });
});
