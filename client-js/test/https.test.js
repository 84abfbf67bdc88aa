// push.js over HTTPS in a real headless Chromium: the page comes from an HTTPS site, the client
// file from the HTTPS push server, messages over SSE (HTTP/2 by ALPN) and WebSocket (wss, over
// HTTP/1.1). The test CA (scripts/test-certs) is trusted the way a user's machine would trust
// it: in the NSS database of the browser's home directory (certutil), not by ignoring errors.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync, spawn } = require('node:child_process');
const fs = require('node:fs');
const https = require('node:https');
const os = require('node:os');
const path = require('node:path');
const { chromium } = require('playwright-core');
const h = require('./helpers');

const CHROMIUM = process.env.CHROMIUM_BIN || '/usr/bin/chromium';

let dir; // certificates and the browser's home
let certs;
let server;
let site;
let browser;

/** A GET or POST over HTTPS trusting the test CA; resolves to { status, headers, body }. */
function request(url, { method = 'GET', body, headers = {} } = {}) {
  return new Promise((resolve, reject) => {
    const req = https.request(url, { method, ca: certs.ca, headers, timeout: 10000 }, (res) => {
      const chunks = [];
      res.on('data', (c) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString() }));
    });
    req.on('error', reject);
    req.on('timeout', () => req.destroy(new Error(`${url}: timed out`)));
    req.end(body);
  });
}

/** push-server with --tls-cert/--tls-key on a free port, once it answers over HTTPS. */
async function startTlsServer() {
  const port = await h.freePort();
  const url = `https://127.0.0.1:${port}`;
  const child = spawn(h.SERVER_BIN, ['--bind', `127.0.0.1:${port}`, '--log', 'warn',
    '--tls-cert', path.join(dir, 'server.pem'), '--tls-key', path.join(dir, 'server-key.pem')], { stdio: ['ignore', 'inherit', 'inherit'] });
  let exited = null;
  child.on('exit', (code, signal) => { exited = { code, signal }; });
  process.on('exit', () => child.kill('SIGKILL'));
  const deadline = Date.now() + 10000;
  for (;;) {
    if (exited) throw new Error(`push-server exited at start: ${JSON.stringify(exited)}`);
    try {
      if ((await request(`${url}/_push/health`)).status === 200) break;
    } catch { /* not listening yet */ }
    if (Date.now() > deadline) { child.kill('SIGKILL'); throw new Error('push-server did not answer over HTTPS in 10 s'); }
    await h.sleep(50); // the poll interval of the health check
  }
  return {
    url,
    async publish(channel, data) {
      const res = await request(url + channel, { method: 'POST', body: data, headers: { 'Content-Type': 'text/plain; charset=utf-8' } });
      if (res.status !== 200) throw new Error(`publish to ${channel}: ${res.status} ${res.body}`);
      return JSON.parse(res.body).id;
    },
    async metric(name) {
      const text = (await request(`${url}/_push/metrics`)).body;
      const line = text.split('\n').find((l) => l.startsWith(name + ' '));
      return line ? Number(line.slice(name.length + 1)) : 0;
    },
    async waitMetric(name, atLeast, timeout = 10000) {
      const deadline = Date.now() + timeout;
      let now;
      while ((now = await this.metric(name)) < atLeast) {
        if (Date.now() > deadline) throw new Error(`${name} is ${now}, not ${atLeast}, after ${timeout} ms`);
        await h.sleep(20); // the poll interval
      }
    },
    stop() {
      if (exited) return Promise.resolve();
      return new Promise((resolve) => { child.once('exit', resolve); child.kill('SIGTERM'); });
    },
  };
}

/** The harness page on an HTTPS origin of its own (the same test certificate), loading push.js from the push server. */
async function startHttpsSite(clientSrc) {
  const { harnessHtml } = h;
  const srv = https.createServer({ cert: certs.cert, key: certs.key }, (req, res) => {
    if (req.url === '/') {
      res.writeHead(200, { 'Content-Type': 'text/html; charset=utf-8', 'Cache-Control': 'no-store' });
      return res.end(harnessHtml(clientSrc));
    }
    res.writeHead(404); res.end('not found');
  });
  await new Promise((resolve) => srv.listen(0, '127.0.0.1', resolve));
  return { url: `https://127.0.0.1:${srv.address().port}`, close: () => new Promise((resolve) => { srv.closeAllConnections(); srv.close(resolve); }) };
}

before(async () => {
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'push-https-'));
  execFileSync(path.join(h.REPO, 'scripts', 'test-certs'), [dir], { stdio: 'ignore' });
  certs = {
    ca: fs.readFileSync(path.join(dir, 'ca.pem')),
    cert: fs.readFileSync(path.join(dir, 'server.pem')),
    key: fs.readFileSync(path.join(dir, 'server-key.pem')),
  };
  // Chromium on Linux reads trust anchors from $HOME/.pki/nssdb.
  const nssdb = path.join(dir, 'home', '.pki', 'nssdb');
  fs.mkdirSync(nssdb, { recursive: true });
  execFileSync('certutil', ['-d', `sql:${nssdb}`, '-N', '--empty-password']);
  execFileSync('certutil', ['-d', `sql:${nssdb}`, '-A', '-t', 'C,,', '-n', 'push-rs test CA', '-i', path.join(dir, 'ca.pem')]);
  server = await startTlsServer();
  site = await startHttpsSite(`${server.url}/_push/client.js`);
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    env: { ...process.env, HOME: path.join(dir, 'home') },
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-quic',
      '--no-first-run', '--disable-component-update', '--disable-sync'],
  });
});

after(async () => {
  if (browser) await browser.close();
  if (site) await site.close();
  if (server) await server.stop();
  if (dir) fs.rmSync(dir, { recursive: true, force: true });
});

/** A page of the HTTPS site with the harness loaded; `protocols` maps each response's URL to its protocol (h2, http/1.1). */
async function openPage() {
  const context = await browser.newContext(); // certificate errors are NOT ignored
  const page = await context.newPage();
  page.on('pageerror', (err) => console.error('page error:', err.message));
  const protocols = {};
  const cdp = await context.newCDPSession(page);
  await cdp.send('Network.enable');
  cdp.on('Network.responseReceived', (e) => { protocols[e.response.url] = e.response.protocol; });
  const response = await page.goto(site.url + '/');
  assert.equal(response.status(), 200);
  await page.waitForFunction(() => typeof window.Push === 'object' && typeof window.start === 'function');
  return { context, page, protocols };
}

describe('HTTPS', () => {
  it('the page and push.js load over HTTPS with the test CA trusted', async () => {
    const { context, page, protocols } = await openPage();
    assert.ok(page.url().startsWith('https://'));
    // The client file came from the push server itself, over HTTP/2.
    assert.equal(protocols[`${server.url}/_push/client.js`], 'h2', JSON.stringify(protocols));
    await context.close();
  });

  for (const transport of ['sse', 'websocket']) {
    it(`${transport}: messages arrive over HTTPS (${transport === 'sse' ? 'HTTP/2' : 'wss, HTTP/1.1'})`, async (t) => {
      const { context, page, protocols } = await openPage();
      const channel = `/https/${transport}`;
      await page.evaluate(([url, ch, tr]) => window.start(ch, { url, transport: tr }), [server.url, channel, transport]);
      await h.waitForState(page, 'open');
      await server.waitMetric(`push_connections{transport="${transport}"}`, 1);
      // SSE rides an HTTP/2 connection (ALPN h2); WebSocket needs an HTTP/1.1 one beside it.
      await server.waitMetric(`push_http_connections{version="${transport === 'sse' ? 'h2' : 'http1'}"}`, 1);
      const ids = [];
      for (let i = 0; i < 20; i++) ids.push(await server.publish(channel, `tls ${i}`));
      await h.waitForMessages(page, 20);
      const got = await page.evaluate(() => window.log.messages);
      assert.deepEqual(got.map((m) => m.data), ids.map((_, i) => `tls ${i}`));
      assert.deepEqual(got.map((m) => m.id), ids);
      assert.equal(await page.evaluate(() => window.sub.transport), transport);
      if (transport === 'sse') {
        // Every response of the push server (client file, subscribe requests, the stream) was HTTP/2.
        const fromServer = Object.entries(protocols).filter(([u]) => u.startsWith(server.url + '/_push/subscribe'));
        assert.ok(fromServer.length > 0 && fromServer.every(([, p]) => p === 'h2'), JSON.stringify(protocols));
      }
      t.diagnostic(`${transport} over HTTPS: ${got.length}/20 in order`);
      await context.close();
    });
  }

  it('a certificate the browser does not trust fails the page load', async () => {
    const other = await chromium.launch({ executablePath: CHROMIUM, args: ['--headless', '--no-sandbox', '--disable-gpu'] });
    try {
      const page = await (await other.newContext()).newPage();
      await assert.rejects(page.goto(site.url + '/'), /ERR_CERT_AUTHORITY_INVALID/);
    } finally {
      await other.close();
    }
  });
});
