/**
 * Pub/Sub's pure parts: telling Pub/Sub frames apart (and refusing malformed ones), the
 * bounded inbox and its overflow policies, and how a Subscription feeds its listener and
 * its iterator.
 */
import { describe, expect, it } from "vitest";
import { ProtocolError, SubscriptionOverflowError } from "../../src/errors.js";
import { nameKey, PubSubKind, pubSubKind } from "../../src/pubsub/frames.js";
import { Inbox, PushOutcome } from "../../src/pubsub/inbox.js";
import { Subscription } from "../../src/pubsub/subscription.js";
import type { RespValue } from "../../src/resp/types.js";

const b = (text: string) => Buffer.from(text);

describe("pubSubKind", () => {
  it("names every Pub/Sub frame by its first word, as Buffer or string", () => {
    expect(pubSubKind([b("message"), b("c"), b("p")])).toBe(PubSubKind.Message);
    expect(pubSubKind([b("pmessage"), b("c*"), b("c1"), b("p")])).toBe(PubSubKind.PMessage);
    expect(pubSubKind([b("smessage"), b("c"), b("p")])).toBe(PubSubKind.SMessage);
    expect(pubSubKind([b("subscribe"), b("c"), 1])).toBe(PubSubKind.Subscribe);
    expect(pubSubKind([b("psubscribe"), b("c*"), 1])).toBe(PubSubKind.PSubscribe);
    expect(pubSubKind([b("ssubscribe"), b("c"), 1])).toBe(PubSubKind.SSubscribe);
    expect(pubSubKind([b("unsubscribe"), null, 0])).toBe(PubSubKind.Unsubscribe);
    expect(pubSubKind([b("punsubscribe"), b("c*"), 0])).toBe(PubSubKind.PUnsubscribe);
    expect(pubSubKind([b("sunsubscribe"), b("c"), 0])).toBe(PubSubKind.SUnsubscribe);
    expect(pubSubKind(["SMESSAGE", b("c"), b("p")] as RespValue)).toBe(PubSubKind.SMessage);
  });

  it("leaves replies and other pushes alone", () => {
    for (const frame of [
      "OK",
      b("PONG"),
      [b("pong"), b("")],
      [b("invalidate"), [b("k")]],
      [b("messages"), b("c"), b("p")],
      [b("message"), b("c")], // too short to be one: a reply of two bulk strings
      [1, 2, 3],
      { message: "x" },
    ] as RespValue[]) {
      expect(pubSubKind(frame)).toBeUndefined();
    }
  });

  it("refuses a Pub/Sub word with the wrong shape with ProtocolError", () => {
    for (const frame of [
      [b("message"), b("c"), b("p"), b("extra")],
      [b("message"), 1, b("p")],
      [b("pmessage"), b("c*"), b("p")],
      [b("smessage"), b("c"), null],
      [b("ssubscribe"), b("c"), b("1")],
      [b("ssubscribe"), null, 1], // only an unsubscribe may name nothing
    ] as RespValue[]) {
      expect(() => pubSubKind(frame)).toThrow(ProtocolError);
    }
  });

  it("keys names by their bytes, so binary names are distinct exactly when their bytes are", () => {
    expect(nameKey(Buffer.from([0xff, 0x00]))).not.toBe(nameKey(Buffer.from([0xfe, 0x00])));
    expect(nameKey(Buffer.from([0xc3, 0xa9]))).toBe(nameKey(b("é")));
  });
});

describe("Inbox", () => {
  it("keeps at most `limit` messages with dropOldest, counting what it drops", () => {
    const inbox = new Inbox<number>(3, "dropOldest");
    const outcomes = [1, 2, 3, 4, 5].map((n) => inbox.push(n));
    expect(outcomes).toEqual([
      PushOutcome.Buffered,
      PushOutcome.Buffered,
      PushOutcome.Buffered,
      PushOutcome.DroppedOldest,
      PushOutcome.DroppedOldest,
    ]);
    expect(inbox.length).toBe(3);
    expect(inbox.dropped).toBe(2);
  });

  it('says Overflowed when full with "error", keeping what it holds', async () => {
    const inbox = new Inbox<number>(2, "error");
    expect([1, 2, 3].map((n) => inbox.push(n))).toEqual([
      PushOutcome.Buffered,
      PushOutcome.Buffered,
      PushOutcome.Overflowed,
    ]);
    inbox.end(new SubscriptionOverflowError(2));
    expect(await inbox.next()).toEqual({ value: 1, done: false });
    expect(await inbox.next()).toEqual({ value: 2, done: false });
    await expect(inbox.next()).rejects.toBeInstanceOf(SubscriptionOverflowError);
    expect(await inbox.next()).toEqual({ value: undefined, done: true });
  });

  it("hands a message straight to a waiting next(), and ends waiting ones done", async () => {
    const inbox = new Inbox<string>(1, "dropOldest");
    const first = inbox.next();
    const second = inbox.next();
    inbox.push("a");
    expect(await first).toEqual({ value: "a", done: false });
    inbox.end();
    expect(await second).toEqual({ value: undefined, done: true });
    expect(inbox.push("late")).toBe(PushOutcome.Buffered);
    expect(inbox.length).toBe(0);
  });
});

describe("Subscription", () => {
  const channel = { name: b("c"), text: "c" };

  function subscription(listener?: (message: string, channel: string) => void, bufferSize = 4) {
    const released: number[] = [];
    const sub = new Subscription<string>("shard", [channel], false, false, listener, { bufferSize }, () => {
      released.push(1);
      return Promise.resolve();
    });
    return { sub, released };
  }

  it("buffers from the start without a listener, and only while iterated with one", async () => {
    const alone = subscription();
    alone.sub.deliver(channel, b("c"), b("1"), undefined);
    const iterator = alone.sub[Symbol.asyncIterator]();
    expect(await iterator.next()).toEqual({ value: { channel: "c", message: "1" }, done: false });

    const got: string[] = [];
    const withListener = subscription((message) => got.push(message));
    withListener.sub.deliver(channel, b("c"), b("before"), undefined);
    const later = withListener.sub[Symbol.asyncIterator]();
    withListener.sub.deliver(channel, b("c"), b("during"), undefined);
    expect(await later.next()).toEqual({ value: { channel: "c", message: "during" }, done: false });
    expect(got).toEqual(["before", "during"]);
    // Leaving the loop ends only the iterator when a listener is there.
    await later.return?.();
    expect(withListener.released).toEqual([]);
    await alone.sub[Symbol.asyncIterator]().return?.();
    expect(alone.released).toEqual([1]);
  });

  it("emits overflow once per episode, and again after the consumer caught up", async () => {
    const { sub } = subscription(undefined, 4);
    const overflows: number[] = [];
    sub.on("overflow", ({ dropped }) => overflows.push(dropped));
    for (let i = 0; i < 10; i++) sub.deliver(channel, b("c"), b(String(i)), undefined);
    expect(overflows).toEqual([1]);
    expect(sub.dropped).toBe(6);
    const iterator = sub[Symbol.asyncIterator]();
    for (let i = 0; i < 4; i++) await iterator.next();
    for (let i = 0; i < 10; i++) sub.deliver(channel, b("c"), b(String(i)), undefined);
    expect(overflows).toEqual([1, 7]);
  });

  it("delivers nothing once unsubscribed, and finishes its iterator", async () => {
    const got: string[] = [];
    const { sub, released } = subscription((message) => got.push(message));
    const iterator = sub[Symbol.asyncIterator]();
    const pending = iterator.next();
    await sub.unsubscribe();
    sub.deliver(channel, b("c"), b("late"), undefined);
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(got).toEqual([]);
    expect(released).toEqual([1]);
    expect(sub.closed).toBe(true);
  });
});
