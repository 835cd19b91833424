// @ts-check
/**
 * How the bench waits for a client and says what went wrong: shared by the runners of every
 * workload (run.mjs, cache.mjs, pubsub.mjs) and the client adapters.
 */

/**
 * `promise`, or a rejection naming `what` once `ms` have passed.
 *
 * @template T
 * @param {Promise<T>} promise
 * @param {number} ms
 * @param {string} what
 * @returns {Promise<T>}
 */
export function within(promise, ms, what) {
  /** @type {NodeJS.Timeout | undefined} */
  let timer;
  const expired = new Promise((_, reject) => {
    timer = setTimeout(() => reject(new Error(`${what} took more than ${ms} ms`)), ms);
  });
  return /** @type {Promise<T>} */ (Promise.race([promise, expired])).finally(() => clearTimeout(timer));
}

/**
 * An error as one line for the report: `Name: message`.
 *
 * @param {unknown} error
 */
export const errorText = (error) =>
  error instanceof Error ? `${error.name}: ${error.message}` : String(error);
