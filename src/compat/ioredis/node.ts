/**
 * The objects `Cluster.nodes()` returns: ioredis hands out one `Redis` per node; libraries
 * use them for what concerns one node (PUBSUB counts, CLIENT LIST, SCAN, INFO). Each wraps
 * a native node handle, so its commands go to that node only.
 */
import { Readable } from "node:stream";
import type { NodeHandle } from "../../cluster/node-handle.js";
import type { CommandMethods } from "../../command/methods.generated.js";
import type { RedisArg } from "../../resp/types.js";
import { defineCommandMethods, invoke } from "../invoke.js";
import { asIoredisError, type Callback, ioredisArgs, withCallback } from "./args.js";

/** One node of the cluster, with ioredis's command methods. */
// biome-ignore lint/suspicious/noUnsafeDeclarationMerging: the command methods are installed on the prototype in the static block; the interface below types them.
export class ClusterNode {
  /** `host` and `port`, where ioredis keeps them. */
  readonly options: { readonly host: string; readonly port: number };
  /** A node handed out is connected as far as the caller is concerned (the pool reconnects). */
  readonly status = "ready";
  readonly #handle: NodeHandle;

  /** @internal Made by `Cluster.nodes()`. */
  constructor(handle: NodeHandle) {
    this.#handle = handle;
    const colon = handle.address.lastIndexOf(":");
    this.options = {
      host: handle.address.slice(0, colon).replace(/^\[|\]$/g, ""),
      port: Number(handle.address.slice(colon + 1)),
    };
  }

  call(name: string, ...given: unknown[]): Promise<unknown> {
    return this.#send(name, given, false);
  }

  callBuffer(name: string, ...given: unknown[]): Promise<unknown> {
    return this.#send(name, given, true);
  }

  /** ioredis's older spelling: the arguments as one array. */
  send_command(name: string, args: readonly unknown[] = [], callback?: Callback): Promise<unknown> {
    return this.#send(name, callback === undefined ? [...args] : [...args, callback], false);
  }

  /** This node's keys (SCAN, cursor kept to this node), as a stream of arrays of keys. */
  scanStream(options: { match?: string; count?: number; type?: string } = {}): Readable {
    const handle = this.#handle;
    async function* batches(): AsyncGenerator<string[]> {
      let cursor = "0";
      do {
        const args: RedisArg[] = [cursor];
        if (options.match !== undefined) args.push("MATCH", options.match);
        if (options.count !== undefined) args.push("COUNT", options.count);
        if (options.type !== undefined) args.push("TYPE", options.type);
        const [next, keys] = (await handle.call("SCAN", ...args)) as [string, string[]];
        cursor = next;
        if (keys.length > 0) yield keys;
      } while (cursor !== "0");
    }
    return Readable.from(batches(), { objectMode: true });
  }

  #send(name: string, given: readonly unknown[], buffers: boolean): Promise<unknown> {
    const { args, callback } = ioredisArgs(name, given);
    let reply: Promise<unknown>;
    try {
      reply = Promise.resolve(invoke(this.#handle, name, args, buffers));
    } catch (error) {
      reply = Promise.reject(error);
    }
    return withCallback(reply.catch(asIoredisError), callback);
  }

  static {
    defineCommandMethods(ClusterNode.prototype, (self, name, given, buffers) =>
      self.#send(name, given, buffers),
    );
  }
}

type CommandName = (keyof CommandMethods<2> & string) | "mset";

/** The command methods of a node, typed loosely (see `ClusterCommands`). */
export type NodeCommands = {
  [K in CommandName | `${CommandName}Buffer`]: (...args: unknown[]) => Promise<unknown>;
};

export interface ClusterNode extends NodeCommands {}
