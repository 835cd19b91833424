/**
 * "No input or failure ever produces an unhandled promise rejection or an uncaught
 * exception": what escapes to the process while a test runs, collected so a test can
 * assert there was nothing.
 */
import { afterEach, beforeEach } from "vitest";

/**
 * Watches every test of the calling file; the returned array holds what escaped during the
 * current test (emptied before each).
 *
 * @example
 * const escaped = watchEscapes();
 * it("...", async () => { ...; expect(escaped).toEqual([]); });
 */
export function watchEscapes(): unknown[] {
  const escaped: unknown[] = [];
  const onEscape = (reason: unknown) => escaped.push(reason);
  beforeEach(() => {
    escaped.length = 0;
    process.on("unhandledRejection", onEscape);
    process.on("uncaughtException", onEscape);
  });
  afterEach(() => {
    process.off("unhandledRejection", onEscape);
    process.off("uncaughtException", onEscape);
  });
  return escaped;
}
