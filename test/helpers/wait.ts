/** Waiting in tests for a condition to hold, by polling it (for states with no event). */
import { pollUntil } from "../../src/dev/poll.js";

/**
 * Resolves once `condition` returns true; rejects after `timeoutMs` naming `what`.
 *
 * @example
 * await waitFor("the client to see 4 replicas", 5_000, () => cluster.nodes("replica").length === 4);
 */
export function waitFor(
  what: string,
  timeoutMs: number,
  condition: () => boolean | Promise<boolean>,
): Promise<void> {
  return pollUntil(what, timeoutMs, async () => ((await condition()) ? undefined : "not yet"));
}
