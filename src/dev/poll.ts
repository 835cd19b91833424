/**
 * Waiting for a condition by polling it at short intervals: the cluster offers no event
 * for "every node agrees", so we ask again until it does or the deadline passes.
 */

/**
 * Calls `check` until it returns `undefined` (done), sleeping `intervalMs` between calls.
 * `check` returns a short reason while the condition does not hold yet; the last reason
 * ends up in the timeout error, so a failure says what was still missing.
 *
 * @example
 * await pollUntil("node 7001 to answer", 5000, async () => ((await ping(7001)) ? undefined : "no PONG"));
 */
export async function pollUntil(
  what: string,
  timeoutMs: number,
  check: () => Promise<string | undefined>,
  intervalMs = 20,
): Promise<void> {
  const deadlineAt = Date.now() + timeoutMs;
  for (;;) {
    const reason = await check();
    if (reason === undefined) return;
    if (Date.now() >= deadlineAt) {
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}: ${reason}`);
    }
    await delay(Math.min(intervalMs, Math.max(1, deadlineAt - Date.now())));
  }
}

/** A plain timer promise, for the interval between two polls (never as synchronisation). */
export function delay(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}
