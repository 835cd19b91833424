/**
 * Per-node handles (`cluster.nodes()`): the same command methods as the client, every one
 * sent to one node and answered as that node answers (MOVED included). For what concerns
 * one node: INFO, CONFIG GET, CLIENT LIST, SCAN of that node, ...
 */
import type { ReplyTransform } from "../command/command.js";
import type { CommandMethods } from "../command/methods.generated.js";
import { type CommandTarget, installCommandMethods, SEND_COMMAND } from "../command/methods.js";
import type { CommandInfo } from "../command/table.js";
import type { RespVersion } from "../command/types.js";
import { splitCommandName } from "../command/validate.js";
import type { RedisArg } from "../resp/types.js";
import type { ClusterNode, NodeRole } from "./topology.js";

/**
 * A connection-level view of one node, for commands that concern that node only. `R` is
 * the client's protocol, which its replies are typed for.
 */
export interface NodeHandle<R extends RespVersion = 2> extends CommandMethods<R> {
  /** The node's `host:port`, as the client reaches it (after `natMap`). */
  readonly address: string;
  /** `"primary"` or `"replica"` (`role()` is the ROLE command, sent to the node). */
  readonly nodeRole: NodeRole;
  /** Sends any command to this node; its reply comes back as is (MOVED included). */
  call(name: string, ...args: RedisArg[]): Promise<unknown>;
  /** `call`, with bulk replies as Buffers. */
  callBuffer(name: string, ...args: RedisArg[]): Promise<unknown>;
}

/** What a node handle needs from its client: one way to send to one node. */
export interface NodeSender {
  sendToNode(
    address: string,
    name: string,
    args: RedisArg[],
    wantsBuffers: boolean,
    transform?: ReplyTransform,
  ): Promise<unknown>;
}

class ClusterNodeHandle implements CommandTarget {
  readonly address: string;
  readonly nodeRole: NodeRole;
  readonly #client: NodeSender;

  constructor(client: NodeSender, node: ClusterNode) {
    this.#client = client;
    this.address = node.address;
    this.nodeRole = node.role;
  }

  call(name: string, ...args: RedisArg[]): Promise<unknown> {
    return this.#call(name, args, false);
  }

  callBuffer(name: string, ...args: RedisArg[]): Promise<unknown> {
    return this.#call(name, args, true);
  }

  #call(name: string, args: RedisArg[], wantsBuffers: boolean): Promise<unknown> {
    const named = splitCommandName(name, args);
    if (named instanceof Error) return Promise.reject(named);
    return this.#client.sendToNode(this.address, named.head, named.args, wantsBuffers);
  }

  [SEND_COMMAND](
    name: string,
    _info: CommandInfo | undefined,
    args: RedisArg[],
    wantsBuffers: boolean,
    transform: ReplyTransform | undefined,
  ): Promise<unknown> {
    return this.#client.sendToNode(this.address, name, args, wantsBuffers, transform);
  }
}
installCommandMethods(ClusterNodeHandle.prototype);

/** A handle on `node` whose commands go through `client`. */
export function nodeHandle(client: NodeSender, node: ClusterNode): NodeHandle {
  return new ClusterNodeHandle(client, node) as unknown as NodeHandle;
}
