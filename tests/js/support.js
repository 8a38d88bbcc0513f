// What the JavaScript and browser tests share: a real herald on a free port, publishing, tokens,
// bounded waits for events, and a TCP proxy that can cut or blackhole connections.
import { spawn } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { existsSync } from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { after } from 'node:test';
import { fileURLToPath } from 'node:url';

export const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');
export const binary = process.env.HERALD_BINARY ?? path.join(root, 'build/release/herald');

// Servers still running once a test file's tests are done (a test whose cleanup never ran: a
// failed hook skips the hooks after it) are killed then, rather than keep the run from ending.
const running = new Set();
after(() => {
  for (const child of running) child.kill('SIGKILL');
});

// Starts build/release/herald on 127.0.0.1 with `args`, on a free port unless told one; resolves once its start-up
// line names the port. stop() sends SIGTERM and waits for the exit.
export async function startHerald(args = [], { port: wanted = 0, timeout = 10000 } = {}) {
  if (!existsSync(binary)) throw new Error(`no server at ${binary}: build the release preset first`);
  // Without the tests' own HERALD_ variables (HERALD_SCREENSHOT_DIR, HERALD_BINARY): herald takes
  // every HERALD_ variable as a setting and refuses those that name none.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !name.startsWith('HERALD_')));
  const child = spawn(binary, ['--address', '127.0.0.1', '--port', String(wanted), ...args], {
    env,
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  running.add(child);
  child.on('exit', () => running.delete(child));
  const lines = [];
  const port = await new Promise((resolve, reject) => {
    let pending = '';
    const timer = setTimeout(() => reject(new Error(`herald did not start: ${lines.join('\n')}`)), timeout);
    child.stderr.setEncoding('utf8');
    child.stderr.on('data', (chunk) => {
      pending += chunk;
      let end;
      while ((end = pending.indexOf('\n')) >= 0) {
        const line = pending.slice(0, end);
        pending = pending.slice(end + 1);
        lines.push(line);
        const found = / listening .*\bport=(\d+)/.exec(line);
        if (found) {
          clearTimeout(timer);
          resolve(Number(found[1]));
        }
      }
    });
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`herald exited (${code}) before listening: ${lines.join('\n')}`));
    });
  });
  const exited = new Promise((resolve) => child.on('exit', resolve));
  return {
    port,
    http: `http://127.0.0.1:${port}`,
    ws: `ws://127.0.0.1:${port}/ws`,
    lines,
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return;
      child.kill('SIGTERM');
      const killer = setTimeout(() => child.kill('SIGKILL'), 8000);
      await exited;
      clearTimeout(killer);
    },
  };
}

// POST /send; resolves with the answer ({delivered, seq}).
export async function publish(server, uid, message, { apiKey, key, wait, timeoutMs } = {}) {
  const headers = { 'Content-Type': 'application/json' };
  if (apiKey) headers.Authorization = `Bearer ${apiKey}`;
  const response = await fetch(`${server.http}/send`, {
    method: 'POST',
    headers,
    body: JSON.stringify({ uid, message, key, wait, timeout_ms: timeoutMs }), // undefined: left out
    signal: AbortSignal.timeout(30000),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(`/send: ${response.status} ${JSON.stringify(answer)}`);
  return answer;
}

// POST /send with a batch ({"messages": entries}); resolves with the answer's results, one
// {delivered, seq} per entry, in their order.
export async function publishBatch(server, entries) {
  const response = await fetch(`${server.http}/send`, {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ messages: entries }),
    signal: AbortSignal.timeout(30000),
  });
  const answer = await response.json();
  if (!response.ok) throw new Error(`/send: ${response.status} ${JSON.stringify(answer)}`);
  return answer.results;
}

export async function stats(server) {
  const response = await fetch(`${server.http}/stats`, { signal: AbortSignal.timeout(10000) });
  return response.json();
}

// An HS256 JWT for a server started with --token-secret `secret`.
export function mintToken(secret, claims) {
  const encode = (value) => Buffer.from(JSON.stringify(value)).toString('base64url');
  const head = `${encode({ alg: 'HS256', typ: 'JWT' })}.${encode(claims)}`;
  const signature = createHmac('sha256', secret).update(head).digest('base64url');
  return `${head}.${signature}`;
}

export const nowSeconds = () => Math.floor(Date.now() / 1000);

// Resolves with the first value of `client`'s event `name` that `accept` takes, within `timeout`.
export function nextEvent(client, name, accept = () => true, timeout = 10000) {
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      off();
      reject(new Error(`no '${name}' event within ${timeout} ms`));
    }, timeout);
    const off = client.on(name, (value) => {
      if (!accept(value)) return;
      clearTimeout(timer);
      off();
      resolve(value);
    });
  });
}

// Resolves when `condition()` holds, checked on each of `client`'s events `names`; bounded.
export function until(client, names, condition, timeout = 10000, what = 'the condition') {
  return new Promise((resolve, reject) => {
    const offs = [];
    const done = (error) => {
      clearTimeout(timer);
      for (const off of offs) off();
      error ? reject(error) : resolve();
    };
    const timer = setTimeout(() => done(new Error(`${what} did not hold within ${timeout} ms`)), timeout);
    for (const name of names) offs.push(client.on(name, () => condition() && done()));
    if (condition()) done();
  });
}

// Records every event of a client, in order: [name, value] pairs.
export function record(client, names = ['state', 'welcome', 'message', 'disconnected', 'error']) {
  const events = [];
  for (const name of names) client.on(name, (value) => events.push([name, value]));
  return events;
}

// A TCP proxy on 127.0.0.1 to `target`: forwards connections until told to blackhole them
// (bytes are swallowed both ways and the sockets stay open: a dead network) or to cut them.
export async function startProxy(targetPort) {
  const pairs = new Set();
  let accepted = 0;
  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect(targetPort, '127.0.0.1');
    const pair = { client, upstream, blackholed: false };
    pairs.add(pair);
    const forward = (from, to) =>
      from.on('data', (data) => {
        if (!pair.blackholed) to.write(data);
      });
    forward(client, upstream);
    forward(upstream, client);
    const end = () => {
      pairs.delete(pair);
      client.destroy();
      upstream.destroy();
    };
    client.on('error', end).on('close', end);
    upstream.on('error', end).on('close', end);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = server.address().port;
  return {
    port,
    http: `http://127.0.0.1:${port}`,
    ws: `ws://127.0.0.1:${port}/ws`,
    get accepted() {
      return accepted;
    },
    get open() {
      return pairs.size;
    },
    // The connections open now go silent; new ones are forwarded.
    blackhole() {
      for (const pair of pairs) pair.blackholed = true;
    },
    // Resets the connections open now, as a network failure would.
    cut() {
      for (const pair of [...pairs]) {
        pair.client.resetAndDestroy();
        pair.upstream.destroy();
      }
    },
    async stop() {
      for (const pair of pairs) {
        pair.client.destroy();
        pair.upstream.destroy();
      }
      await new Promise((resolve) => server.close(resolve));
    },
  };
}
