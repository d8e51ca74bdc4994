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
  flags?: { volatile?: boolean; compress?: boolean };
}

/** The raw wasm binding over crosscast-core's emitter. */
export declare class EmitterCore {
  constructor(key: string, nsp: string);
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
