/**
 * Records what the diagnostics_channel channels of src/observe/channels.ts publish, for
 * the tests of tracing: every event of a tracing channel with a snapshot of its context, and
 * the messages of a plain channel. Everything subscribed is unsubscribed after each test.
 */
import { channel, tracingChannel } from "node:diagnostics_channel";
import { afterEach } from "vitest";

/** The events of a tracing channel, in `tracePromise` order. */
export type TraceEvent = "start" | "end" | "asyncStart" | "asyncEnd" | "error";
const EVENTS: readonly TraceEvent[] = ["start", "end", "asyncStart", "asyncEnd", "error"];

/** One event as published. */
export interface Recorded {
  /** Order of publication, across every recorder. */
  seq: number;
  event: TraceEvent;
  context: object;
  /** The context's fields when the event was published (it is one object, filled in as it goes). */
  snapshot: Record<string, unknown>;
}

let sequence = 0;
const unsubscribers: Array<() => void> = [];
afterEach(() => {
  for (const unsubscribe of unsubscribers.splice(0)) unsubscribe();
});

/** Subscribes to every event of a tracing channel until the test ends. */
export function recordTracing(name: string): Recorded[] {
  const recorded: Recorded[] = [];
  const traced = tracingChannel(name);
  const handlers = Object.fromEntries(
    EVENTS.map((event) => [
      event,
      (context: object) => recorded.push({ seq: sequence++, event, context, snapshot: { ...context } }),
    ]),
  ) as unknown as Parameters<typeof traced.subscribe>[0];
  traced.subscribe(handlers);
  unsubscribers.push(() => traced.unsubscribe(handlers));
  return recorded;
}

/** Subscribes to a plain channel until the test ends; returns the messages as they come. */
export function recordChannel(name: string): unknown[] {
  const messages: unknown[] = [];
  const onMessage = (message: unknown) => messages.push(message);
  channel(name).subscribe(onMessage);
  unsubscribers.push(() => channel(name).unsubscribe(onMessage));
  return messages;
}

/** The traces in `recorded`, one array of events per context, in first-event order. */
export function traces(recorded: Recorded[]): Recorded[][] {
  const byContext = new Map<object, Recorded[]>();
  for (const entry of recorded) {
    const list = byContext.get(entry.context) ?? [];
    list.push(entry);
    byContext.set(entry.context, list);
  }
  return [...byContext.values()];
}
