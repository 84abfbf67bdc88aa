// Test fixtures: push-server processes on free ports, a static site for the test pages (another
// origin, so CORS is exercised), a TCP proxy that can cut every connection, headless Chromium.
'use strict';

const { spawn } = require('node:child_process');
const crypto = require('node:crypto');
const fs = require('node:fs');
const http = require('node:http');
const net = require('node:net');
const path = require('node:path');
const { chromium } = require('playwright-core');

const CLIENT_DIR = path.resolve(__dirname, '..');
const REPO = path.resolve(CLIENT_DIR, '..');
const SERVER_BIN = process.env.PUSH_SERVER_BIN || path.join(REPO, 'target', 'release', 'push-server');
const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

// Servers still running when the test process ends (a failed or interrupted run) go with it.
const children = new Set();
process.on('exit', () => { for (const c of children) c.kill('SIGKILL'); });

function freePort() {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address();
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Starts push-server on a loopback port (a free one unless `port` is given: a restart on the same
 * address) with extra flags; resolves once it is healthy.
 */
async function startServer(args = [], { port } = {}) {
  if (!fs.existsSync(SERVER_BIN)) {
    throw new Error(`push-server not found at ${SERVER_BIN}: build it (cargo build --release -p push-server) or set PUSH_SERVER_BIN`);
  }
  port = port || await freePort();
  const url = `http://127.0.0.1:${port}`;
  const child = spawn(SERVER_BIN, ['--bind', `127.0.0.1:${port}`, '--log', 'warn', ...args], { stdio: ['ignore', 'inherit', 'inherit'] });
  let exited = null;
  children.add(child);
  child.on('exit', (code, signal) => { exited = { code, signal }; children.delete(child); });
  const deadline = Date.now() + 10000;
  for (;;) {
    if (exited) throw new Error(`push-server exited at start: ${JSON.stringify(exited)}`);
    try {
      const res = await fetch(`${url}/_push/health`);
      if (res.ok) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error('push-server did not become healthy in 10 s'); }
    await sleep(50); // the poll interval of the health check
  }
  return {
    url,
    port,
    /** POSTs one message; resolves to its id (a decimal string). */
    async publish(channel, data, contentType = 'text/plain; charset=utf-8') {
      const res = await fetch(url + channel, { method: 'POST', body: data, headers: { 'Content-Type': contentType } });
      if (!res.ok) throw new Error(`publish to ${channel}: ${res.status} ${await res.text()}`);
      return (await res.json()).id;
    },
    async metrics() {
      return (await fetch(`${url}/_push/metrics`)).text();
    },
    /** The value of `push_connections{transport="<t>"}`. */
    async connections(transport) {
      const text = await this.metrics();
      const m = text.match(new RegExp(`^push_connections\\{transport="${transport}"\\} (\\d+)$`, 'm'));
      return m ? Number(m[1]) : 0;
    },
    stop() {
      if (exited) return Promise.resolve();
      return new Promise((resolve) => {
        child.once('exit', resolve);
        child.kill('SIGTERM');
        setTimeout(() => child.kill('SIGKILL'), 5000).unref();
      });
    },
  };
}

/**
 * A TCP proxy to `target` (a port on 127.0.0.1). `cutAll()` destroys every connection through
 * it, as a network failure would; `refuse(head => bool)` cuts new connections whose request head
 * matches (e.g. to make a transport fail while plain requests get through).
 */
async function startProxy(targetPort) {
  const sockets = new Set();
  let refuse = null;
  let accepted = 0;
  let closedUntil = 0;
  const server = net.createServer((client) => {
    accepted++;
    const upstream = net.connect(targetPort, '127.0.0.1');
    sockets.add(client);
    sockets.add(upstream);
    const forget = () => { sockets.delete(client); sockets.delete(upstream); client.destroy(); upstream.destroy(); };
    client.on('error', forget);
    upstream.on('error', forget);
    client.on('close', forget);
    upstream.on('close', forget);
    if (Date.now() < closedUntil) { forget(); return; }
    client.on('data', (chunk) => {
      // Every chunk, not just the first: browsers send several requests over one kept-alive
      // connection.
      if (refuse && refuse(chunk.toString('latin1'))) { forget(); return; }
      upstream.write(chunk);
    });
    upstream.pipe(client);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address();
  return {
    url: `http://127.0.0.1:${port}`,
    get accepted() { return accepted; },
    /** Destroys every connection; new ones are cut at once for `downMs` (a short outage). */
    cutAll(downMs = 0) {
      closedUntil = Date.now() + downMs;
      const n = sockets.size;
      for (const s of sockets) s.destroy();
      sockets.clear();
      return n;
    },
    refuse(fn) { refuse = fn; },
    close() {
      this.cutAll();
      return new Promise((resolve) => server.close(resolve));
    },
  };
}

// The test page: loads the client, records what reaches the application.
function harnessHtml(clientSrc) {
  return `<!doctype html><meta charset="utf-8"><title>push.js test</title>
<script src="${clientSrc}"></script>
<script>
window.log = { messages: [], byChannel: {}, gaps: [], states: [], presence: [] };
window.start = function (channels, opts) {
  opts = Object.assign({}, opts || {});
  if (opts.tokenFunction) {
    // A token function: hands out window.currentToken, as an app would fetch a fresh one.
    window.currentToken = opts.tokenFunction;
    delete opts.tokenFunction;
    log.tokenCalls = 0;
    opts.token = function () { log.tokenCalls++; return Promise.resolve(window.currentToken); };
  }
  window.sub = Push.subscribe(channels, Object.assign({
    onMessage: function (m) {
      var data = m.data instanceof Uint8Array ? { bytes: Array.from(m.data) } : m.data;
      log.messages.push({ id: m.id, channel: m.channel, channels: m.channels, data: data, contentType: m.contentType, time: m.time });
    },
    onGap: function (g) { log.gaps.push(g); },
    onStatus: function (s) { log.states.push({ state: s.state, transport: s.transport, code: s.error ? s.error.code : null, reason: s.error ? s.error.reason : null }); },
  }, opts));
  if (opts.presence) {
    // Every presence, join and leave event in order, each with its name and the cursor then.
    ['presence', 'join', 'leave'].forEach(function (name) {
      sub.on(name, function (e) { log.presence.push(Object.assign({ event: name, lastId: sub.lastId }, e)); });
    });
  }
};
// One handler per channel: each records into its own list and checks it got its own channel.
window.startPerChannel = function (channels, opts) {
  var handlers = {};
  channels.forEach(function (c) {
    log.byChannel[c] = [];
    handlers[c] = function (m) { log.byChannel[c].push(m.channel === c ? m.data : 'WRONG CHANNEL ' + m.channel); };
  });
  window.sub = Push.subscribe(handlers, Object.assign({
    onStatus: function (s) { log.states.push({ state: s.state, transport: s.transport }); },
  }, opts || {}));
};
</script>`;
}

/**
 * A static site on its own origin: `/` is the test harness, `/push.js` the client file,
 * `/_push/client.js` and `/_push/demo` mimic the push server's own routes.
 */
async function startSite(clientSrc) {
  const server = http.createServer((req, res) => {
    const url = new URL(req.url, 'http://x');
    const send = (type, body) => { res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-store' }); res.end(body); };
    if (url.pathname === '/') return send('text/html; charset=utf-8', harnessHtml(clientSrc));
    if (url.pathname === '/push.js' || url.pathname === '/_push/client.js') return send('text/javascript; charset=utf-8', fs.readFileSync(path.join(CLIENT_DIR, 'push.js')));
    if (url.pathname === '/_push/demo') return send('text/html; charset=utf-8', fs.readFileSync(path.join(CLIENT_DIR, 'demo.html')));
    res.writeHead(404); res.end('not found');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${server.address().port}`;
  return { url, close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }) };
}

/** Whether this push-server build serves the client itself (GET /_push/client.js). */
async function serverServesClient(server) {
  try {
    const res = await fetch(`${server.url}/_push/client.js`);
    return res.ok && /javascript/.test(res.headers.get('content-type') || '');
  } catch { return false; }
}

/**
 * A subscriber token as sdk-core/src/token.rs signs it: claims "<channel>\n<consumer>\n<expiry>"
 * and an optional fourth line of compact JSON info, "push1." + base64url(claims), then "." +
 * base64url(HMAC-SHA256(secret, that body)).
 */
function mintToken(secret, channel, consumer, expiresIn, info) {
  let claims = `${channel}\n${consumer || ''}\n${Math.floor(Date.now() / 1000) + expiresIn}`;
  if (info) claims += `\n${JSON.stringify(info)}`;
  const body = `push1.${Buffer.from(claims).toString('base64url')}`;
  return `${body}.${crypto.createHmac('sha256', secret).update(body).digest('base64url')}`;
}

async function launchBrowser() {
  return chromium.launch({
    executablePath: CHROMIUM,
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
      '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
}

/** Opens the harness in a new page; the client comes from the push server when it serves it. */
async function openHarness(browser, site) {
  const context = await browser.newContext();
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error('page error:', err.message));
  await page.goto(site.url + '/');
  await page.waitForFunction(() => typeof window.Push === 'object' && typeof window.start === 'function');
  return { context, page };
}

async function waitForState(page, state, count = 1, timeout = 10000) {
  await page.waitForFunction(([st, n]) => window.log.states.filter((s) => s.state === st).length >= n, [state, count], { timeout, polling: 20 });
}

/** Resolves once the server's `push_connections{transport="<t>"}` gauge is `n`. */
async function waitForConnections(srv, transport, n, timeout = 10000) {
  const deadline = Date.now() + timeout;
  let now;
  while ((now = await srv.connections(transport)) !== n) {
    if (Date.now() > deadline) throw new Error(`push_connections{transport="${transport}"} is ${now}, not ${n}, after ${timeout} ms`);
    await sleep(20); // the poll interval
  }
}

async function waitForMessages(page, n, timeout = 30000) {
  await page.waitForFunction((k) => window.log.messages.length >= k, n, { timeout, polling: 50 });
}

module.exports = {
  REPO, CLIENT_DIR, SERVER_BIN, sleep, freePort, startServer, startProxy, startSite,
  serverServesClient, launchBrowser, openHarness, waitForState, waitForConnections, waitForMessages,
  harnessHtml, mintToken,
};
