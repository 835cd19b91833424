/**
 * What a Redis 7 server answers to `COMMAND INFO <name>` for a module command, for tests of
 * commands the built-in table does not know (src/command/catalog.ts).
 */

/**
 * One `COMMAND INFO` entry: a write command of a module, with one key at argv[1] described by
 * a key spec (`"first"`), or with movable keys and no key specs (`"movable"`: only
 * `COMMAND GETKEYS` can locate them).
 */
export function moduleCommandInfo(name: string, keys: "first" | "movable" = "first"): unknown[] {
  const keySpecs =
    keys === "first"
      ? [
          [
            "flags",
            ["RW"],
            "begin_search",
            ["type", "index", "spec", ["index", 1]],
            "find_keys",
            ["type", "range", "spec", ["lastkey", 0, "keystep", 1, "limit", 0]],
          ],
        ]
      : [];
  const flags = keys === "first" ? ["write", "module"] : ["write", "module", "movablekeys"];
  return [name, -2, flags, keys === "first" ? 1 : 0, keys === "first" ? 1 : 0, 1, [], [], keySpecs, []];
}
