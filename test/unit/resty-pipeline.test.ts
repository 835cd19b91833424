/**
 * resty-redis-cluster's pipeline mode (compat/resty.ts): queued calls never reject, and
 * never hang — also when the pipeline is cancelled or the client closes under it (9.8).
 * Nothing here reaches a server: the client has seeds nobody needs to answer.
 */
import { describe, expect, it } from "vitest";
import { ArgumentError, ClosedError, RedisCluster } from "../../src/index.js";

function client(): RedisCluster {
  return new RedisCluster({ nodes: ["127.0.0.1:1"], refreshInterval: 0 });
}

describe("initPipeline() / commitPipeline()", () => {
  it("close() while a pipeline is open settles every queued call with ClosedError", async () => {
    const redis = client();
    redis.initPipeline();
    const queued = [redis.get("a"), redis.set("b", "1"), redis.incr("c")];
    await redis.close();
    for (const entry of await Promise.all(queued)) expect(entry).toBeInstanceOf(ClosedError);
  });

  it("disconnect() while a pipeline is open settles every queued call with ClosedError", async () => {
    const redis = client();
    redis.initPipeline();
    const queued = [redis.get("a"), redis.get("b")];
    redis.disconnect();
    for (const entry of await Promise.all(queued)) expect(entry).toBeInstanceOf(ClosedError);
  });

  it("cancelPipeline() settles the queued calls; a commit without init is an ArgumentError", async () => {
    const redis = client();
    redis.initPipeline();
    const queued = redis.get("a");
    redis.cancelPipeline();
    expect(await queued).toBeInstanceOf(ClosedError);
    await expect(redis.commitPipeline()).rejects.toBeInstanceOf(ArgumentError);
    expect(() => {
      redis.initPipeline();
      redis.initPipeline();
    }).toThrow(ArgumentError);
    redis.disconnect();
  });
});
