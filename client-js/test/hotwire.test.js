// Turbo Streams and htmx over push-rs (docs/HOTWIRE_HTMX.md), in a real headless Chromium with the
// real @hotwired/turbo 8 and htmx.org 2 + htmx-ext-sse from npm. Each page subscribes through the
// tag (or attributes) a Ruby, Python or Node process renders with the SDK, and each SDK publishes
// every Turbo Stream action (and htmx's named events) in its own process, as an app would. Also: a
// restart of a data-dir server in the middle is resumed through EventSource's Last-Event-ID with
// nothing lost or doubled, a gap reloads a Turbo page (a `refresh` action) and re-fetches an htmx
// region (`sse:gap`), and a token signed with the wrong secret is refused.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFile } = require('node:child_process');
const fs = require('node:fs');
const http = require('node:http');
const os = require('node:os');
const path = require('node:path');
const h = require('./helpers');

const SECRET = 'hotwire-test-secret';
const PYTHON = path.join(process.env.PUSH_PY_VENV || path.join(h.REPO, 'bindings-python', '.venv'), 'bin', 'python');
const NODE_PACKAGE = path.join(h.REPO, 'bindings-node');

// How each SDK is run: a child process, as the app's own would be. The test's arguments arrive as
// JSON in ARGS (no quoting in code strings); what it prints is the answer.
const SDKS = {
  ruby: {
    needs: path.join(h.REPO, 'bindings-ruby', 'lib', 'push', 'push_ext.so'),
    build: 'bash bindings-ruby/ci.sh (or cargo build --release -p push-ruby and copy the library)',
    run: (code) => ['ruby', ['-I', path.join(h.REPO, 'bindings-ruby', 'lib'), '-rjson', '-rpush', '-e',
      `a = JSON.parse(ENV.fetch("ARGS"), symbolize_names: true)\n${code}`]],
    tag: 'print Push::Turbo.stream_source_tag(a[:channel], **a[:options])',
    attributes: 'print Push::Htmx.sse_attributes(a[:channel], **a[:options])',
    broadcast: 'print Push::Turbo.broadcast(a[:action].to_sym, to: a[:to], **a[:options])',
    publish: 'print Push::Htmx.publish(a[:html], to: a[:to], event: a[:event])',
  },
  python: {
    needs: PYTHON,
    build: 'bash bindings-python/ci.sh',
    run: (code) => [PYTHON, ['-c', `import json, os, push\nfrom push import htmx, turbo\na = json.loads(os.environ["ARGS"])\n${code}`]],
    tag: 'print(turbo.stream_source_tag(a["channel"], **a["options"]), end="")',
    attributes: 'print(htmx.sse_attributes(a["channel"], **a["options"]), end="")',
    broadcast: 'print(turbo.broadcast(a["action"], to=a["to"], **a["options"]), end="")',
    publish: 'print(htmx.publish(a["html"], to=a["to"], event=a["event"]), end="")',
  },
  node: {
    needs: path.join(NODE_PACKAGE, 'push-rs.linux-x64-gnu.node'),
    build: 'bash bindings-node/ci.sh',
    run: (code) => [process.execPath, ['-e',
      `const { htmx, turbo } = require(${JSON.stringify(NODE_PACKAGE)})\nconst a = JSON.parse(process.env.ARGS)\n` +
      `const done = (out) => { process.stdout.write(String(out)); process.exit(0) }\n` +
      `const fail = (e) => { console.error(e); process.exit(1) }\n${code}`]],
    tag: 'done(turbo.streamSourceTag(a.channel, a.options))',
    attributes: 'done(htmx.sseAttributes(a.channel, a.options))',
    broadcast: 'turbo.broadcast(a.action, { to: a.to, ...a.options }).then(done, fail)',
    publish: 'htmx.publish(a.html, { to: a.to, event: a.event }).then(done, fail)',
  },
};

/** Runs one SDK call (`tag`, `attributes`, `broadcast`, `publish`) in a child process. */
function sdk(lang, op, args, env) {
  const s = SDKS[lang];
  if (!fs.existsSync(s.needs)) throw new Error(`the ${lang} SDK is not built (${s.needs} is missing): run ${s.build}`);
  const [cmd, argv] = s.run(s[op]);
  return new Promise((resolve, reject) => {
    execFile(cmd, argv, { env: { ...process.env, ...env, ARGS: JSON.stringify(args) }, timeout: 30000 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${lang} ${op} ${JSON.stringify(args)} failed: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** The test site, on its own origin: the libraries from npm, and pages set by the tests. */
async function startSite() {
  const assets = {
    '/turbo.js': '@hotwired/turbo/dist/turbo.es2017-umd.js',
    '/htmx.js': 'htmx.org/dist/htmx.min.js',
    '/sse.js': 'htmx-ext-sse/dist/sse.js',
  };
  const pages = new Map();
  const server = http.createServer((req, res) => {
    const { pathname } = new URL(req.url, 'http://x');
    const send = (type, body) => { res.writeHead(200, { 'Content-Type': type, 'Cache-Control': 'no-store' }); res.end(body); };
    if (assets[pathname]) return send('text/javascript; charset=utf-8', fs.readFileSync(path.join(h.CLIENT_DIR, 'node_modules', assets[pathname])));
    if (pathname === '/fragment') return send('text/html; charset=utf-8', 'fresh');
    if (pages.has(pathname)) return send('text/html; charset=utf-8', pages.get(pathname));
    res.writeHead(404); res.end('not found');
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    pages,
    close: () => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve); }),
  };
}

// A page with Turbo Drive on: `turbo:load` counts loads (a refresh action is a new one).
const turboPage = (tag) => `<!doctype html><html><head><meta charset="utf-8"><title>turbo</title>
<script src="/turbo.js"></script>
<script>window.loads = 0; document.addEventListener('turbo:load', function () { window.loads++; });</script>
</head><body>
${tag}
<ul id="list"><li id="a">A</li></ul>
<div id="box">old</div>
<p class="note">n1</p><p class="note">n2</p>
</body></html>`;

const htmxPage = (attributes) => `<!doctype html><html><head><meta charset="utf-8"><title>htmx</title>
<script src="/htmx.js"></script><script src="/sse.js"></script>
</head><body>
<div ${attributes}>
  <ul id="feed" sse-swap="chat" hx-swap="beforeend"></ul>
  <div id="status" sse-swap="status">none</div>
  <div id="reloaded" hx-trigger="sse:gap" hx-get="/fragment" hx-swap="innerHTML">not yet</div>
</div>
</body></html>`;

const ORIGINAL = { list: ['a:A'], box: 'old', notes: ['n1', 'n2'] };

/** What the Turbo page shows. */
const turboDom = (page) => page.evaluate(() => ({
  list: [...document.querySelectorAll('#list li')].map((li) => `${li.id}:${li.textContent}`),
  box: document.querySelector('#box').innerHTML,
  notes: [...document.querySelectorAll('.note')].map((n) => n.innerHTML),
}));

const htmxDom = (page) => page.evaluate(() => ({
  feed: [...document.querySelectorAll('#feed li')].map((li) => li.textContent),
  status: document.querySelector('#status').innerHTML,
  reloaded: document.querySelector('#reloaded').innerHTML,
}));

/** Waits until `read(page)` deep-equals `expected` (each change is an event in the page). */
async function waitFor(page, read, expected, what, timeout = 15000) {
  const deadline = Date.now() + timeout;
  let now;
  for (;;) {
    now = await read(page);
    try { assert.deepEqual(now, expected); return; } catch (e) { if (Date.now() > deadline) { e.message = `${what}: ${e.message}`; throw e; } }
    await h.sleep(20); // the poll interval
  }
}

/** Opens `url` in a fresh page; records every response status of the push server's streams. */
async function open(browser, url, pushUrl) {
  const context = await browser.newContext();
  const page = await context.newPage();
  const statuses = [];
  page.on('pageerror', (err) => console.error('page error:', err.message));
  page.on('response', (r) => { if (r.url().startsWith(pushUrl)) statuses.push(r.status()); });
  await page.goto(url);
  return { context, page, statuses };
}

// Every action, and what the page shows after it: each step changes something only it changes.
const STEPS = [
  ['append', { target: 'list', html: '<li id="b">B</li>' }, { list: ['a:A', 'b:B'] }],
  ['prepend', { target: 'list', html: '<li id="z">Z</li>' }, { list: ['z:Z', 'a:A', 'b:B'] }],
  ['replace', { target: 'a', html: '<li id="a2">A2</li>' }, { list: ['z:Z', 'a2:A2', 'b:B'] }],
  ['update', { target: 'box', html: 'new <b>bold</b>' }, { box: 'new <b>bold</b>' }],
  ['remove', { target: 'z' }, { list: ['a2:A2', 'b:B'] }],
  ['before', { target: 'b', html: '<li id="c">C</li>' }, { list: ['a2:A2', 'c:C', 'b:B'] }],
  ['after', { target: 'b', html: '<li id="d">D</li>' }, { list: ['a2:A2', 'c:C', 'b:B', 'd:D'] }],
  // Text is escaped; `targets` is a CSS selector for several elements.
  ['update', { targets: '.note', text: '<i>x</i> & y' }, { notes: ['&lt;i&gt;x&lt;/i&gt; &amp; y', '&lt;i&gt;x&lt;/i&gt; &amp; y'] }],
];

let browser;
let site;

before(async () => {
  browser = await h.launchBrowser();
  site = await startSite();
});

after(async () => {
  if (browser) await browser.close();
  if (site) await site.close();
});

describe('Turbo Streams', () => {
  let server;
  let env;
  before(async () => {
    server = await h.startServer(['--auth', 'token', '--secret', SECRET, '--cors-origins', site.url]);
    env = { PUSH_URL: server.url, PUSH_PUBLIC_URL: server.url, PUSH_SECRET: SECRET };
  });
  after(async () => { if (server) await server.stop(); });

  for (const lang of Object.keys(SDKS)) {
    it(`a page subscribed through the ${lang} tag applies every action ${lang} broadcasts`, async () => {
      const channel = `/turbo/${lang}`;
      const tag = await sdk(lang, 'tag', { channel, options: {} }, env);
      assert.match(tag, /^<turbo-stream-source src="http:\/\/127\.0\.0\.1:\d+\/turbo\/\w+\?gap=turbo-refresh&amp;token=push1\.[^"]+"><\/turbo-stream-source>$/);
      site.pages.set(`/t/${lang}`, turboPage(tag));
      const { context, page } = await open(browser, `${site.url}/t/${lang}`, server.url);
      try {
        await h.waitForConnections(server, 'sse', 1);
        let expected = { ...ORIGINAL };
        for (const [action, options, change] of STEPS) {
          const id = await sdk(lang, 'broadcast', { action, to: channel, options }, env);
          assert.match(id, /^\d+$/, `${action} answers the message id`);
          expected = { ...expected, ...change };
          await waitFor(page, turboDom, expected, `after ${action} ${JSON.stringify(options)}`);
        }
        // refresh reloads the page: Turbo fetches it again, and the page is as served.
        assert.equal(await page.evaluate(() => window.loads), 1);
        await sdk(lang, 'broadcast', { action: 'refresh', to: channel, options: {} }, env);
        await page.waitForFunction(() => window.loads === 2, null, { timeout: 15000 });
        await waitFor(page, turboDom, ORIGINAL, 'after refresh');
      } finally {
        await context.close();
      }
      await h.waitForConnections(server, 'sse', 0);
    });
  }

  it('a token signed with the wrong secret is refused, and the page shows nothing of the channel', async () => {
    const channel = '/turbo/secret';
    const tag = await sdk('ruby', 'tag', { channel, options: { secret: 'not-the-secret' } }, env);
    site.pages.set('/t/bad', turboPage(tag));
    const { context, page, statuses } = await open(browser, `${site.url}/t/bad`, server.url);
    try {
      await page.waitForFunction(() => document.querySelector('turbo-stream-source') !== null);
      const deadline = Date.now() + 10000;
      while (!statuses.some((s) => s === 401 || s === 403)) {
        if (Date.now() > deadline) throw new Error(`no refusal seen; stream statuses: ${statuses}`);
        await h.sleep(20); // the poll interval
      }
      assert.ok(!statuses.includes(200), `the stream was never accepted (${statuses})`);
      assert.equal(await server.connections('sse'), 0);
      // A token for another channel is refused the same way (signed right, wrong channel).
      const other = await sdk('python', 'tag', { channel: '/turbo/other', options: {} }, env);
      const src = other.match(/src="([^"]+)"/)[1].replace(/&amp;/g, '&').replace('/turbo/other', channel);
      const res = await fetch(src, { headers: { Accept: 'text/event-stream' } });
      assert.ok(res.status === 401 || res.status === 403, `status ${res.status}`);
      await res.body?.cancel();
    } finally {
      await context.close();
    }
  });
});

describe('a Turbo page across a server restart (data dir)', () => {
  it('resumes through Last-Event-ID: every update once, in order', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'push-hotwire-'));
    const flags = ['--auth', 'token', '--secret', SECRET, '--cors-origins', site.url, '--data-dir', dir];
    let server = await h.startServer(flags);
    const env = { PUSH_URL: server.url, PUSH_PUBLIC_URL: server.url, PUSH_SECRET: SECRET };
    const channel = '/turbo/restart';
    const append = (i) => sdk(['ruby', 'python', 'node'][i % 3], 'broadcast', { action: 'append', to: channel, options: { target: 'list', html: `<li id="r${i}">R${i}</li>` } }, env);
    const items = (n) => ['a:A', ...Array.from({ length: n }, (_, i) => `r${i}:R${i}`)];
    const tag = await sdk('node', 'tag', { channel, options: {} }, env);
    site.pages.set('/t/restart', turboPage(tag));
    const { context, page } = await open(browser, `${site.url}/t/restart`, server.url);
    try {
      await h.waitForConnections(server, 'sse', 1);
      for (let i = 0; i < 3; i++) await append(i);
      await waitFor(page, (p) => turboDom(p).then((d) => d.list), items(3), 'before the restart');
      await server.stop();
      server = await h.startServer(flags, { port: server.port });
      // Published before the page is back (EventSource waits 2 s): only a resume delivers them.
      for (let i = 3; i < 6; i++) await append(i);
      await h.waitForConnections(server, 'sse', 1);
      for (let i = 6; i < 8; i++) await append(i);
      await waitFor(page, (p) => turboDom(p).then((d) => d.list), items(8), 'after the restart');
      // Nothing doubled later either: a last update arrives after everything before it.
      await append(8);
      await waitFor(page, (p) => turboDom(p).then((d) => d.list), items(9), 'at the end');
      assert.equal(await page.evaluate(() => window.loads), 1, 'no reload: nothing was lost');
    } finally {
      await context.close();
      await server.stop();
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('htmx', () => {
  let server;
  let env;
  before(async () => {
    server = await h.startServer(['--auth', 'token', '--secret', SECRET, '--cors-origins', site.url]);
    env = { PUSH_URL: server.url, PUSH_PUBLIC_URL: server.url, PUSH_SECRET: SECRET };
  });
  after(async () => { if (server) await server.stop(); });

  for (const lang of Object.keys(SDKS)) {
    it(`a page with the ${lang} sse attributes swaps what ${lang} publishes, by event name`, async () => {
      const channel = `/htmx/${lang}`;
      const attributes = await sdk(lang, 'attributes', { channel, options: {} }, env);
      assert.match(attributes, /^hx-ext="sse" sse-connect="http:\/\/127\.0\.0\.1:\d+\/htmx\/\w+\?token=push1\.[^"]+"$/);
      site.pages.set(`/h/${lang}`, htmxPage(attributes));
      const { context, page } = await open(browser, `${site.url}/h/${lang}`, server.url);
      try {
        await h.waitForConnections(server, 'sse', 1);
        await sdk(lang, 'publish', { html: '<li>one</li>', to: channel, event: 'chat' }, env);
        await waitFor(page, htmxDom, { feed: ['one'], status: 'none', reloaded: 'not yet' }, 'after chat');
        await sdk(lang, 'publish', { html: '<b>busy</b>', to: channel, event: 'status' }, env);
        await waitFor(page, htmxDom, { feed: ['one'], status: '<b>busy</b>', reloaded: 'not yet' }, 'after status');
        await sdk(lang, 'publish', { html: '<li>two</li>', to: channel, event: 'chat' }, env);
        await waitFor(page, htmxDom, { feed: ['one', 'two'], status: '<b>busy</b>', reloaded: 'not yet' }, 'after a second chat');
      } finally {
        await context.close();
      }
      await h.waitForConnections(server, 'sse', 0);
    });
  }

  it('a token signed with the wrong secret is refused', async () => {
    const attributes = await sdk('python', 'attributes', { channel: '/htmx/secret', options: { secret: 'not-the-secret' } }, env);
    site.pages.set('/h/bad', htmxPage(attributes));
    const { context, statuses } = await open(browser, `${site.url}/h/bad`, server.url);
    try {
      const deadline = Date.now() + 10000;
      while (!statuses.some((s) => s === 401 || s === 403)) {
        if (Date.now() > deadline) throw new Error(`no refusal seen; stream statuses: ${statuses}`);
        await h.sleep(20); // the poll interval
      }
      assert.ok(!statuses.includes(200));
      assert.equal(await server.connections('sse'), 0);
    } finally {
      await context.close();
    }
  });
});

describe('a gap', () => {
  // History of 2 messages, reached through a proxy that can keep the page away while 4 are
  // published: coming back, the page's cursor is older than history.
  let server;
  let proxy;
  let env;
  before(async () => {
    server = await h.startServer(['--auth', 'token', '--secret', SECRET, '--cors-origins', site.url, '--history-size', '2']);
    proxy = await h.startProxy(server.port);
    env = { PUSH_URL: server.url, PUSH_PUBLIC_URL: proxy.url, PUSH_SECRET: SECRET };
  });
  after(async () => {
    if (proxy) await proxy.close();
    if (server) await server.stop();
  });

  /** Keeps the page away while `n` messages are published, then lets it back. */
  async function missWhilePublishing(publish, n) {
    proxy.refuse(() => true);
    proxy.cutAll();
    await h.waitForConnections(server, 'sse', 0);
    for (let i = 0; i < n; i++) await publish(i);
    proxy.refuse(null);
  }

  it('reloads a Turbo page (a refresh action), which then subscribes again', async () => {
    const channel = '/gap/turbo';
    const tag = await sdk('ruby', 'tag', { channel, options: {} }, env);
    assert.ok(tag.includes(proxy.url), 'the tag names the public URL (PUSH_PUBLIC_URL)');
    site.pages.set('/g/turbo', turboPage(tag));
    const { context, page } = await open(browser, `${site.url}/g/turbo`, proxy.url);
    try {
      await h.waitForConnections(server, 'sse', 1);
      const append = (i) => sdk('ruby', 'broadcast', { action: 'append', to: channel, options: { target: 'list', html: `<li id="g${i}">G${i}</li>` } }, env);
      await append(0);
      await waitFor(page, turboDom, { ...ORIGINAL, list: ['a:A', 'g0:G0'] }, 'before the gap');
      await missWhilePublishing((i) => append(i + 1), 4);
      await page.waitForFunction(() => window.loads === 2, null, { timeout: 20000 });
      await waitFor(page, turboDom, ORIGINAL, 'reloaded');
      // The reloaded page's own stream is open (its answer came, so it is subscribed).
      await page.waitForFunction(() => document.querySelector('turbo-stream-source')?.streamSource?.readyState === 1, null, { timeout: 15000 });
      await append(9);
      await waitFor(page, turboDom, { ...ORIGINAL, list: ['a:A', 'g9:G9'] }, 'subscribed again after the reload');
    } finally {
      await context.close();
    }
    await h.waitForConnections(server, 'sse', 0);
  });

  it('triggers sse:gap on an htmx page, which re-fetches its region', async () => {
    const channel = '/gap/htmx';
    const attributes = await sdk('node', 'attributes', { channel, options: {} }, env);
    site.pages.set('/g/htmx', htmxPage(attributes));
    const { context, page } = await open(browser, `${site.url}/g/htmx`, proxy.url);
    try {
      await h.waitForConnections(server, 'sse', 1);
      const chat = (i) => sdk('node', 'publish', { html: `<li>c${i}</li>`, to: channel, event: 'chat' }, env);
      await chat(0);
      await waitFor(page, htmxDom, { feed: ['c0'], status: 'none', reloaded: 'not yet' }, 'before the gap');
      await missWhilePublishing((i) => chat(i + 1), 4);
      // After the gap the two messages history still has arrive (c3, c4), and the region reloads.
      await waitFor(page, htmxDom, { feed: ['c0', 'c3', 'c4'], status: 'none', reloaded: 'fresh' }, 'after the gap', 20000);
    } finally {
      await context.close();
    }
  });
});
