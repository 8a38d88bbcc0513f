// Herald's JavaScript client: one WebSocket to a Herald server's /ws in the JSON protocol ("v":1),
// kept open across network failures and server restarts, resumed without a gap or a duplicate,
// with token refresh and a heartbeat. One ES module without dependencies, for browsers and for
// Node 20 (pass an implementation such as the `ws` package as options.WebSocket).
//
//   import { HeraldClient } from './herald.js';
//   const client = new HeraldClient('wss://push.example.com/ws', { getToken }, { storage: localStorage });
//   client.on('message', ({ seq, time, data, key }) => render(data));
//   client.on('welcome', ({ recovered }) => { if (!recovered) reloadState(); });
//   client.connect();

// What the client does after the server closes its connection, by the close's reason text (the
// codes are only WebSocket's broad classes: 1008 covers both "slow consumer" and "bad token"):
//   'reconnect'  come back, after the backoff delay;
//   'refresh'    come back with a fresh token from getToken(); stop when there is no getToken;
//   'stop'       do not come back: the login was refused, or the server said to go away.
// A reason not listed (and a network failure, which has none) means 'reconnect'.
export const closeDecisions = Object.freeze({
  // The server's load and liveness closes: the next connection may well work.
  'slow consumer': 'reconnect', // 1008: fell behind; resume picks up where it left off
  'pong timeout': 'reconnect', // 1008: the server heard nothing from this side
  'server shutting down': 'reconnect', // 1001: a restart, most likely
  'stream reset': 'reconnect', // 1012
  'try again later': 'reconnect', // 1013
  'inbound rate limit exceeded': 'reconnect', // 1008
  'login timeout': 'reconnect', // 1008: the login frame came too late (a slow network)
  'token expired': 'refresh', // 1008
  // Refused logins: the same login would be refused again.
  'token required': 'stop',
  'malformed token': 'stop',
  'bad token signature': 'stop',
  'token algorithm not allowed': 'stop',
  'token not yet valid': 'stop',
  'wrong token audience': 'stop',
  'wrong token issuer': 'stop',
  'token has no valid sub': 'stop',
  'token has no exp': 'stop',
  'token must be a non-empty string': 'stop',
  'refresh token is for another sub': 'stop',
  'login is not valid JSON': 'stop',
  'login must be a JSON object': 'stop',
  'login must be a text frame': 'stop',
  'uid is missing': 'stop',
  'uid must be a string': 'stop',
  'uid is empty': 'stop',
  'uid is longer than 128 bytes': 'stop',
  'uid has control characters': 'stop',
  'uid is not valid UTF-8': 'stop',
  'unsupported protocol version': 'stop',
  'since needs the JSON protocol ("v":1)': 'stop',
  'since needs a seq': 'stop',
  'since epoch must be a string': 'stop',
  // The server (an operator, an admin API: POST /disconnect) disconnected this user on purpose:
  // for good (a logout everywhere, a ban), or to log in again at once, with fresh claims.
  disconnected: 'stop', // 1008
  reconnect: 'reconnect', // 1012
});

// The decision for a close, as in closeDecisions.
export function closeDecision(reason) {
  return Object.hasOwn(closeDecisions, reason) ? closeDecisions[reason] : 'reconnect';
}

// Full jitter: a delay drawn uniformly from [0, min(maxDelay, minDelay * 2^attempt)), so that
// clients cut off together do not come back together.
export function backoffDelay(attempt, minDelay, maxDelay, random = Math.random) {
  const ceiling = Math.min(maxDelay, minDelay * 2 ** Math.min(attempt, 30));
  return Math.floor(random() * ceiling);
}

// The `exp` of a JWT, in ms since 1970, read without verifying anything (the server verifies);
// undefined when the token has none or is not a JWT.
export function tokenExpiry(token) {
  try {
    const part = String(token).split('.')[1];
    if (!part) return undefined;
    const base64 = part.replace(/-/g, '+').replace(/_/g, '/');
    const binary = atob(base64 + '='.repeat((4 - (base64.length % 4)) % 4));
    const bytes = Uint8Array.from(binary, (c) => c.charCodeAt(0));
    const { exp } = JSON.parse(new TextDecoder().decode(bytes));
    return typeof exp === 'number' && Number.isFinite(exp) ? exp * 1000 : undefined;
  } catch {
    return undefined;
  }
}

// The client's own reasons for ending a connection, with codes no server sends.
const heartbeatTimeout = { code: 4000, reason: 'heartbeat timeout' };
const connectTimeout = { code: 4001, reason: 'connect timeout' };
const tokenFailed = { code: 4002, reason: 'getToken failed' };
const unusableUrl = { code: 4003, reason: 'cannot open a WebSocket' };
const clientDisconnect = { code: 1000, reason: 'client disconnect' };

const defaults = {
  minReconnectDelay: 500,
  maxReconnectDelay: 20000,
  timeout: 10000, // from the start of a connection to its welcome
  storage: undefined,
  storageKey: undefined,
  since: undefined,
  WebSocket: undefined,
  acks: true, // acknowledge what the message handlers returned from (delivery receipts)
};

// Acks are cumulative: the highest seq handled, at most this often (the server counts every
// frame against its inbound rate).
const ackInterval = 100;

const longestTimer = 2 ** 31 - 1; // setTimeout's limit

export class HeraldClient {
  // credentials: {uid}, {token} or {getToken}: an async function returning a JWT, called for each
  // login and again before the token expires.
  constructor(url, credentials, options = {}) {
    if (!credentials || !(credentials.uid || credentials.token || credentials.getToken))
      throw new TypeError('HeraldClient: credentials must be {uid}, {token} or {getToken}');
    this.url = String(url);
    this.options = { ...defaults, ...options };
    this._WebSocket = this.options.WebSocket ?? globalThis.WebSocket;
    if (typeof this._WebSocket !== 'function')
      throw new TypeError('HeraldClient: no WebSocket here; pass one as options.WebSocket');
    this._uid = credentials.uid;
    this._token = credentials.token;
    this._getToken = credentials.getToken;
    this._storageKey =
      this.options.storageKey ?? `herald:${this.url}:${this._uid ?? 'token'}`;

    this._listeners = new Map();
    this._state = 'disconnected';
    this._active = false; // between connect() and disconnect() or a stop
    this._socket = null;
    this._generation = 0; // bumped by each attempt and each stop: stale callbacks check it
    this._attempt = 0; // reconnects since the last welcome
    this._epoch = undefined; // where the stream is: its epoch and the last seq delivered
    this._seq = undefined;
    this._since = undefined; // the position the current login resumes from
    this._timers = { reconnect: null, connect: null, heartbeat: null, refresh: null, ack: null };
    this._handledSeq = 0; // the last seq whose handlers returned, on this connection
    this._ackedSeq = 0; // the last seq acknowledged on this connection
    this._ackedAt = 0;
    this._heartbeat = 0; // ms of silence that end a connection: two ping intervals
    this._heardAt = 0;
    this._refreshFailures = 0;
    this._onOnline = () => this._online();
  }

  get state() {
    return this._state;
  }

  // Where the client is in its stream: the last message it delivered (undefined before any).
  get position() {
    return this._epoch === undefined ? undefined : { epoch: this._epoch, seq: this._seq };
  }

  // Subscribes to 'state', 'welcome', 'message', 'disconnected' or 'error'; returns the
  // function that unsubscribes.
  on(name, listener) {
    if (!this._listeners.has(name)) this._listeners.set(name, new Set());
    const set = this._listeners.get(name);
    const entry = (value) => listener(value);
    set.add(entry);
    return () => set.delete(entry);
  }

  connect() {
    if (this._active) return;
    this._active = true;
    this._attempt = 0;
    this._loadPosition();
    globalThis.addEventListener?.('online', this._onOnline);
    this._open();
  }

  disconnect() {
    if (!this._active) return;
    this._stop(clientDisconnect);
  }

  // --- connecting ---------------------------------------------------------------------------

  async _open() {
    const generation = ++this._generation;
    this._setState('connecting');
    this._heartbeat = 0; // until this connection's welcome says
    this._arm('connect', this.options.timeout, () => this._fail(generation, connectTimeout));
    let token = this._token;
    if (this._getToken) {
      try {
        token = await this._getToken();
      } catch (error) {
        if (generation !== this._generation) return;
        this._emit('error', { type: 'getToken', error });
        return this._stop(tokenFailed);
      }
      if (generation !== this._generation) return;
      this._token = token;
    }
    let socket;
    try {
      socket = new this._WebSocket(this.url);
    } catch (error) {
      // A URL the implementation refuses (SyntaxError, SecurityError): no retry will do better.
      this._emit('error', { type: 'transport', error });
      return this._stop(unusableUrl);
    }
    this._socket = socket;
    socket.onopen = () => {
      if (generation !== this._generation) return;
      const login = { v: 1 };
      if (this._getToken || this._token) login.token = token;
      else login.uid = this._uid;
      // Resumes from the last message delivered; the first time, from the position the app
      // gave (since), if any.
      this._since =
        this._epoch !== undefined ? { epoch: this._epoch, seq: this._seq } : this.options.since;
      if (this._since) login.since = this._since;
      socket.send(JSON.stringify(login));
    };
    socket.onmessage = (event) => {
      if (generation !== this._generation) return;
      this._received(generation, event.data);
    };
    socket.onerror = () => {
      // A close follows, which decides; the event itself says nothing more (by design, in
      // browsers).
    };
    socket.onclose = (event) => {
      if (generation !== this._generation) return;
      this._socket = null;
      this._closed({ code: event.code, reason: event.reason ?? '' });
    };
  }

  _received(generation, data) {
    this._feedHeartbeat(generation);
    let frame;
    try {
      frame = JSON.parse(typeof data === 'string' ? data : String(data));
    } catch (error) {
      this._emit('error', { type: 'protocol', error });
      return;
    }
    if (frame?.type === 'message') return this._message(frame);
    if (frame?.type === 'welcome') return this._welcome(generation, frame);
    // {"type":"ping"}: its arrival fed the heartbeat. Other types are for later versions.
  }

  _welcome(generation, welcome) {
    this._clear('connect');
    const since = this._since;
    let recovered = false;
    if (since && (since.epoch === undefined || since.epoch === welcome.epoch)) {
      // Resumed in the same stream: every kept message after since.seq follows.
      recovered = welcome.recovered === true;
      this._seq = since.seq;
    } else if (since) {
      // Another stream (its history was lost, or a new server): every kept message of it
      // follows, from seq 1.
      this._seq = 0;
    } else {
      // A first login: what is published from now on follows.
      this._seq = welcome.seq;
    }
    this._epoch = welcome.epoch;
    this._savePosition();
    this._handledSeq = 0; // a new connection: its acks start afresh (an ack again is harmless)
    this._ackedSeq = 0;
    this._attempt = 0;
    this._heartbeat = welcome.ping_interval_ms > 0 ? 2 * welcome.ping_interval_ms : 0;
    this._feedHeartbeat(generation);
    this._scheduleRefresh(generation);
    this._setState('connected');
    this._emit('welcome', { uid: welcome.uid, epoch: welcome.epoch, seq: welcome.seq, recovered });
  }

  _message(frame) {
    const seq = frame.seq;
    if (typeof seq === 'number' && this._seq !== undefined && seq <= this._seq) return; // seen
    if (typeof seq === 'number') {
      this._seq = seq;
      this._savePosition();
    }
    this._emit('message', { seq, time: frame.time, data: frame.data, key: frame.key });
    if (typeof seq === 'number' && this.options.acks) this._scheduleAck(seq);
  }

  // After the handlers returned: the ack goes at once when none went in the last interval,
  // else at its end, then covering everything handled meanwhile.
  _scheduleAck(seq) {
    this._handledSeq = seq;
    if (this._timers.ack !== null) return;
    const wait = Math.max(0, this._ackedAt + ackInterval - Date.now());
    const generation = this._generation;
    this._arm('ack', wait, () => this._sendAck(generation));
  }

  _sendAck(generation) {
    const socket = this._socket;
    if (generation !== this._generation || !socket || socket.readyState !== 1) return;
    if (this._handledSeq <= this._ackedSeq) return;
    socket.send(JSON.stringify({ type: 'ack', seq: this._handledSeq }));
    this._ackedSeq = this._handledSeq;
    this._ackedAt = Date.now();
  }

  // --- ending -------------------------------------------------------------------------------

  // The connection of `generation` is to end for the client's own reason (a timeout).
  _fail(generation, close) {
    if (generation !== this._generation) return;
    this._discard(this._socket, close);
    this._socket = null;
    this._closed(close);
  }

  _closed(close) {
    this._clearConnectionTimers();
    const decision = closeDecision(close.reason);
    const reconnect =
      this._active && (decision === 'reconnect' || (decision === 'refresh' && !!this._getToken));
    this._emit('disconnected', { code: close.code, reason: close.reason, reconnect });
    if (!this._active) return;
    if (!reconnect) return this._stop(null);
    this._generation++;
    this._setState('connecting');
    this._scheduleReconnect();
  }

  _scheduleReconnect() {
    const { minReconnectDelay, maxReconnectDelay } = this.options;
    const delay = backoffDelay(this._attempt++, minReconnectDelay, maxReconnectDelay);
    this._arm('reconnect', delay, () => this._open());
  }

  // Ends everything; `close` is reported when a connection is open or on its way.
  _stop(close) {
    const hadSocket = this._socket !== null;
    this._active = false;
    this._generation++;
    this._clearConnectionTimers();
    this._clear('reconnect');
    globalThis.removeEventListener?.('online', this._onOnline);
    if (this._socket) this._discard(this._socket, close ?? clientDisconnect);
    this._socket = null;
    if (close && (hadSocket || this._state !== 'disconnected'))
      this._emit('disconnected', { code: close.code, reason: close.reason, reconnect: false });
    this._setState('disconnected');
  }

  // Lets go of a socket: its events are no longer listened to. One still connecting is closed
  // once open (closing it before would log an error in browsers); a dead one is dropped at once
  // where the implementation can (ws's terminate()).
  _discard(socket, close) {
    if (!socket) return;
    socket.onmessage = null;
    socket.onclose = null;
    socket.onerror = () => {};
    const dead = close === heartbeatTimeout || close === connectTimeout;
    if (dead && typeof socket.terminate === 'function') return socket.terminate();
    if (socket.readyState === 0) {
      socket.onopen = () => socket.close(1000);
      return;
    }
    socket.onopen = null;
    try {
      socket.close(close.code === 1000 || close.code >= 4000 ? close.code : 1000, close.reason);
    } catch {
      // already closing
    }
  }

  _online() {
    // Back online: a reconnect waiting for its delay goes at once.
    if (!this._active || this._timers.reconnect === null) return;
    this._clear('reconnect');
    this._open();
  }

  // --- heartbeat and token refresh ---------------------------------------------------------

  // Any frame is a sign of life; two ping intervals without one is a dead connection. One timer
  // per connection, not one per frame: when it fires early (frames came since it was armed), it
  // waits for the rest of the time since the last one.
  _feedHeartbeat(generation) {
    this._heardAt = Date.now();
    if (this._heartbeat > 0 && this._timers.heartbeat === null) this._watchHeartbeat(generation, this._heartbeat);
  }

  _watchHeartbeat(generation, delay) {
    this._arm('heartbeat', delay, () => {
      const silent = Date.now() - this._heardAt;
      if (silent >= this._heartbeat) return this._fail(generation, heartbeatTimeout);
      this._watchHeartbeat(generation, this._heartbeat - silent);
    });
  }

  // Asks getToken() for a fresh token before the current one expires, and sends it as a refresh
  // on the open connection. The time comes from the token's exp and this machine's clock (the
  // server allows 30 s of leeway): 20 % of its remaining life before exp, at most 30 s before.
  // A token that looks expired already is refreshed after 1 s, then 2, 4, ... (up to a minute),
  // so that a wrong clock cannot make the client call getToken() in a loop.
  _scheduleRefresh(generation) {
    const expiry = this._getToken ? tokenExpiry(this._token) : undefined;
    if (expiry === undefined) return;
    const remaining = expiry - Date.now();
    let delay;
    if (remaining > 1000) {
      this._refreshFailures = 0;
      delay = remaining - Math.min(30000, remaining / 5);
    } else {
      delay = Math.min(60000, 1000 * 2 ** this._refreshFailures++);
    }
    this._arm('refresh', Math.min(longestTimer, delay), () => this._refresh(generation));
  }

  async _refresh(generation) {
    let token;
    try {
      token = await this._getToken();
    } catch (error) {
      if (generation !== this._generation) return;
      this._emit('error', { type: 'getToken', error });
      return this._stop(tokenFailed);
    }
    if (generation !== this._generation || !this._socket) return;
    this._token = token;
    this._socket.send(JSON.stringify({ type: 'refresh', token }));
    this._scheduleRefresh(generation);
  }

  // --- position in storage -----------------------------------------------------------------

  _loadPosition() {
    const { storage } = this.options;
    if (!storage || this._epoch !== undefined) return;
    try {
      const saved = JSON.parse(storage.getItem(this._storageKey) ?? 'null');
      if (saved && typeof saved.epoch === 'string' && Number.isSafeInteger(saved.seq)) {
        this._epoch = saved.epoch;
        this._seq = saved.seq;
      }
    } catch (error) {
      this._emit('error', { type: 'storage', error });
    }
  }

  _savePosition() {
    const { storage } = this.options;
    if (!storage) return;
    try {
      storage.setItem(this._storageKey, JSON.stringify({ epoch: this._epoch, seq: this._seq }));
    } catch (error) {
      this._emit('error', { type: 'storage', error });
    }
  }

  // --- plumbing -----------------------------------------------------------------------------

  _setState(state) {
    if (state === this._state) return;
    this._state = state;
    this._emit('state', state);
  }

  // Listeners run in turn; one that throws does not stop the others or the client: its error is
  // thrown again on its own, where the page or process reports uncaught errors.
  _emit(name, value) {
    const set = this._listeners.get(name);
    if (!set) return;
    for (const listener of [...set]) {
      try {
        listener(value);
      } catch (error) {
        setTimeout(() => {
          throw error;
        });
      }
    }
  }

  _arm(name, delay, action) {
    this._clear(name);
    this._timers[name] = setTimeout(() => {
      this._timers[name] = null;
      action();
    }, delay);
    this._timers[name].unref?.(); // a timer alone does not keep Node running
  }

  _clear(name) {
    if (this._timers[name] !== null) clearTimeout(this._timers[name]);
    this._timers[name] = null;
  }

  _clearConnectionTimers() {
    this._clear('ack');
    this._clear('connect');
    this._clear('heartbeat');
    this._clear('refresh');
  }
}
