// A page's use of Herald's JavaScript client, type-checked against herald.d.ts with tsc --strict
// (tests/js/types.test.js): every line that is right must compile, and every @ts-expect-error
// line must not, so that the types say something (none of them may be `any`).
import {
  HeraldClient,
  backoffDelay,
  closeDecision,
  closeDecisions,
  tokenExpiry,
  type CloseDecision,
  type Message,
  type Position,
} from '../../../source/js/herald.js';

const client = new HeraldClient('ws://127.0.0.1:8181/ws', { uid: '123' }, {
  minReconnectDelay: 500,
  maxReconnectDelay: 20000,
  storage: localStorage,
  acks: true,
});
const withToken = new HeraldClient(new URL('wss://push.example.com/ws'), {
  getToken: async () => 'a.jwt.token',
});
withToken.connect();

const stop: () => void = client.on('message', (message: Message) => {
  const seq: number = message.seq;
  const time: number = message.time;
  const key: string | undefined = message.key;
  console.log(seq, time, key, message.data);
});
stop();
client.on('welcome', (welcome) => {
  const recovered: boolean = welcome.recovered;
  const epoch: string = welcome.epoch;
  console.log(recovered, epoch, welcome.uid, welcome.seq);
});
client.on('disconnected', (closed) => {
  const again: boolean = closed.reconnect;
  console.log(closed.code, closed.reason, again);
});
client.on('state', (state) => {
  const known: 'disconnected' | 'connecting' | 'connected' = state;
  console.log(known);
});
client.on('error', (failure) => console.log(failure.type, failure.error));
const position: Position | undefined = client.position;
console.log(position?.epoch, position?.seq, client.url, client.state);

const decision: CloseDecision = closeDecision('slow consumer');
const fromTable: CloseDecision | undefined = closeDecisions['token expired'];
const delay: number = backoffDelay(3, 500, 20000);
const expiry: number | undefined = tokenExpiry('a.b.c');
console.log(decision, fromTable, delay, expiry);
client.disconnect();

// Mistakes the types must catch.
// @ts-expect-error: no credentials
new HeraldClient('ws://127.0.0.1:8181/ws');
// @ts-expect-error: a uid and a token at once
new HeraldClient('ws://127.0.0.1:8181/ws', { uid: 'u', token: 't' });
// @ts-expect-error: no such event
client.on('messages', () => {});
client.on('message', (message) => {
  // @ts-expect-error: seq is a number
  const text: string = message.seq;
  console.log(text);
});
// @ts-expect-error: acks is a boolean
new HeraldClient('ws://x/ws', { uid: 'u' }, { acks: 'yes' });
// @ts-expect-error: the state is read-only
client.state = 'connected';
