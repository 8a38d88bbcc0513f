// The contract test: live answers of the real server, for every endpoint and every error status,
// checked against docs/openapi.yaml (its response schemas, content types and headers). The last
// test fails if the document lists an answer that no test produced.
import Ajv2020 from "ajv/dist/2020.js";
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import http from "node:http";
import net from "node:net";
import { after, before, test } from "node:test";
import { parse } from "yaml";
import { startHerald } from "./herald.mjs";

const document = parse(readFileSync(new URL("../../docs/openapi.yaml", import.meta.url), "utf8"));
const ajv = new Ajv2020({ strict: false, allErrors: true });
ajv.addSchema(document, "openapi");

const apiKey = "contract-key";
const withKey = { Authorization: `Bearer ${apiKey}` };
const timeout = 5_000;

// ---- The document

const pointerPart = (text) => text.replaceAll("~", "~0").replaceAll("/", "~1");

// The documented answer of (path, method, status), with the JSON pointer of its object.
function documented(path, method, status) {
  const operation = document.paths[path]?.[method];
  assert.ok(operation, `${method.toUpperCase()} ${path} is not in the document`);
  let response = operation.responses[String(status)];
  let pointer = `/paths/${pointerPart(path)}/${method}/responses/${status}`;
  assert.ok(response, `${method.toUpperCase()} ${path} does not document ${status}`);
  if (response.$ref) {
    pointer = response.$ref.slice(1);
    response = response.$ref
      .slice(2)
      .split("/")
      .reduce((node, key) => node[key], document);
  }
  return { response, pointer };
}

// What the tests produced: "METHOD path status".
const exercised = new Set();
// Endpoints this build does not have yet (answered 404): their answers are not required.
const absent = new Set();

// Checks one live answer against the document: status documented, content type, headers, body.
function check(path, method, answer) {
  const { status, contentType, headers, body } = answer;
  const { response, pointer } = documented(path, method, status);
  exercised.add(`${method} ${path} ${status}`);
  for (const name of Object.keys(response.headers ?? {})) {
    const value = headers[name.toLowerCase()];
    assert.ok(value, `${status} of ${method} ${path} lacks its ${name} header`);
    const schema = response.headers[name].schema;
    if (schema?.const !== undefined) assert.equal(value, schema.const, `${name} header`);
  }
  const types = Object.keys(response.content ?? {});
  if (types.length === 0) return;
  const type = types.find((candidate) => contentType?.startsWith(candidate));
  assert.ok(type, `${status} of ${method} ${path}: content type ${contentType}, documented ${types}`);
  const validate = ajv.getSchema(`openapi#${pointer}/content/${pointerPart(type)}/schema`);
  assert.ok(validate, `no schema at ${pointer}`);
  const value = type === "application/json" ? JSON.parse(body) : body;
  assert.ok(
    validate(value),
    `${status} of ${method} ${path}: ${body}\n${JSON.stringify(validate.errors, null, 1)}`,
  );
}

// ---- Requests

async function request(url, { method = "GET", headers = {}, body } = {}) {
  const response = await fetch(url, { method, headers, body, signal: AbortSignal.timeout(timeout) });
  return {
    status: response.status,
    contentType: response.headers.get("content-type"),
    headers: Object.fromEntries(response.headers),
    body: await response.text(),
  };
}

// Raw bytes on a connection of their own; the answer, read until the server closes.
function rawExchange(port, bytes) {
  return new Promise((resolve, reject) => {
    const socket = net.connect(port, "127.0.0.1", () => socket.end(bytes));
    const chunks = [];
    socket.setTimeout(timeout, () => socket.destroy(new Error("no answer in time")));
    socket.on("data", (chunk) => chunks.push(chunk));
    socket.on("error", reject);
    socket.on("close", () => resolve(parseRawAnswer(Buffer.concat(chunks).toString("latin1"))));
  });
}

function parseRawAnswer(text) {
  const [head, ...rest] = text.split("\r\n\r\n");
  const [statusLine, ...fieldLines] = head.split("\r\n");
  const headers = {};
  for (const line of fieldLines) {
    const colon = line.indexOf(":");
    headers[line.slice(0, colon).toLowerCase()] = line.slice(colon + 1).trim();
  }
  return {
    status: Number(statusLine.split(" ")[1]),
    contentType: headers["content-type"],
    headers,
    body: rest.join("\r\n\r\n"),
  };
}

// A WebSocket upgrade of /ws. An accepted one resolves with status 101 and its open socket.
function upgrade(port, headers = {}, target = "/ws") {
  return new Promise((resolve, reject) => {
    const outgoing = http.request({
      host: "127.0.0.1",
      port,
      path: target,
      headers: {
        Connection: "Upgrade",
        Upgrade: "websocket",
        "Sec-WebSocket-Version": "13",
        "Sec-WebSocket-Key": randomBytes(16).toString("base64"),
        ...headers,
      },
      timeout,
    });
    outgoing.on("timeout", () => outgoing.destroy(new Error("no answer in time")));
    outgoing.on("upgrade", (response, socket) =>
      resolve({ status: response.statusCode, headers: response.headers, socket }),
    );
    outgoing.on("response", (response) => {
      let body = "";
      response.setEncoding("utf8");
      response.on("data", (chunk) => (body += chunk));
      response.on("end", () =>
        resolve({
          status: response.statusCode,
          contentType: response.headers["content-type"],
          headers: response.headers,
          body,
        }),
      );
    });
    outgoing.on("error", reject);
    outgoing.end();
  });
}

// ---- The servers: one with keys, tokens, origins and small limits; one with one connection.

let server;
let single;
before(async () => {
  server = await startHerald([
    "--api-key", apiKey,
    "--token-secret", "contract-secret",
    "--allowed-origin", "https://app.example",
    "--max-connections-per-ip", "1",
    "--max-body", "1KiB",
    "--max-header-size", "4KiB",
  ]);
  single = await startHerald(["--max-connections", "1"]);
});
after(async () => {
  await server?.stop();
  await single?.stop();
});

// ---- /send

test("GET /send answers delivered and seq", async () => {
  const answer = await request(`${server.url}/send?uid=u1&message=hello+there`, { headers: withKey });
  assert.equal(answer.status, 200);
  check("/send", "get", answer);
});

test("POST /send answers for one uid and for several", async () => {
  const one = await request(`${server.url}/send`, {
    method: "POST",
    headers: { ...withKey, "Content-Type": "application/json" },
    body: JSON.stringify({ uid: "u1", message: { progress: 40 } }),
  });
  assert.equal(one.status, 200);
  check("/send", "post", one);
  assert.ok("seq" in JSON.parse(one.body));
  const several = await request(`${server.url}/send`, {
    method: "POST",
    headers: { ...withKey, "X-API-Key": apiKey },
    body: JSON.stringify({ uids: ["u1", "u2", "u1"], message: "hi" }),
  });
  assert.equal(several.status, 200);
  check("/send", "post", several);
  assert.deepEqual(Object.keys(JSON.parse(several.body).seqs).sort(), ["u1", "u2"]);
});

test("/send refuses bad input with 400, no key with 401, other methods with 405", async () => {
  const missing = await request(`${server.url}/send?uid=u1`, { headers: withKey });
  assert.equal(missing.status, 400);
  check("/send", "get", missing);
  const notJson = await request(`${server.url}/send`, { method: "POST", headers: withKey, body: "{oops" });
  assert.equal(notJson.status, 400);
  check("/send", "post", notJson);
  for (const method of ["get", "post"]) {
    const noKey = await request(`${server.url}/send?uid=u1&message=x`, {
      method: method.toUpperCase(),
      body: method === "post" ? "{}" : undefined,
    });
    assert.equal(noKey.status, 401);
    check("/send", method, noKey);
    const wrongKey = await request(`${server.url}/send?uid=u1&message=x`, {
      method: method.toUpperCase(),
      headers: { "X-API-Key": "not-the-key" },
      body: method === "post" ? "{}" : undefined,
    });
    assert.equal(wrongKey.status, 401);
  }
  const wrongMethod = await request(`${server.url}/send`, { method: "DELETE", headers: withKey });
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.allow, "GET, POST");
  check("/send", "get", wrongMethod);
  check("/send", "post", wrongMethod);
});

test("a body over --max-body gets 413 and a head over --max-header-size 431", async () => {
  const tooLarge = await request(`${server.url}/send`, {
    method: "POST",
    headers: withKey,
    body: JSON.stringify({ uid: "u1", message: "x".repeat(4096) }),
  });
  assert.equal(tooLarge.status, 413);
  check("/send", "post", tooLarge);
  for (const [path, method] of [["/send", "get"], ["/send", "post"], ["/stats", "get"]]) {
    const headTooLarge = await rawExchange(
      server.port,
      `${method.toUpperCase()} ${path} HTTP/1.1\r\nHost: x\r\nX-Filler: ${"f".repeat(8192)}\r\n\r\n`,
    );
    assert.equal(headTooLarge.status, 431);
    check(path, method, headTooLarge);
  }
});

test("a request that is not HTTP gets 400", async () => {
  const answer = await rawExchange(server.port, "NONSENSE\r\n\r\n");
  assert.equal(answer.status, 400);
  check("/send", "get", answer);
  assert.equal(JSON.parse(answer.body).error, "malformed HTTP request");
});

// ---- /stats, /healthz, /metrics, /readyz, unknown paths

test("/stats answers the counters, with a key only", async () => {
  const stats = await request(`${server.url}/stats`, { headers: withKey });
  assert.equal(stats.status, 200);
  check("/stats", "get", stats);
  const noKey = await request(`${server.url}/stats`);
  assert.equal(noKey.status, 401);
  check("/stats", "get", noKey);
  const wrongMethod = await request(`${server.url}/stats`, { method: "POST", headers: withKey, body: "{}" });
  assert.equal(wrongMethod.status, 405);
  assert.equal(wrongMethod.headers.allow, "GET");
  check("/stats", "get", wrongMethod);
});

test("/healthz answers ok without a key", async () => {
  const health = await request(`${server.url}/healthz`);
  assert.equal(health.status, 200);
  check("/healthz", "get", health);
  const wrongMethod = await request(`${server.url}/healthz`, { method: "POST", body: "" });
  assert.equal(wrongMethod.status, 405);
  check("/healthz", "get", wrongMethod);
});

test("/metrics answers Prometheus text, with a key only", async (t) => {
  const metrics = await request(`${server.url}/metrics`, { headers: withKey });
  if (metrics.status === 404) {
    absent.add("/metrics");
    return t.skip("no /metrics in this build yet");
  }
  assert.equal(metrics.status, 200);
  check("/metrics", "get", metrics);
  assert.match(metrics.body, /^# (HELP|TYPE) /m);
  const noKey = await request(`${server.url}/metrics`);
  assert.equal(noKey.status, 401);
  check("/metrics", "get", noKey);
  const wrongMethod = await request(`${server.url}/metrics`, { method: "POST", headers: withKey, body: "" });
  assert.equal(wrongMethod.status, 405);
  check("/metrics", "get", wrongMethod);
});

test("/readyz answers ready without a key", async (t) => {
  const ready = await request(`${server.url}/readyz`);
  if (ready.status === 404) {
    absent.add("/readyz");
    return t.skip("no /readyz in this build yet");
  }
  assert.equal(ready.status, 200);
  check("/readyz", "get", ready);
  const wrongMethod = await request(`${server.url}/readyz`, { method: "POST", body: "" });
  assert.equal(wrongMethod.status, 405);
  check("/readyz", "get", wrongMethod);
});

test("an unknown path gets 404", async () => {
  const answer = await request(`${server.url}/no/such/thing?x=1`);
  assert.equal(answer.status, 404);
  check("/{otherPath}", "get", answer);
});

// ---- /ws

test("/ws without an upgrade gets 426, and other methods 405", async () => {
  const plain = await request(`${server.url}/ws`);
  assert.equal(plain.status, 426);
  check("/ws", "get", plain);
  const wrongMethod = await request(`${server.url}/ws`, { method: "POST", body: "" });
  assert.equal(wrongMethod.status, 405);
  check("/ws", "get", wrongMethod);
});

test("/ws upgrades are refused with 403, 401, 429 and 503", async () => {
  const origin = await upgrade(server.port, { Origin: "https://elsewhere.example" });
  assert.equal(origin.status, 403);
  check("/ws", "get", origin);

  const badToken = await upgrade(server.port, { Authorization: "Bearer not.a.token" }, "/ws?v=1");
  assert.equal(badToken.status, 401);
  check("/ws", "get", badToken);

  const first = await upgrade(server.port, { Origin: "https://app.example" });
  assert.equal(first.status, 101);
  check("/ws", "get", first);
  try {
    const second = await upgrade(server.port);
    assert.equal(second.status, 429);
    check("/ws", "get", second);
  } finally {
    first.socket.destroy();
  }

  const only = await upgrade(single.port);
  assert.equal(only.status, 101);
  try {
    const refused = await upgrade(single.port);
    assert.equal(refused.status, 503);
    check("/ws", "get", refused);
  } finally {
    only.socket.destroy();
  }
});

// ---- Shutdown, then coverage

test("/readyz says draining once the server stops, if it still answers then", async (t) => {
  if (absent.has("/readyz")) return t.skip("no /readyz in this build yet");
  // The server may stop accepting at once (then there is nothing to check) or drain first.
  const stopped = server.stop();
  let answer;
  try {
    answer = await request(`${server.url}/readyz`);
  } catch {
    await stopped;
    return t.skip("the server stopped accepting at once");
  }
  await stopped;
  if (answer.status === 200) return t.skip("answered before the stop reached it");
  assert.equal(answer.status, 503);
  check("/readyz", "get", answer);
});

test("every answer the document lists was produced by a test", () => {
  const missing = [];
  const optional = new Set(["get /readyz 503"]);  // only where the server drains before stopping
  for (const [path, item] of Object.entries(document.paths)) {
    if (absent.has(path)) continue;
    for (const [method, operation] of Object.entries(item)) {
      for (const status of Object.keys(operation.responses ?? {})) {
        const key = `${method} ${path} ${status}`;
        if (!exercised.has(key) && !optional.has(key)) missing.push(key);
      }
    }
  }
  assert.deepEqual(missing, [], "documented answers no test produced");
});
