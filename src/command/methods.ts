/**
 * Puts one method per Redis command (and its `...Buffer` twin) on a prototype, from the
 * generated list. The cluster client, its pipelines and its per-node handles all get the
 * same methods; each implements `[SEND_COMMAND]` to decide what sending means for it.
 */
import type { RedisArg } from "../resp/types.js";
import type { ReplyTransform } from "./command.js";
import { COMMAND_METHOD_NAMES } from "./methods.generated.js";
import { type CommandInfo, findCommand } from "./table.js";
import { ARGUMENT_SHAPERS, REPLY_TRANSFORMS } from "./transforms.js";

/** The one method every command method calls. */
export const SEND_COMMAND = Symbol("rediscluster.sendCommand");

/** What gets command methods: anything that can send a described command. */
export interface CommandTarget {
  [SEND_COMMAND](
    name: string,
    info: CommandInfo | undefined,
    args: RedisArg[],
    wantsBuffers: boolean,
    transform: ReplyTransform | undefined,
  ): unknown;
}

/** Puts a method (and its `...Buffer` twin) per Redis command on `prototype`; hand-written methods win. */
export function installCommandMethods(prototype: object): void {
  for (const method of COMMAND_METHOD_NAMES) {
    const name = method.toUpperCase();
    const info = findCommand(method);
    const transform = REPLY_TRANSFORMS.get(method);
    const shape = ARGUMENT_SHAPERS.get(method);
    // A method the class wrote by hand (e.g. mset) wins over the generated one.
    if (!Object.hasOwn(prototype, method)) {
      Object.defineProperty(prototype, method, {
        configurable: true,
        writable: true,
        value: function (this: CommandTarget, ...args: RedisArg[]) {
          return this[SEND_COMMAND](name, info, shape ? shape(args) : args, false, transform);
        },
      });
    }
    if (!Object.hasOwn(prototype, `${method}Buffer`)) {
      Object.defineProperty(prototype, `${method}Buffer`, {
        configurable: true,
        writable: true,
        value: function (this: CommandTarget, ...args: RedisArg[]) {
          return this[SEND_COMMAND](name, info, shape ? shape(args) : args, true, transform);
        },
      });
    }
  }
}
