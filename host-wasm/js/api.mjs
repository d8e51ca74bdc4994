// The public API, shared by every entry. Entries initialise the wasm first.
export { Emitter, BroadcastOperator } from "./emitter.mjs";
export { CrosscastError } from "./error.mjs";
export {
  EmitterCore,
  encodeMsgpack,
  decodeMsgpack,
  encodeJson,
  decodeJson,
} from "../pkg/crosscast_wasm.js";
