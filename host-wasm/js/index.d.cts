import type { Adapter, Room as AdapterRoom } from "socket.io-adapter";

/** A Redis client the Emitter can publish with, or a bare publish function. */
export type PublishFunction = (channel: string, payload: Uint8Array) => unknown;
export interface PublishingClient {
  publish(channel: string, message: any): unknown;
}
export type Room = string | number;

export interface EmitterOptions {
  /** Channel prefix, "socket.io" by default. */
  key?: string;
}

/** An error with a stable `code` (`INVALID_ARGUMENT`, `ACK_UNSUPPORTED`, `DECODE_*`, ...). */
export declare class CrosscastError extends Error {
  constructor(message: string, code: string);
  readonly code: string;
}

/** Chained broadcast options (immutable). */
export declare class BroadcastOperator {
  to(room: Room | Room[]): BroadcastOperator;
  in(room: Room | Room[]): BroadcastOperator;
  except(room: Room | Room[]): BroadcastOperator;
  compress(compress: boolean): BroadcastOperator;
  readonly volatile: BroadcastOperator;
  emit(ev: string, ...args: any[]): unknown;
  socketsJoin(rooms: Room | Room[]): unknown;
  socketsLeave(rooms: Room | Room[]): unknown;
  disconnectSockets(close?: boolean): unknown;
}

/** The API of `@socket.io/redis-emitter` 5.x. */
export declare class Emitter {
  constructor(
    redisClient: PublishingClient | PublishFunction,
    opts?: EmitterOptions,
    nsp?: string,
  );
  readonly nsp: string;
  of(nsp: string): Emitter;
  to(room: Room | Room[]): BroadcastOperator;
  in(room: Room | Room[]): BroadcastOperator;
  except(room: Room | Room[]): BroadcastOperator;
  compress(compress: boolean): BroadcastOperator;
  readonly volatile: BroadcastOperator;
  emit(ev: string, ...args: any[]): unknown;
  socketsJoin(rooms: Room | Room[]): unknown;
  socketsLeave(rooms: Room | Room[]): unknown;
  disconnectSockets(close?: boolean): unknown;
  serverSideEmit(ev: string, ...args: any[]): unknown;
}

/** A message to PUBLISH. */
export interface Publication {
  channel: string;
  payload: Uint8Array;
}

export interface BroadcastOpts {
  rooms?: Room[];
  except?: Room[];
  flags?: { volatile?: boolean; compress?: boolean; timeout?: number };
}

/** The raw wasm binding over crosscast-core's emitter. */
export declare class EmitterCore {
  constructor(key: string | undefined, nsp: string);
  free(): void;
  readonly nsp: string;
  broadcast(opts: BroadcastOpts | undefined, event: string, args: any[]): Publication;
  socketsJoin(opts: BroadcastOpts | undefined, rooms: Room | Room[]): Publication;
  socketsLeave(opts: BroadcastOpts | undefined, rooms: Room | Room[]): Publication;
  disconnectSockets(opts: BroadcastOpts | undefined, close: boolean): Publication;
  serverSideEmit(event: string, args: any[]): Publication;
}

/** notepack.io 3.0.1 encoding of a value. */
export declare function encodeMsgpack(value: any): Uint8Array;
/** notepack.io decoding (binary as Uint8Array, timestamps as Date). */
export declare function decodeMsgpack(bytes: Uint8Array): any;
/** `JSON.stringify` text of a value. */
export declare function encodeJson(value: any): string;
/** `JSON.parse` of UTF-8 bytes. */
export declare function decodeJson(bytes: Uint8Array): any;

// ---- the socket.io Adapter (Node.js, Deno, Bun entries; not under workerd) ----

/** Options of `createAdapter`, as @socket.io/redis-adapter 8.3.0 has them. */
export interface RedisAdapterOptions {
  /** Channel prefix, "socket.io" by default. */
  key: string;
  /** Timeout of fetchSockets, allRooms and serverSideEmit with ack, in ms (5000). */
  requestsTimeout: number;
  /** Answer requests on `key-response#nsp#uid#` instead of the shared channel (false). */
  publishOnSpecificResponseChannel: boolean;
  /** crosscast peers: heartbeat period in ms (1000; 0 disables membership). */
  heartbeatInterval: number;
  /** crosscast peers: silence after which a peer is gone, in ms (3000). */
  heartbeatTimeout: number;
  /** How often a pending request re-counts the servers, in ms (1000). */
  recountInterval: number;
}

/** Options of `createShardedAdapter`, as @socket.io/redis-adapter 8.3.0 has them. */
export interface ShardedRedisAdapterOptions {
  /** Channel prefix, "socket.io" by default. */
  channelPrefix: string;
  /** Which rooms get their own channel: "dynamic" by default. */
  subscriptionMode: "static" | "dynamic" | "dynamic-private";
  /** Timeout of fetchSockets and serverSideEmit with ack, in ms (5000). */
  requestsTimeout: number;
  heartbeatInterval: number;
  heartbeatTimeout: number;
  recountInterval: number;
}

/** Counters of one namespace's cluster node. */
export interface NodeStats {
  received: number;
  published: number;
  decodeErrors: number;
  ignoredOwn: number;
  ignoredOtherNsp: number;
  ignoredUnknownType: number;
  ignoredNotForUs: number;
  lateResponses: number;
  lateHostAnswers: number;
  requestsCompleted: number;
  requestsTimedOut: number;
  requestsPartial: number;
  serverSideAcksPending: number;
  serverSideAcksExpired: number;
  remoteAcksPending: number;
  questionsPending: number;
  droppedTableFull: number;
  droppedExcessAcks: number;
  refusedTooDeep: number;
  refusedReservedEvent: number;
  /** PUBLISHes the Redis client rejected (the message is lost). */
  publishFailed: number;
  /** Operations of other servers that could not be applied on this server. */
  applyFailed: number;
  /** SUBSCRIBEs that failed (each is retried until it holds). */
  subscribeFailed: number;
}

/** The adapter of one namespace, built by `createAdapter` / `createShardedAdapter`. */
export declare class CrosscastAdapter extends Adapter {
  readonly uid: string;
  readonly requestsTimeout: number;
  readonly pubClient: any;
  readonly subClient: any;
  /**
   * The rooms of the whole cluster, socket-id rooms included. Sharded: the rooms
   * of every socket of the cluster (one fetchSockets request). Rejects on a timeout.
   */
  allRooms(): Promise<Set<AdapterRoom>>;
  serverCount(): Promise<number>;
  close(): Promise<void>;
  stats(): NodeStats;
}

/** Drop-in for `createAdapter` of @socket.io/redis-adapter (ioredis or node-redis v4+ clients). */
export declare function createAdapter(
  pubClient: any,
  subClient: any,
  opts?: Partial<RedisAdapterOptions>,
): (nsp: any) => CrosscastAdapter;

/** Drop-in for `createShardedAdapter` of @socket.io/redis-adapter (Redis 7+). */
export declare function createShardedAdapter(
  pubClient: any,
  subClient: any,
  opts?: Partial<ShardedRedisAdapterOptions>,
): (nsp: any) => CrosscastAdapter;

/** An event of the cluster node (see src/adapter/event.rs for every `type`). */
export interface NodeEvent {
  type: string;
  [field: string]: any;
}

/** The raw wasm binding over crosscast-core's cluster node (used by CrosscastAdapter). */
export declare class NodeCore {
  constructor(config: Record<string, unknown>, now: number);
  free(): void;
  readonly uid: string;
  /** The requests timeout in ms, the core's default applied. */
  readonly requestsTimeout: number;
  readonly pendingRequests: number;
  handleMessage(now: number, channel: string, payload: Uint8Array): void;
  handleTimeout(now: number): void;
  pollTransmit(): { kind: "publish" | "spublish"; channel: string; payload: Uint8Array } | undefined;
  pollEvent(): NodeEvent | undefined;
  pollTimeout(): number | undefined;
  broadcast(data: any[], opts: BroadcastOpts | undefined): void;
  broadcastWithAck(now: number, data: any[], opts: BroadcastOpts | undefined, timeoutMs: number): number;
  socketsJoin(opts: BroadcastOpts | undefined, rooms: Room | Room[]): void;
  socketsLeave(opts: BroadcastOpts | undefined, rooms: Room | Room[]): void;
  disconnectSockets(opts: BroadcastOpts | undefined, close: boolean): void;
  fetchSockets(now: number, opts: BroadcastOpts | undefined): number;
  /** The rooms of the other servers' sockets matching `opts`; the node picks the request. */
  rooms(now: number, opts: BroadcastOpts | undefined): number;
  serverSideEmit(data: any[]): void;
  serverSideEmitWithAck(now: number, data: any[]): number;
  serverCount(now: number): number;
  close(now: number): void;
  answerServerCount(now: number, id: number, count: number): void;
  answerLocalSockets(now: number, id: number, sockets: Array<{ id: string; handshake?: any; rooms?: Iterable<Room>; data?: any }>): void;
  answerLocalRooms(now: number, id: number, rooms: Iterable<Room>): void;
  handleRemoteClientCount(now: number, ack: number, count: number): void;
  handleRemoteAck(now: number, ack: number, value: any): void;
  handleServerSideAck(now: number, ack: number, value: any): void;
  handleRoomAdded(room: Room): void;
  handleRoomRemoved(room: Room): void;
  peers(): string[];
  stats(): NodeStats;
}
