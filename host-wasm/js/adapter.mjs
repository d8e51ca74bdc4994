// The socket.io Adapter of the crosscast package: a drop-in replacement for
// @socket.io/redis-adapter 8.3.0 (`createAdapter`, `createShardedAdapter`),
// driven by the wasm cluster node (NodeCore). This layer holds no protocol
// logic: the node decides what to publish, where, and when a request ends;
// this class delivers its own server's part of each operation locally (as the
// official adapters do), feeds the node its inputs, and carries out the
// node's outputs (publish, subscribe, apply, answer) until there are none.
import adapterModule from "socket.io-adapter";
import { NodeCore } from "../pkg/crosscast_wasm.js";
import { CrosscastError } from "./error.mjs";
import { RedisLink } from "./redis-client.mjs";

const { Adapter } = adapterModule;

/** Milliseconds on the adapters' clock: never later than the real time. */
const now = () => Math.floor(performance.now());

function randomBytes(n) {
  const bytes = new Uint8Array(n);
  if (globalThis.crypto?.getRandomValues) return globalThis.crypto.getRandomValues(bytes);
  for (let i = 0; i < n; i++) bytes[i] = Math.floor(Math.random() * 256);
  return bytes;
}

/** Random bytes for one node uid: the core makes the uid of the protocol's shape. */
const uidRandom = () => randomBytes(NodeCore.uidRandomBytes());

/** socket.io's `{rooms: Set, except: Set, flags}` as the node reads it. */
const wireOpts = (opts) => ({
  rooms: [...(opts?.rooms ?? [])],
  except: [...(opts?.except ?? [])],
  flags: opts?.flags ?? {},
});

/** The node's `{rooms: [], except: [], flags}` as socket.io's local adapter reads it. */
const localOpts = (opts) => ({
  rooms: new Set(opts.rooms),
  except: new Set(opts.except),
  flags: opts.flags,
});

const closedError = () => new CrosscastError("the adapter is closed", "ADAPTER_CLOSED");

/** A local socket as a fetchSockets answer describes it (no sessionStore). */
function describeSocket(socket) {
  const { sessionStore, ...handshake } = socket.handshake ?? {};
  return { id: socket.id, handshake, rooms: [...socket.rooms], data: socket.data };
}

/**
 * The adapter of one namespace. Built by the function that `createAdapter` or
 * `createShardedAdapter` returns; not meant to be constructed directly.
 */
export class CrosscastAdapter extends Adapter {
  constructor(nsp, pubClient, subClient, config) {
    super(nsp);
    this.pubClient = pubClient;
    this.subClient = subClient;
    this.link = new RedisLink(pubClient, subClient, (channel, payload) =>
      this._input(() => this.core.handleMessage(now(), channel, payload)),
    );
    this.core = new NodeCore({ ...config, nsp: nsp.name }, now());
    this.uid = this.core.uid;
    /** request id -> {done(completion), onAck?(value)} */
    this.pending = new Map();
    // What this layer could not carry out, by reason (see stats()).
    this.drops = { publishFailed: 0, applyFailed: 0, subscribeFailed: 0 };
    // The subscriptions the node wants ("kind channel"), with the retry timer of
    // one that failed: a subscription is retried until it holds or is no longer wanted.
    this.wanted = new Map();
    this.draining = false;
    this.closed = false;
    this.timer = undefined;
    this.timerAt = undefined;
    // Rooms appearing and disappearing locally: the node decides which need a
    // channel (sharded dynamic modes); elsewhere it ignores them.
    // A room that is neither a string nor a number has no channel.
    const roomHook = (handle) => (room) =>
      this._input(() => {
        try {
          handle(room);
        } catch {}
      });
    this.on("create-room", roomHook((room) => this.core.handleRoomAdded(room)));
    this.on("delete-room", roomHook((room) => this.core.handleRoomRemoved(room)));
    this._drain();
  }

  // ---- the run loop -------------------------------------------------------------

  /** Feeds one input to the node, then carries out its outputs. */
  _input(feed) {
    try {
      return feed();
    } finally {
      if (!this.draining) this._drain();
    }
  }

  /** Drains transmits and events until both are empty, then arms the timer. */
  _drain() {
    this.draining = true;
    try {
      for (;;) {
        let progressed = false;
        for (let t = this.core.pollTransmit(); t !== undefined; t = this.core.pollTransmit()) {
          progressed = true;
          this._publish(t);
        }
        for (let e = this.core.pollEvent(); e !== undefined; e = this.core.pollEvent()) {
          progressed = true;
          try {
            this._apply(e);
          } catch {
            // One event that cannot be applied (a value that does not convert)
            // must not stop the others; it is counted.
            this.drops.applyFailed++;
          }
        }
        if (!progressed) break;
      }
    } finally {
      this.draining = false;
    }
    this._arm();
  }

  /** One timer for the node's next deadline; it holds the process only while requests wait. */
  _arm() {
    const at = this.core.pollTimeout();
    if (at !== this.timerAt) {
      clearTimeout(this.timer);
      this.timer = undefined;
      this.timerAt = at;
      if (at !== undefined) {
        this.timer = setTimeout(() => {
          this.timer = undefined;
          this.timerAt = undefined;
          this._input(() => this.core.handleTimeout(now()));
        }, Math.max(0, at - now()));
      }
    }
    if (this.timer) {
      if (this.pending.size > 0) this.timer.ref?.();
      else this.timer.unref?.();
    }
  }

  _publish({ kind, channel, payload }) {
    // A client that is down: the message is lost, as with the official adapter,
    // but counted.
    const failed = () => {
      this.drops.publishFailed++;
    };
    try {
      Promise.resolve(this.link.publish(kind, channel, payload)).catch(failed);
    } catch {
      failed();
    }
  }

  /**
   * SUBSCRIBEs (or PSUBSCRIBE, SSUBSCRIBE) `channel` while the node wants it. A
   * failure (a client not connected yet, an error reply) is counted and retried
   * after 100 ms, doubling up to 5 s: a server whose subscription failed once
   * would otherwise never hear the others again, without a trace.
   */
  _subscribe(kind, channel, delay = 100) {
    const key = `${kind} ${channel}`;
    if (this.closed) return;
    this.wanted.set(key, undefined);
    const retry = () => {
      this.drops.subscribeFailed++;
      if (this.closed || !this.wanted.has(key)) return;
      const timer = setTimeout(() => {
        if (this.wanted.get(key) === timer) this._subscribe(kind, channel, Math.min(2 * delay, 5000));
      }, delay);
      timer.unref?.();
      this.wanted.set(key, timer);
    };
    try {
      Promise.resolve(this.link.subscribe(kind, channel)).catch(retry);
    } catch {
      retry();
    }
  }

  /** Carries out one event of the node. */
  _apply(e) {
    switch (e.type) {
      case "subscribe":
        // "unknown": a subscription kind newer than this package; nothing to do.
        if (e.kind === "unknown") break;
        this._subscribe(e.kind, e.channel);
        break;
      case "unsubscribe": {
        if (e.kind === "unknown") break;
        const key = `${e.kind} ${e.channel}`;
        clearTimeout(this.wanted.get(key));
        this.wanted.delete(key);
        Promise.resolve(this.link.unsubscribe(e.kind, e.channel)).catch(() => {});
        break;
      }
      case "broadcast":
        super.broadcast(e.packet, localOpts(e.opts));
        break;
      case "broadcastWithAck": {
        const ack = e.ack;
        const opts = localOpts(e.opts);
        opts.flags = { ...opts.flags, timeout: e.timeoutMs };
        super.broadcastWithAck(
          e.packet,
          opts,
          (count) => this._input(() => this.core.handleRemoteClientCount(now(), ack, count)),
          (arg) =>
            this._input(() => {
              try {
                this.core.handleRemoteAck(now(), ack, arg);
              } catch {
                this.core.handleRemoteAck(now(), ack, null);
              }
            }),
        );
        break;
      }
      case "socketsJoin":
        super.addSockets(localOpts(e.opts), e.rooms);
        break;
      case "socketsLeave":
        super.delSockets(localOpts(e.opts), e.rooms);
        break;
      case "disconnectSockets":
        super.disconnectSockets(localOpts(e.opts), e.close);
        break;
      case "serverSideEmit": {
        const args = e.data;
        if (e.ack !== undefined && this.nsp.listenerCount(args[0]) === 0) {
          // Nobody will answer: free the node's entry now (the sender times
          // out, as with a Node server without a listener).
          this.core.releaseServerSideAck(now(), e.ack);
        } else if (e.ack !== undefined) {
          let called = false;
          args.push((arg) => {
            if (called) return;
            called = true;
            this._input(() => {
              try {
                this.core.handleServerSideAck(now(), e.ack, arg);
              } catch {
                // A value that cannot be encoded: an ack without argument.
                this.core.handleServerSideAck(now(), e.ack, undefined);
              }
            });
          });
        }
        this.nsp._onServerSideEmit(args);
        break;
      }
      case "serverCount":
        this.link
          .subscriberCount(e.channel, e.sharded)
          .then((count) => this._input(() => this.core.answerServerCount(now(), e.id, count)))
          .catch(() => {
            // Unanswered: the question expires and the node asks again.
          });
        break;
      case "localSockets":
        super.fetchSockets(localOpts(e.opts)).then((sockets) =>
          this._input(() => {
            try {
              this.core.answerLocalSockets(now(), e.id, sockets.map(describeSocket));
            } catch {
              // A handshake or socket.data that cannot be encoded: the ids and
              // rooms still answer.
              const bare = sockets.map((s) => ({ id: s.id, rooms: [...s.rooms] }));
              this.core.answerLocalSockets(now(), e.id, bare);
            }
          }),
        );
        break;
      case "localRooms":
        this.core.answerLocalRooms(now(), e.id, [...this.rooms.keys()]);
        break;
      case "ackReceived":
        this.pending.get(e.request)?.onAck?.(e.value);
        break;
      case "completed": {
        const request = this.pending.get(e.request);
        this.pending.delete(e.request);
        request?.done(e);
        break;
      }
      default:
        // peerUp / peerDown: membership is the node's business.
        break;
    }
  }

  /** Starts a request with `start(now)` (returns its id); resolves with its `completed` event. */
  _request(start, onAck) {
    return new Promise((resolve) => {
      this._input(() => {
        const id = start(now());
        this.pending.set(id, { done: resolve, onAck });
      });
    });
  }

  // ---- what socket.io calls -------------------------------------------------------

  broadcast(packet, opts) {
    packet.nsp = this.nsp.name;
    if (!opts?.flags?.local) {
      this._input(() => this.core.broadcast(packet.data, wireOpts(opts)));
    }
    super.broadcast(packet, opts);
  }

  broadcastWithAck(packet, opts, clientCountCallback, ack) {
    packet.nsp = this.nsp.name;
    if (!opts?.flags?.local) {
      const timeout = opts?.flags?.timeout ?? this.core.requestsTimeout;
      // socket.io counts one client-count callback per server; the node
      // reports each remote server's count once every one has counted.
      const done = (completion) => {
        if (completion.timedOut || completion.outcome !== "broadcastAck") return;
        for (const count of completion.clientCounts) clientCountCallback(count);
      };
      this._input(() => {
        const id = this.core.broadcastWithAck(now(), packet.data, wireOpts(opts), timeout);
        this.pending.set(id, { done, onAck: ack });
      });
    }
    super.broadcastWithAck(packet, opts, clientCountCallback, ack);
  }

  addSockets(opts, rooms) {
    if (!opts?.flags?.local) {
      this._input(() => this.core.socketsJoin(wireOpts(opts), [...rooms]));
    }
    return super.addSockets(opts, rooms);
  }

  delSockets(opts, rooms) {
    if (!opts?.flags?.local) {
      this._input(() => this.core.socketsLeave(wireOpts(opts), [...rooms]));
    }
    return super.delSockets(opts, rooms);
  }

  disconnectSockets(opts, close) {
    if (!opts?.flags?.local) {
      this._input(() => this.core.disconnectSockets(wireOpts(opts), Boolean(close)));
    }
    return super.disconnectSockets(opts, close);
  }

  async fetchSockets(opts) {
    const localSockets = await super.fetchSockets(opts);
    if (opts?.flags?.local) return localSockets;
    const done = await this._request((t) => this.core.fetchSockets(t, wireOpts(opts)));
    if (done.outcome === "cancelled") throw closedError();
    // The node words the timeout as the official adapter of its protocol does.
    if (done.error !== undefined) throw new Error(done.error);
    return localSockets.concat(done.sockets);
  }

  /**
   * The rooms of the whole cluster, socket-id rooms included, as a Set. The
   * node picks the request (classic: allRooms; sharded, whose protocol has
   * none: the rooms of every socket, from one fetchSockets), so the answer is
   * the one the Rust host gives. Rejects on a timeout.
   */
  async allRooms() {
    const rooms = new Set(this.rooms.keys());
    const everyone = { rooms: [], except: [], flags: {} };
    const done = await this._request((t) => this.core.rooms(t, everyone));
    if (done.outcome === "cancelled") throw closedError();
    if (done.error !== undefined) throw new Error(done.error);
    for (const room of done.rooms) rooms.add(room);
    return rooms;
  }

  serverSideEmit(packet) {
    const withAck = typeof packet[packet.length - 1] === "function";
    if (!withAck) {
      this._input(() => this.core.serverSideEmit(packet));
      return;
    }
    const ack = packet.pop();
    this._request((t) => this.core.serverSideEmitWithAck(t, packet)).then(
      (done) => {
        if (done.outcome === "cancelled") return ack(closedError(), []);
        if (done.error !== undefined) return ack(new Error(done.error), done.values);
        return ack(null, done.values);
      },
      (err) => ack(err, []),
    );
  }

  async serverCount() {
    const done = await this._request((t) => this.core.serverCount(t));
    return done.outcome === "serverCount" ? done.count : 1;
  }

  async close() {
    if (this.closed) return;
    this.closed = true;
    this._input(() => this.core.close(now()));
    for (const timer of this.wanted.values()) clearTimeout(timer);
    this.wanted.clear();
    clearTimeout(this.timer);
    this.timer = undefined;
    await this.link.close();
  }

  /**
   * Counters of the node (messages received, published, dropped, requests...)
   * and of this layer: `publishFailed` (a PUBLISH the client rejected: the
   * message is lost), `applyFailed` (an operation of another server that could
   * not be applied here), `subscribeFailed` (a SUBSCRIBE that failed and is
   * being retried).
   */
  stats() {
    return { ...this.core.stats(), ...this.drops };
  }
}

function commonOptions(opts) {
  const config = {};
  for (const name of ["heartbeatInterval", "heartbeatTimeout", "recountInterval"]) {
    if (opts[name] !== undefined) config[name] = opts[name];
  }
  return config;
}

/**
 * The classic adapter (Redis PUBLISH/SUBSCRIBE), wire-compatible with
 * `createAdapter` of @socket.io/redis-adapter 8.3.0. Options: `key`
 * ("socket.io"), `requestsTimeout` (5000), `publishOnSpecificResponseChannel` (false).
 */
export function createAdapter(pubClient, subClient, opts = {}) {
  const config = {
    ...commonOptions(opts),
    protocol: "classic",
    // Absent (and, as in Node, empty or 0) options take the core's defaults.
    key: opts.key || undefined,
    requestsTimeout: opts.requestsTimeout || undefined,
    publishOnSpecificResponseChannel: !!opts.publishOnSpecificResponseChannel,
  };
  // A plain function: socket.io calls it with `new`.
  return function (nsp) {
    return new CrosscastAdapter(nsp, pubClient, subClient, { ...config, uidRandom: uidRandom() });
  };
}

/**
 * The sharded adapter (Redis 7 SPUBLISH/SSUBSCRIBE), wire-compatible with
 * `createShardedAdapter` of @socket.io/redis-adapter 8.3.0. Options:
 * `channelPrefix` ("socket.io"), `subscriptionMode` ("dynamic"; or "static",
 * "dynamic-private").
 */
export function createShardedAdapter(pubClient, subClient, opts = {}) {
  const config = {
    ...commonOptions(opts),
    protocol: "sharded",
    channelPrefix: opts.channelPrefix,
    subscriptionMode: opts.subscriptionMode ?? "dynamic",
    requestsTimeout: opts.requestsTimeout || undefined,
  };
  return function (nsp) {
    return new CrosscastAdapter(nsp, pubClient, subClient, { ...config, uidRandom: uidRandom() });
  };
}
