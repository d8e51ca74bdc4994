// The Emitter of the crosscast package: the API of @socket.io/redis-emitter 5.x
// over the wasm EmitterCore. This module holds no protocol logic: the wasm core
// builds every channel and payload; this layer keeps the chained options and
// hands each {channel, payload} to the publish function.
import { EmitterCore } from "../pkg/crosscast_wasm.js";
import { CrosscastError } from "./error.mjs";

/**
 * Turns what the caller gave into `publish(channel, bytes)`:
 * - a function is used as is;
 * - node-redis v4+ (`sendCommand` + `isOpen`/`connect`, or a `publish` taking
 *   `(channel, message)` with Buffer support) is driven through `publish` with a Buffer;
 * - ioredis (`publish(channel, Buffer)`) likewise.
 * Both clients accept a Buffer payload; where `Buffer` does not exist the
 * Uint8Array itself is passed.
 */
export function toPublish(client) {
  if (typeof client === "function") {
    return (channel, payload) => client(channel, payload);
  }
  if (client && typeof client.publish === "function") {
    const NodeBuffer = globalThis.Buffer;
    return (channel, payload) => {
      const bytes = NodeBuffer
        ? NodeBuffer.from(payload.buffer, payload.byteOffset, payload.byteLength)
        : payload;
      return client.publish(channel, bytes);
    };
  }
  throw new CrosscastError(
    "expected an ioredis client, a node-redis client or a publish(channel, bytes) function",
    "INVALID_ARGUMENT",
  );
}

function roomList(rooms) {
  if (rooms === undefined || rooms === null) return [];
  if (typeof rooms === "string" || typeof rooms === "number") return [rooms];
  return Array.from(rooms);
}

/**
 * An emitter for one namespace. `new Emitter(client, {key}, nsp)`, then
 * `emitter.to("room").emit("event", ...args)`. Every publishing call returns
 * what the publish function returned (a Promise for Redis clients).
 */
export class Emitter {
  constructor(redisClient, opts = {}, nsp = "/") {
    this.redisClient = redisClient;
    // An absent key is the core's default ("socket.io").
    this.opts = { ...opts };
    this._publish = toPublish(redisClient);
    this._core = new EmitterCore(this.opts.key, nsp);
    this.nsp = this._core.nsp;
  }

  /** An emitter for another namespace (a leading "/" is added when missing). */
  of(nsp) {
    return new Emitter(this.redisClient, this.opts, nsp);
  }

  _operator() {
    return new BroadcastOperator(this._core, this._publish);
  }

  /** Emits to every socket of the namespace. */
  emit(ev, ...args) {
    return this._operator().emit(ev, ...args);
  }

  /** Targets a room or rooms. */
  to(room) {
    return this._operator().to(room);
  }

  /** Same as `to`. */
  in(room) {
    return this._operator().in(room);
  }

  /** Excludes a room or rooms. */
  except(room) {
    return this._operator().except(room);
  }

  /** The event may be dropped by a receiver whose transport is not writable. */
  get volatile() {
    return this._operator().volatile;
  }

  /** Sets the per-message compression hint. */
  compress(compress) {
    return this._operator().compress(compress);
  }

  /** Makes the matching sockets join `rooms`. */
  socketsJoin(rooms) {
    return this._operator().socketsJoin(rooms);
  }

  /** Makes the matching sockets leave `rooms`. */
  socketsLeave(rooms) {
    return this._operator().socketsLeave(rooms);
  }

  /** Disconnects the matching sockets; `close` also closes the transport. */
  disconnectSockets(close = false) {
    return this._operator().disconnectSockets(close);
  }

  /** Emits to the other servers of the cluster (`io.on(ev, ...)`); no acks. */
  serverSideEmit(ev, ...args) {
    if (args.length > 0 && typeof args[args.length - 1] === "function") {
      throw new CrosscastError(
        "Acknowledgements are not supported",
        "ACK_UNSUPPORTED",
      );
    }
    const { channel, payload } = this._core.serverSideEmit(String(ev), args);
    return this._publish(channel, payload);
  }
}

/** Chained broadcast options; immutable, like socket.io's BroadcastOperator. */
export class BroadcastOperator {
  constructor(core, publish, rooms = new Set(), exceptRooms = new Set(), flags = {}) {
    this._core = core;
    this._publish = publish;
    this.rooms = rooms;
    this.exceptRooms = exceptRooms;
    this.flags = flags;
  }

  _with(change) {
    const rooms = new Set(this.rooms);
    const exceptRooms = new Set(this.exceptRooms);
    const flags = { ...this.flags };
    change(rooms, exceptRooms, flags);
    return new BroadcastOperator(this._core, this._publish, rooms, exceptRooms, flags);
  }

  to(room) {
    return this._with((rooms) => roomList(room).forEach((r) => rooms.add(r)));
  }

  in(room) {
    return this.to(room);
  }

  except(room) {
    return this._with((_, exceptRooms) => roomList(room).forEach((r) => exceptRooms.add(r)));
  }

  compress(compress) {
    return this._with((_, __, flags) => {
      flags.compress = compress;
    });
  }

  get volatile() {
    return this._with((_, __, flags) => {
      flags.volatile = true;
    });
  }

  _opts() {
    return { rooms: [...this.rooms], except: [...this.exceptRooms], flags: this.flags };
  }

  emit(ev, ...args) {
    if (args.length > 0 && typeof args[args.length - 1] === "function") {
      throw new CrosscastError("Acknowledgements are not supported", "ACK_UNSUPPORTED");
    }
    const { channel, payload } = this._core.broadcast(this._opts(), String(ev), args);
    return this._publish(channel, payload);
  }

  socketsJoin(rooms) {
    const { channel, payload } = this._core.socketsJoin(this._opts(), roomList(rooms));
    return this._publish(channel, payload);
  }

  socketsLeave(rooms) {
    const { channel, payload } = this._core.socketsLeave(this._opts(), roomList(rooms));
    return this._publish(channel, payload);
  }

  disconnectSockets(close = false) {
    const { channel, payload } = this._core.disconnectSockets(this._opts(), Boolean(close));
    return this._publish(channel, payload);
  }
}
