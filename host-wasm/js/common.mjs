// The exports every entry has, workerd's included: the Emitter, the codec and
// the raw bindings. The socket.io Adapter (which needs socket.io-adapter and a
// Redis client) is added by api.mjs for the Node.js, Deno and Bun entries.
export { Emitter, BroadcastOperator } from "./emitter.mjs";
export { CrosscastError } from "./error.mjs";
export {
  EmitterCore,
  NodeCore,
  encodeMsgpack,
  decodeMsgpack,
  encodeJson,
  decodeJson,
} from "../pkg/crosscast_wasm.js";
