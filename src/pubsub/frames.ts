/**
 * What a Pub/Sub frame is: the one place that reads the shape of the frames a server sends
 * about subscriptions. RESP2 sends them as ordinary arrays on a subscribed connection, RESP3
 * as push frames; the shapes are the same:
 *
 * ```
 *   [ "message",  channel, payload ]             a message (SUBSCRIBE)
 *   [ "pmessage", pattern, channel, payload ]    a message (PSUBSCRIBE)
 *   [ "smessage", channel, payload ]             a message (SSUBSCRIBE)
 *   [ "subscribe" | "psubscribe" | "ssubscribe", name, count ]          one per name subscribed
 *   [ "unsubscribe" | "punsubscribe" | "sunsubscribe", name | null, count ]
 *        one per name unsubscribed, or — `sunsubscribe` unasked — the server dropped the
 *        subscription itself (its slot moved to another node, or the primary was demoted)
 * ```
 *
 * On a subscriber connection every bulk string is a Buffer (see `routeFrame` in
 * connection/types.ts), and so is every bulk string of a RESP3 push.
 */
import { ProtocolError } from "../errors.js";
import type { RespValue } from "../resp/types.js";

/** The three kinds of subscription: SUBSCRIBE, PSUBSCRIBE, SSUBSCRIBE. */
export type Family = "channel" | "pattern" | "shard";

/** The frames of Pub/Sub, by their first word. */
export enum PubSubKind {
  Message,
  PMessage,
  SMessage,
  Subscribe,
  PSubscribe,
  SSubscribe,
  Unsubscribe,
  PUnsubscribe,
  SUnsubscribe,
}

const WORDS: ReadonlyArray<readonly [string, PubSubKind]> = [
  ["message", PubSubKind.Message],
  ["pmessage", PubSubKind.PMessage],
  ["smessage", PubSubKind.SMessage],
  ["subscribe", PubSubKind.Subscribe],
  ["psubscribe", PubSubKind.PSubscribe],
  ["ssubscribe", PubSubKind.SSubscribe],
  ["unsubscribe", PubSubKind.Unsubscribe],
  ["punsubscribe", PubSubKind.PUnsubscribe],
  ["sunsubscribe", PubSubKind.SUnsubscribe],
];
const KIND_BY_WORD = new Map(WORDS.map(([word, kind]) => [word, kind]));
const WORD_BYTES = WORDS.map(([word, kind]) => ({ bytes: Buffer.from(word), kind }));

/** The family each kind is about. */
export const FAMILY_OF: Readonly<Record<PubSubKind, Family>> = {
  [PubSubKind.Message]: "channel",
  [PubSubKind.PMessage]: "pattern",
  [PubSubKind.SMessage]: "shard",
  [PubSubKind.Subscribe]: "channel",
  [PubSubKind.PSubscribe]: "pattern",
  [PubSubKind.SSubscribe]: "shard",
  [PubSubKind.Unsubscribe]: "channel",
  [PubSubKind.PUnsubscribe]: "pattern",
  [PubSubKind.SUnsubscribe]: "shard",
};

/** The command that subscribes, and the one that unsubscribes, per family. */
export const SUBSCRIBE_COMMAND: Readonly<Record<Family, string>> = {
  channel: "SUBSCRIBE",
  pattern: "PSUBSCRIBE",
  shard: "SSUBSCRIBE",
};
/** The command that ends each kind of subscription. */
export const UNSUBSCRIBE_COMMAND: Readonly<Record<Family, string>> = {
  channel: "UNSUBSCRIBE",
  pattern: "PUNSUBSCRIBE",
  shard: "SUNSUBSCRIBE",
};

/** Whether a frame kind carries a message (not a confirmation). */
export function isMessageKind(kind: PubSubKind): boolean {
  return kind <= PubSubKind.SMessage;
}

/** Whether a frame kind says a subscription ended. */
export function isUnsubscribeKind(kind: PubSubKind): boolean {
  return kind >= PubSubKind.Unsubscribe;
}

/**
 * The Pub/Sub kind of a frame, or undefined when it is not a Pub/Sub frame (a command's
 * reply, `pong`, an `invalidate` push). A frame that names a Pub/Sub kind but does not have
 * its shape throws `ProtocolError`: the stream cannot be trusted any more.
 *
 * @example
 * pubSubKind([Buffer.from("smessage"), Buffer.from("ch"), Buffer.from("hi")]); // PubSubKind.SMessage
 */
export function pubSubKind(frame: RespValue): PubSubKind | undefined {
  if (!Array.isArray(frame) || frame.length < 3) return undefined;
  const kind = kindOfWord(frame[0]);
  if (kind === undefined) return undefined;
  if (!hasShape(kind, frame)) {
    throw new ProtocolError(`a ${WORDS[kind]![0]} frame of ${frame.length} elements has the wrong shape`);
  }
  return kind;
}

function kindOfWord(word: RespValue | undefined): PubSubKind | undefined {
  if (typeof word === "string") return KIND_BY_WORD.get(word.toLowerCase());
  if (!Buffer.isBuffer(word) || word.length < 7 || word.length > 12) return undefined;
  // Messages first: they are nearly every frame a subscriber reads.
  for (const { bytes, kind } of WORD_BYTES)
    if (bytes.length === word.length && bytes.equals(word)) return kind;
  return undefined;
}

function hasShape(kind: PubSubKind, frame: RespValue[]): boolean {
  if (kind === PubSubKind.PMessage) {
    return (
      frame.length === 4 &&
      Buffer.isBuffer(frame[1]) &&
      Buffer.isBuffer(frame[2]) &&
      Buffer.isBuffer(frame[3])
    );
  }
  if (frame.length !== 3) return false;
  if (isMessageKind(kind)) return Buffer.isBuffer(frame[1]) && Buffer.isBuffer(frame[2]);
  // A confirmation: the name (null for an UNSUBSCRIBE of nothing), then the count.
  const name = frame[1];
  return (
    (Buffer.isBuffer(name) || (name === null && isUnsubscribeKind(kind))) && typeof frame[2] === "number"
  );
}

/**
 * The text a name is looked up by: one character per byte, so that two names are the same
 * key exactly when their bytes are the same (binary names included).
 */
export function nameKey(name: Buffer): string {
  return name.toString("latin1");
}
