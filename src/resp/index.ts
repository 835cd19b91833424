/** The RESP protocol layer: command encoding, incremental reply decoding, value types. No I/O. */
export { RespDecoder } from "./decoder.js";
export { CommandWriter, encodeCommand } from "./encoder.js";
export type { DecoderLimits, RedisArg, ReplyHandler, RespValue } from "./types.js";
