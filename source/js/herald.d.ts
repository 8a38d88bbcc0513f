// Types of herald.js, Herald's JavaScript client (hand-written; see README "JavaScript client").

/** Who logs in: a uid (servers without tokens), a fixed JWT, or a function that gets a fresh JWT
 *  for each login and before the current one expires. A getToken that rejects stops the client. */
export type Credentials =
  | { uid: string; token?: undefined; getToken?: undefined }
  | { token: string; uid?: undefined; getToken?: undefined }
  | { getToken: () => Promise<string> | string; uid?: undefined; token?: undefined };

/** A place to keep the client's position across page loads, such as localStorage. */
export interface PositionStorage {
  getItem(key: string): string | null;
  setItem(key: string, value: string): void;
}

/** A position in a user's stream: the last message delivered. */
export interface Position {
  epoch: string;
  seq: number;
}

export interface HeraldClientOptions {
  /** Smallest ceiling of the reconnect delay, in ms (default 500); doubles with each failed try. */
  minReconnectDelay?: number;
  /** Largest reconnect delay, in ms (default 20000). */
  maxReconnectDelay?: number;
  /** Time from the start of a connection to its welcome, in ms (default 10000). */
  timeout?: number;
  /** Keeps the position, so that a reload resumes (e.g. localStorage). */
  storage?: PositionStorage;
  /** The storage key (default `herald:<url>:<uid or 'token'>`). */
  storageKey?: string;
  /** Where to resume the first time when no position is stored: {seq: 0} asks for everything
   *  the server keeps. */
  since?: { epoch?: string; seq: number };
  /** A WebSocket implementation instead of the global one (Node 20: the `ws` package). */
  WebSocket?: new (url: string) => WebSocket;
  /** Delivery receipts: after the message handlers return, acknowledge the highest seq
   *  handled (`{"type":"ack","seq":N}`, at most every 100 ms), which a publisher with
   *  `wait=ack` waits for. Default true. */
  acks?: boolean;
}

export type State = 'disconnected' | 'connecting' | 'connected';

export interface Welcome {
  /** Who the server logged in: the uid, or the token's sub. */
  uid: string;
  epoch: string;
  /** The last seq of the stream when this connection joined. */
  seq: number;
  /** True when every message since the client's position follows (a resume without a gap);
   *  false on a first login or when history could not cover the gap: reload the app's state. */
  recovered: boolean;
}

export interface Message<Data = unknown> {
  seq: number;
  /** Milliseconds since 1970, when the server took the message. */
  time: number;
  /** The message: a string as published, or any other JSON value. */
  data: Data;
  /** The key it was published with (progress that collapses: a newer message with the same key
   *  replaced any older one not yet delivered), or undefined. */
  key?: string;
}

export interface Disconnected {
  /** The close code: the server's (1001, 1008, ...), 1006 for a network failure, or the client's
   *  own: 1000 disconnect(), 4000 heartbeat timeout, 4001 connect timeout, 4002 getToken failed,
   *  4003 the WebSocket implementation refused the URL. */
  code: number;
  reason: string;
  /** Whether the client comes back by itself. */
  reconnect: boolean;
}

export interface ClientError {
  type: 'getToken' | 'transport' | 'protocol' | 'storage';
  error: unknown;
}

export interface HeraldEvents {
  state: State;
  welcome: Welcome;
  message: Message;
  disconnected: Disconnected;
  error: ClientError;
}

export type CloseDecision = 'reconnect' | 'refresh' | 'stop';

export class HeraldClient {
  constructor(url: string | URL, credentials: Credentials, options?: HeraldClientOptions);
  readonly url: string;
  readonly state: State;
  /** The last message delivered, or undefined before the first welcome. */
  readonly position: Position | undefined;
  /** Subscribes to an event; returns the function that unsubscribes. */
  on<Name extends keyof HeraldEvents>(name: Name, listener: (value: HeraldEvents[Name]) => void): () => void;
  connect(): void;
  disconnect(): void;
}

/** The client's close table: what it does after a close, by reason text. */
export const closeDecisions: Readonly<Record<string, CloseDecision>>;
/** The decision for a close reason; 'reconnect' for one not in the table. */
export function closeDecision(reason: string): CloseDecision;
/** A full-jitter delay in [0, min(maxDelay, minDelay * 2^attempt)). */
export function backoffDelay(attempt: number, minDelay: number, maxDelay: number, random?: () => number): number;
/** A JWT's exp in ms since 1970, read without verifying; undefined without one. */
export function tokenExpiry(token: string): number | undefined;
