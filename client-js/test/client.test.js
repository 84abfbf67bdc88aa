// push.js in a real headless Chromium against real push-server processes.
'use strict';

const { describe, it, before, after } = require('node:test');
const assert = require('node:assert/strict');
const { execFileSync } = require('node:child_process');
const fs = require('node:fs');
const path = require('node:path');
const h = require('./helpers');

const TRANSPORTS = ['sse', 'websocket', 'longpoll'];
const N = 500;

let browser;
let server; // history large enough that a cut subscriber resumes without a gap
let site;
let clientFromServer;

before(async () => {
  browser = await h.launchBrowser();
  server = await h.startServer(['--history-size', '2000']);
  clientFromServer = await h.serverServesClient(server);
  site = await h.startSite(clientFromServer ? `${server.url}/_push/client.js` : '/push.js');
});

after(async () => {
  if (browser) await browser.close();
  if (site) await site.close();
  if (server) await server.stop();
});

/** Publishes `n` messages `<prefix>0..` to `channel`, one after the other; calls `during(i)` before each. */
async function publishMany(srv, channel, n, prefix, during) {
  const ids = [];
  for (let i = 0; i < n; i++) {
    if (during) await during(i);
    ids.push(await srv.publish(channel, `${prefix}${i}`));
  }
  return ids;
}

/**
 * Everything the page got on `channel` once it is quiet: publishes a marker after the messages and
 * waits for it (a channel delivers in order, so nothing published before can still be on its way);
 * returns the messages before the marker. Instead of sleeping for "long enough".
 */
async function settled(srv, page, channel, count) {
  await srv.publish(channel, 'end-marker');
  await h.waitForMessages(page, count + 1);
  const got = await page.evaluate(() => window.log.messages);
  assert.equal(got.at(-1).data, 'end-marker', 'the marker came last');
  return got.slice(0, -1);
}

/** Every message exactly once, in order: the same ids and payloads as published. */
function assertExactly(got, ids, prefix) {
  const data = got.map((m) => m.data);
  const expected = ids.map((_, i) => `${prefix}${i}`);
  assert.equal(got.length, ids.length, `received ${got.length} of ${ids.length}`);
  assert.deepEqual(data, expected);
  assert.deepEqual(got.map((m) => m.id), ids);
  for (let i = 1; i < got.length; i++) assert.ok(BigInt(got[i].id) > BigInt(got[i - 1].id), `ids increase at ${i}`);
}

describe('server API', () => {
  for (const transport of TRANSPORTS) {
    it(`${transport}: a message to several channels comes once; a disconnect stops the subscription with its reason`, async () => {
      const { context, page } = await h.openHarness(browser, site);
      const [a, b] = [`/api/a-${transport}`, `/api/b-${transport}`];
      const consumer = `user-${transport}`;
      await page.evaluate(([url, chs, tr, c]) => window.start(chs, { url, transport: tr, consumer: c }), [server.url, [a, b], transport, consumer]);
      await h.waitForState(page, 'open');
      const res = await fetch(`${server.url}/_push/api/publish?channel=${a}&channel=${b}`, { method: 'POST', body: 'both' });
      assert.equal(res.status, 200);
      const id = (await res.json()).id;
      const next = await server.publish(b, 'next');
      await h.waitForMessages(page, 2);
      const got = await page.evaluate(() => window.log.messages);
      assert.deepEqual(got.map((m) => m.id), [id, next], 'once, then the next message');
      assert.deepEqual(got[0].channels, [a, b]);
      assert.deepEqual(got[1].channels, [b]);

      // A long-poll is disconnected while a request waits (between two requests there is
      // nothing to end): wait for the server to count the connection.
      for (let i = 0; ; i++) {
        const info = await (await fetch(`${server.url}/_push/api/channel${a}`)).json();
        if (info.connections === 1) break;
        assert.ok(i < 500, 'the subscription never showed in channel info');
        await h.sleep(20);
      }
      const cut = await fetch(`${server.url}/_push/api/disconnect`, { method: 'POST', body: JSON.stringify({ consumer, reason: 'logged out' }) });
      assert.equal((await cut.json()).disconnected, 1);
      await h.waitForState(page, 'failed');
      const last = (await page.evaluate(() => window.log.states)).at(-1);
      assert.deepEqual([last.code, last.reason], ['DISCONNECTED', 'logged out']);
      await context.close();
    });
  }
});

describe('presence', () => {
  const secret = 'client-js-presence-secret';
  let srv;
  before(async () => { srv = await h.startServer(['--auth', 'token', '--secret', secret, '--presence-grace', '1s']); });
  after(async () => { if (srv) await srv.stop(); });

  const names = { alice: 'Alice', bob: 'Bob' };
  const member = (consumer) => ({ consumer, info: { name: names[consumer] } });

  /** A page subscribed to `channels` as `consumer`, whose token carries {name}. */
  async function enter(consumer, channels, transport, url = srv.url) {
    const { context, page } = await h.openHarness(browser, site);
    // One token for all the channels: the presence one and, for alice, a plain one.
    const token = h.mintToken(secret, '/*', consumer, 3600, { name: names[consumer] });
    await page.evaluate(([u, chs, tr, c, tk]) => window.start(chs, {
      url: u, transport: tr, consumer: c, token: tk, presence: true, presenceInterval: 300, reconnectDelay: 50, maxReconnectDelay: 400,
    }), [url, channels, transport, consumer, token]);
    return { context, page };
  }

  /** Waits until `page` logged `n` `event`s (of `consumer`, when given). */
  async function waitForEvent(page, event, consumer = null, n = 1, timeout = 10000) {
    await page.waitForFunction(([ev, c, k]) => window.log.presence.filter((e) => e.event === ev && (c === null || e.consumer === c)).length >= k,
      [event, consumer, n], { timeout, polling: 20 });
  }

  /** Waits until the page's `sub.presence(channel)` names exactly `consumers`; returns it. */
  async function waitForMembers(page, channel, consumers, timeout = 10000) {
    await page.waitForFunction(([ch, want]) => JSON.stringify(window.sub.presence(ch).map((m) => m.consumer)) === JSON.stringify(want),
      [channel, consumers], { timeout, polling: 20 });
    return page.evaluate((ch) => window.sub.presence(ch), channel);
  }

  const events = (page) => page.evaluate(() => window.log.presence);
  /** The joins and leaves of `consumer` in order, e.g. ['join', 'leave']. */
  const moves = (log, consumer) => log.filter((e) => e.event !== 'presence' && e.consumer === consumer).map((e) => e.event);

  for (const transport of TRANSPORTS) {
    it(`${transport}: alice and bob see each other join with their info, and bob leave after the grace`, async () => {
      const channel = `/presence-lobby-${transport}`;
      const plain = `/plain-${transport}`;
      // alice multiplexes the presence channel with a plain one; bob has the one channel.
      const alice = await enter('alice', [channel, plain], transport);
      await waitForMembers(alice.page, channel, ['alice']);
      const bob = await enter('bob', channel, transport);
      await waitForEvent(alice.page, 'join', 'bob');
      assert.deepEqual(await waitForMembers(alice.page, channel, ['alice', 'bob']), [member('alice'), member('bob')]);
      assert.deepEqual(await waitForMembers(bob.page, channel, ['alice', 'bob']), [member('alice'), member('bob')]);
      assert.deepEqual(await bob.page.evaluate(() => window.sub.presence()), [member('alice'), member('bob')], 'one channel: no argument');
      assert.deepEqual(await alice.page.evaluate((c) => window.sub.presence(c), plain), [], 'a plain channel has no members');
      assert.match(await alice.page.evaluate(() => { try { window.sub.presence(); return 'no error'; } catch (e) { return e.message; } }), /several channels/);

      let log = await events(alice.page);
      const first = log.find((e) => e.event === 'presence');
      assert.equal(first.channel, channel);
      const join = log.find((e) => e.event === 'join' && e.consumer === 'bob');
      assert.deepEqual(join, { event: 'join', lastId: join.lastId, channel, consumer: 'bob', info: { name: 'Bob' } });
      // bob found alice in his first list: no join of alice for him.
      const bobLog = await events(bob.page);
      assert.deepEqual(bobLog[0].members.find((m) => m.consumer === 'alice'), member('alice'));
      assert.deepEqual(moves(bobLog, 'alice'), []);

      // Presence events carry no id: the cursor is where the start fixed it, and a message moves it.
      const startId = await alice.page.evaluate(() => window.sub.lastId);
      assert.ok(log.every((e) => e.lastId === startId), 'presence events did not move the cursor');
      const id = await srv.publish(channel, 'hello');
      await h.waitForMessages(alice.page, 1);
      await h.waitForMessages(bob.page, 1);
      assert.equal(await alice.page.evaluate(() => window.sub.lastId), id);

      // bob closes his page: alice hears him leave once the grace is over.
      await bob.context.close();
      await waitForEvent(alice.page, 'leave', 'bob');
      assert.deepEqual(await waitForMembers(alice.page, channel, ['alice']), [member('alice')]);
      log = await events(alice.page);
      assert.deepEqual(log.find((e) => e.event === 'leave'), { event: 'leave', lastId: id, channel, consumer: 'bob', info: { name: 'Bob' } });
      assert.deepEqual(moves(log, 'bob'), ['join', 'leave']);
      assert.equal(await alice.page.evaluate((c) => window.sub.presenceCount(c), channel), 1);
      await alice.context.close();
    });

    it(`${transport}: a reconnect replaces the list, replays no join, and emits a leave missed while away`, async () => {
      const channel = `/presence-reconnect-${transport}`;
      const proxy = await h.startProxy(srv.port);
      const alice = await enter('alice', channel, transport, proxy.url);
      await waitForMembers(alice.page, channel, ['alice']);
      const bob = await enter('bob', channel, transport);
      await waitForEvent(alice.page, 'join', 'bob');
      await waitForMembers(alice.page, channel, ['alice', 'bob']);
      const atCut = await events(alice.page);
      const lists = atCut.filter((e) => e.event === 'presence').length;

      // alice is cut off; bob goes and his grace ends while she is away.
      proxy.refuse(() => true);
      proxy.cutAll();
      await bob.context.close();
      const observer = h.mintToken(secret, channel, 'observer', 3600);
      for (let i = 0; ; i++) {
        const res = await fetch(`${srv.url}/_push/presence${channel}?consumer=observer&token=${observer}`);
        assert.equal(res.status, 200, await res.clone().text());
        const list = await res.json();
        if (!list.members.some((m) => m.consumer === 'bob')) break;
        assert.ok(i < 500, 'bob never left');
        await h.sleep(20); // the poll interval
      }
      proxy.refuse(null);
      // Back: a fresh list, which no longer has bob.
      await waitForEvent(alice.page, 'presence', null, lists + 1);
      assert.deepEqual(await waitForMembers(alice.page, channel, ['alice']), [member('alice')]);
      const log = await events(alice.page);
      assert.deepEqual(moves(log, 'bob'), ['join', 'leave'], 'the leave comes from the fresh list, once');
      assert.deepEqual(moves(log, 'alice'), moves(atCut, 'alice'), 'nothing replayed for alice');
      assert.deepEqual(log.at(-1).members, [member('alice')]);
      await alice.context.close();
      await proxy.close();
    });
  }
});

describe('delivery', () => {
  for (const transport of TRANSPORTS) {
    it(`${transport}: ${N} messages arrive once each, in order`, async (t) => {
      const { context, page } = await h.openHarness(browser, site);
      const channel = `/bulk/${transport}`;
      await page.evaluate(([url, ch, tr]) => window.start(ch, { url, transport: tr }), [server.url, channel, transport]);
      await h.waitForState(page, 'open');
      const ids = await publishMany(server, channel, N, 'm');
      const got = await settled(server, page, channel, N); // a duplicate would come before the marker
      assertExactly(got, ids, 'm');
      assert.equal(got[0].channel, channel);
      assert.equal(got[0].contentType, 'text/plain; charset=utf-8');
      assert.equal(typeof got[0].time, 'number');
      assert.equal(await page.evaluate(() => window.sub.transport), transport);
      assert.ok(BigInt(await page.evaluate(() => window.sub.lastId)) > BigInt(ids[N - 1]), 'lastId is the marker\'s');
      t.diagnostic(`${transport}: received ${got.length}/${N}, in order, no duplicates`);
      await context.close();
    });
  }

  it('binary payloads arrive as Uint8Array', async () => {
    const { context, page } = await h.openHarness(browser, site);
    await page.evaluate((url) => window.start('/binary', { url }), server.url);
    await h.waitForState(page, 'open');
    const res = await fetch(`${server.url}/binary`, { method: 'POST', body: new Uint8Array([0xff, 0x00, 0x80, 0x41]), headers: { 'Content-Type': 'application/octet-stream' } });
    assert.equal(res.status, 200);
    await h.waitForMessages(page, 1);
    const [msg] = await page.evaluate(() => window.log.messages);
    assert.deepEqual(msg.data, { bytes: [0xff, 0x00, 0x80, 0x41] });
    assert.equal(msg.contentType, 'application/octet-stream');
    await context.close();
  });
});

describe('connections cut mid-stream', () => {
  for (const transport of TRANSPORTS) {
    it(`${transport}: reconnects and resumes with no loss and no duplicate`, async (t) => {
      const proxy = await h.startProxy(server.port);
      const { context, page } = await h.openHarness(browser, site);
      const channel = `/cut/${transport}`;
      await page.evaluate(([url, ch, tr]) => window.start(ch, { url, transport: tr, reconnectDelay: 50, maxReconnectDelay: 400 }),
        [proxy.url, channel, transport]);
      await h.waitForState(page, 'open');
      let cuts = 0;
      const ids = await publishMany(server, channel, N, 'c', async (i) => {
        if (i > 0 && i % 100 === 0) {
          // Let the page catch up a little so that the cut lands while messages flow.
          await page.waitForFunction((k) => window.log.messages.length >= k, i - 20, { polling: 10 });
          if (proxy.cutAll(150) > 0) cuts++;
        }
      });
      const got = await settled(server, page, channel, N);
      const log = await page.evaluate(() => window.log);
      assertExactly(got, ids, 'c');
      assert.deepEqual(log.gaps, []);
      const opens = log.states.filter((s) => s.state === 'open').length;
      assert.ok(cuts >= 3, `connections were cut ${cuts} times`);
      assert.ok(opens >= 3, `the client reopened (${opens} opens)`);
      assert.ok(log.states.every((s) => s.transport === transport), 'stayed on its transport');
      t.diagnostic(`${transport}: ${cuts} cuts, ${opens} opens, ${proxy.accepted} TCP connections; received ${got.length}/${N} in order, no duplicates, no gap`);
      await context.close();
      await proxy.close();
    });
  }
});

describe('gaps', () => {
  let small;
  before(async () => { small = await h.startServer(['--history-size', '5']); });
  after(async () => { await small.stop(); });

  for (const transport of TRANSPORTS) {
    it(`${transport}: a cursor older than history reaches onGap, then the rest follows`, async () => {
      const channel = `/gap/${transport}`;
      const ids = await publishMany(small, channel, 50, 'g');
      const { context, page } = await h.openHarness(browser, site);
      await page.evaluate(([url, ch, tr, after]) => window.start(ch, { url, transport: tr, after }), [small.url, channel, transport, ids[0]]);
      await h.waitForMessages(page, 5);
      // Live messages follow the gap; once the live one is in, nothing older can still come.
      const live = await small.publish(channel, 'live');
      await h.waitForMessages(page, 6);
      const log = await page.evaluate(() => window.log);
      assert.deepEqual(log.gaps, [{ channel, from: (BigInt(ids[0]) + 1n).toString(), to: ids[44] }]);
      assert.deepEqual(log.messages.map((m) => m.data), ['g45', 'g46', 'g47', 'g48', 'g49', 'live']);
      assert.deepEqual(log.messages.map((m) => m.id), [...ids.slice(45), live]);
      await context.close();
    });
  }
});

describe('multiplexing', () => {
  it('20 channels share one SSE connection, each message reaches its own handler', async (t) => {
    const srv = await h.startServer();
    try {
      const { context, page } = await h.openHarness(browser, site);
      const channels = Array.from({ length: 20 }, (_, i) => `/mux/${i}`);
      await page.evaluate(([url, chs]) => window.startPerChannel(chs, { url }), [srv.url, channels]);
      await h.waitForState(page, 'open');
      assert.equal(await srv.connections('sse'), 1);
      const rounds = 10;
      for (let r = 0; r < rounds; r++) {
        for (const c of channels) await srv.publish(c, `${c}#${r}`);
      }
      // A marker per channel, after the rounds: once each channel's marker is in, it is quiet.
      for (const c of channels) await srv.publish(c, 'end-marker');
      await page.waitForFunction(() => Object.values(window.log.byChannel).every((l) => l.includes('end-marker')), null, { timeout: 20000 });
      const byChannel = await page.evaluate(() => window.log.byChannel);
      for (const c of channels) {
        assert.deepEqual(byChannel[c], [...Array.from({ length: rounds }, (_, r) => `${c}#${r}`), 'end-marker'], c);
      }
      const metrics = await srv.metrics();
      assert.match(metrics, /^push_connections\{transport="sse"\} 1$/m);
      assert.match(metrics, /^push_connections\{transport="websocket"\} 0$/m);
      assert.match(metrics, /^push_connections\{transport="json"\} 0$/m);
      t.diagnostic(`20 channels x ${rounds} messages over push_connections{transport="sse"} 1`);
      await page.evaluate(() => window.sub.close());
      await h.waitForState(page, 'closed');
      await h.waitForConnections(srv, 'sse', 0); // the server saw the stream end
      assert.equal((await page.evaluate(() => window.log.states)).at(-1).state, 'closed');
      await context.close();
    } finally {
      await srv.stop();
    }
  });
});

describe('transport fallback', () => {
  const streaming = (head) => /accept:[^\r\n]*text\/event-stream/i.test(head) || /upgrade:\s*websocket/i.test(head);

  for (const preference of [undefined, ['websocket', 'longpoll']]) {
    it(`${preference ? preference.join(' then ') : 'default (sse then longpoll)'}: long-poll takes over when streams cannot connect`, async () => {
      const proxy = await h.startProxy(server.port);
      proxy.refuse(streaming);
      const { context, page } = await h.openHarness(browser, site);
      const channel = `/fallback/${preference ? preference[0] : 'default'}`;
      await page.evaluate(([url, ch, tr]) => window.start(ch, { url, transport: tr, reconnectDelay: 50 }), [proxy.url, channel, preference]);
      await page.waitForFunction(() => window.log.states.some((s) => s.state === 'open'), null, { timeout: 10000 });
      const states = await page.evaluate(() => window.log.states);
      const open = states.find((s) => s.state === 'open');
      assert.equal(open.transport, 'longpoll');
      assert.ok(states.some((s) => s.transport === (preference ? preference[0] : 'sse')), 'tried the preferred transport first');
      const ids = await publishMany(server, channel, 50, 'f');
      await h.waitForMessages(page, 50);
      assertExactly(await page.evaluate(() => window.log.messages), ids, 'f');
      await context.close();
      await proxy.close();
    });
  }

  it('a forced transport does not fall back', async () => {
    const proxy = await h.startProxy(server.port);
    proxy.refuse(streaming);
    const { context, page } = await h.openHarness(browser, site);
    await page.evaluate((url) => window.start('/forced', { url, transport: 'sse', reconnectDelay: 50, maxReconnectDelay: 100 }), proxy.url);
    await h.waitForState(page, 'reconnecting', 3);
    const states = await page.evaluate(() => window.log.states);
    assert.ok(states.every((s) => s.transport === 'sse'));
    assert.ok(!states.some((s) => s.state === 'open'));
    // Once the stream gets through, it connects.
    proxy.refuse(null);
    await h.waitForState(page, 'open');
    const id = await server.publish('/forced', 'through');
    await h.waitForMessages(page, 1);
    assert.equal((await page.evaluate(() => window.log.messages))[0].id, id);
    await context.close();
    await proxy.close();
  });
});

describe('offline', () => {
  it('long-polling pauses while offline and resumes on online without loss', async () => {
    const { context, page } = await h.openHarness(browser, site);
    let requests = 0;
    page.on('request', (r) => { if (r.url().startsWith(server.url)) requests++; });
    await page.evaluate((url) => window.start('/offline', { url, transport: 'longpoll' }), server.url);
    await h.waitForState(page, 'open');
    const first = await server.publish('/offline', 'o0');
    await h.waitForMessages(page, 1);
    await context.setOffline(true);
    await h.waitForState(page, 'offline');
    assert.equal(await page.evaluate(() => navigator.onLine), false);
    const before = requests;
    const ids = [first, ...await publishMany(server, '/offline', 10, 'x')];
    // The wait is the point: a second in which a polling client would have sent requests.
    await h.sleep(1000);
    assert.equal(requests, before, 'no request while offline');
    assert.equal(await page.evaluate(() => window.log.messages.length), 1);
    await context.setOffline(false);
    await h.waitForMessages(page, 11);
    const got = await page.evaluate(() => window.log.messages);
    assert.deepEqual(got.map((m) => m.id), ids);
    await context.close();
  });
});

describe('errors and options', () => {
  it('an invalid channel fails for good with the server\'s code', async () => {
    const { context, page } = await h.openHarness(browser, site);
    await page.evaluate((url) => window.start('/a//b', { url }), server.url);
    await h.waitForState(page, 'failed');
    const states = await page.evaluate(() => window.log.states);
    assert.equal(states.at(-1).code, 'INVALID_CHANNEL');
    await context.close();
  });

  it('token and consumer travel as query parameters; a token function renews an expired token', async (t) => {
    const secret = 'client-js-test-secret';
    const srv = await h.startServer(['--auth', 'token', '--secret', secret]);
    const mint = (...args) => execFileSync(h.SERVER_BIN, ['token', '--channel', '/private/*', '--consumer', 'alice', ...args],
      { env: { ...process.env, PUSH_SECRET: secret } }).toString().trim();
    try {
      // No token: refused for good.
      let { context, page } = await h.openHarness(browser, site);
      await page.evaluate((url) => window.start('/private/a', { url }), srv.url);
      await h.waitForState(page, 'failed');
      assert.equal((await page.evaluate(() => window.log.states)).at(-1).code, 'UNAUTHORIZED');
      await context.close();

      // A short-lived token, then a long one: the stream ends when the first expires, the client
      // asks the function again and resumes from its cursor.
      const short = mint('--expires-in', '2');
      const long = mint('--expires-in', '3600');
      ({ context, page } = await h.openHarness(browser, site));
      await page.evaluate(([url, token]) => window.start('/private/a', { url, consumer: 'alice', tokenFunction: token, reconnectDelay: 50 }), [srv.url, short]);
      await h.waitForState(page, 'open');
      const ids = [await srv.publish('/private/a', 'p0')];
      await page.evaluate((token) => { window.currentToken = token; }, long);
      await h.waitForState(page, 'open', 2, 8000); // reopened after the expiry
      ids.push(await srv.publish('/private/a', 'p1'));
      await h.waitForMessages(page, 2);
      const log = await page.evaluate(() => window.log);
      assert.deepEqual(log.messages.map((m) => m.id), ids);
      assert.ok(log.tokenCalls >= 2, `token function called ${log.tokenCalls} times`);
      t.diagnostic(`token function called ${log.tokenCalls} times`);
      await context.close();
    } finally {
      await srv.stop();
    }
  });

  it('the default url is the server that served the script', async () => {
    // The harness is on the test site; the script comes from the push server when it serves
    // it, else from the site's /_push/client.js (which mimics the server's route).
    const { context, page } = await h.openHarness(browser, site);
    // (Another origin than the page's: `localhost` instead of 127.0.0.1.)
    const other = site.url.replace('127.0.0.1', 'localhost');
    if (!clientFromServer) {
      await page.addScriptTag({ url: `${other}/_push/client.js` });
    }
    const url = await page.evaluate(() => { const s = Push.subscribe('/default-url'); const u = s.url; s.close(); return u; });
    assert.equal(url, clientFromServer ? server.url : other);
    await context.close();
  });

  it('works when imported as an ES module', async () => {
    const context = await browser.newContext();
    const page = await context.newPage();
    await page.goto(`${site.url}/missing`); // any page of the site's origin
    await page.addScriptTag({ type: 'module', content: `import '${site.url}/push.js'; window.loaded = typeof globalThis.Push.subscribe;` });
    await page.waitForFunction(() => window.loaded === 'function');
    const id = await page.evaluate(async (url) => {
      const first = await new Promise((resolve) => {
        const sub = Push.subscribe('/module', { url, onStatus(s) { if (s.state === 'open') resolve(sub); } });
      });
      const got = new Promise((resolve) => { first.options.onMessage = (m) => { first.close(); resolve(m.id); }; });
      await fetch(url + '/module', { method: 'POST', body: 'from a module' });
      return got;
    }, server.url);
    assert.match(id, /^[0-9]+$/);
    await context.close();
  });

  it('the server serves this client at /_push/client.js', async (t) => {
    if (!clientFromServer) {
      t.skip('this push-server build has no GET /_push/client.js yet');
      return;
    }
    const served = await (await fetch(`${server.url}/_push/client.js`)).text();
    assert.equal(served, fs.readFileSync(path.join(h.CLIENT_DIR, 'push.js'), 'utf8'), 'the embedded copy matches client-js/push.js (rebuild the server)');
  });
});

describe('demo page', () => {
  it('shows live ticker messages and publishes from its form (screenshot)', async (t) => {
    const demoFromServer = (await fetch(`${server.url}/_push/demo`)).ok;
    const demoUrl = demoFromServer ? `${server.url}/_push/demo` : `${site.url}/_push/demo?server=${encodeURIComponent(server.url)}`;
    const context = await browser.newContext({ viewport: { width: 900, height: 640 } });
    const page = await context.newPage();
    page.on('pageerror', (err) => console.error('demo page error:', err.message));
    await page.goto(demoUrl);
    await page.waitForFunction(() => document.querySelector('#status')?.dataset.state === 'open', null, { timeout: 10000 });
    const ticks = [
      ['BTC', 97412.1], ['ETH', 3621.55], ['SOL', 241.8], ['BTC', 97398.45], ['ETH', 3624.02], ['DOGE', 0.4127],
    ];
    for (const [symbol, price] of ticks) {
      await server.publish('/demo/ticker', JSON.stringify({ symbol, price }), 'application/json');
    }
    await page.waitForFunction((n) => document.querySelectorAll('#ticker li').length >= n, ticks.length);
    // The form publishes through plain HTTP; the message comes back through the subscription.
    await page.fill('#message', 'hello from the form');
    await page.click('#send');
    await page.waitForFunction(() => [...document.querySelectorAll('#ticker li')].some((li) => li.textContent.includes('hello from the form')));
    const shots = path.join(h.REPO, 'target', 'screenshots');
    fs.mkdirSync(shots, { recursive: true });
    const file = path.join(shots, 'demo.png');
    await page.screenshot({ path: file, fullPage: true });
    assert.ok(fs.statSync(file).size > 1000);
    t.diagnostic(`screenshot: ${file} (demo from ${demoFromServer ? 'the server' : 'the test site'})`);
    await context.close();
  });
});
