// The server API (docs/PROTOCOL.md "Server API") against a real in-process server with a publish
// key: channel info counting a live SSE subscriber, channel listing and eachChannel, history
// (last, after, a gap), one message to two channels read once by a multiplexed batch, disconnect
// and ban, and the errors, each checked before any request where sdk-core can tell.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'

import * as push from '../index.mjs'
import { freePort, sse, waitFor } from './helpers.mjs'

const { Channel, Producer, Server } = push
const KEY = 'api-test-key'

/** Waits until the server counts `count` connections on `channel` (never a fixed sleep). */
function connectionsOn(producer, channel, count) {
  return waitFor(async () => {
    const info = await producer.channel(channel).info()
    return info.connections === count && info
  }, `${count} connections on ${channel}`)
}

/** The rejection of `promise`, which must reject. */
async function rejection(promise) {
  assert.ok(promise instanceof Promise, 'the call returns a promise')
  return promise.then((v) => assert.fail(`expected a rejection, resolved to ${JSON.stringify(v)}`), (err) => err)
}

function assertClass(err, Cls) {
  assert.ok(err instanceof Cls, `${err?.name}: ${err?.message} is not a ${Cls.name}`)
  assert.equal(err.code, Cls.code)
}

/** Within a few seconds of now. */
function recent(date) {
  assert.ok(date instanceof Date, `${date} is a Date`)
  assert.ok(Math.abs(date.getTime() - Date.now()) < 10_000, `${date.toISOString()} is about now`)
}

describe('server API', () => {
  let server
  let producer
  before(async () => {
    // History of 2 per channel, so that reading after an older id meets a gap.
    server = await Server.start({ publishKey: KEY, historySize: 2 })
    producer = new Producer({ url: server.url, publishKey: KEY })
  })
  after(async () => {
    producer?.close()
    await server?.stop()
  })

  test('channel(name).info() counts a live SSE subscriber and the history held', async () => {
    const room = producer.channel('/info/room')
    assert.ok(room instanceof Channel)
    assert.equal(room.name, '/info/room')
    assert.throws(() => new Channel(), TypeError)
    assert.throws(() => producer.channel(42), TypeError)

    const empty = await room.info()
    assert.deepEqual({ ...empty, asOf: null }, { channel: '/info/room', connections: 0, consumers: 0, lastId: null, history: 0, nodes: 1, asOf: null })
    recent(empty.asOf)

    const alice = await sse(server.url, '/info/room', { 'consumer-id': 'alice' })
    const anonymous = await sse(server.url, '/info/room')
    try {
      assert.equal(alice.status, 200)
      const info = await connectionsOn(producer, '/info/room', 2)
      assert.equal(info.consumers, 1, 'only alice named herself')
      const id = await producer.publish('hello').to('/info/room')
      const after = await room.info()
      assert.equal(after.lastId, id)
      assert.equal(after.history, 1)
      await waitFor(() => alice.text.includes('data: hello'), 'the subscriber got the message')
    } finally {
      await alice.close()
      await anonymous.close()
    }
    await connectionsOn(producer, '/info/room', 0)
  })

  test('channels() pages by prefix and limit; eachChannel() follows next', async () => {
    for (const name of ['/list/c', '/list/a', '/list/b', '/listing/x', '/other/y']) await producer.publish('x').to(name)

    const first = await producer.channels({ prefix: '/list/', limit: 2 })
    assert.deepEqual(first.channels.map((c) => c.channel), ['/list/a', '/list/b'])
    assert.equal(first.next, '/list/b')
    assert.equal(first.nodes, 1)
    recent(first.asOf)
    const entry = first.channels[0]
    assert.deepEqual([entry.connections, entry.consumers, entry.history, entry.nodes], [0, 0, 1, 1])
    assert.match(entry.lastId, /^\d+$/)
    recent(entry.asOf)

    const second = await producer.channels({ prefix: '/list/', limit: 2, after: first.next })
    assert.deepEqual(second.channels.map((c) => c.channel), ['/list/c'])
    assert.equal(second.next, null)

    const seen = []
    for await (const info of producer.eachChannel({ prefix: '/list/', limit: 1 })) seen.push(info.channel)
    assert.deepEqual(seen, ['/list/a', '/list/b', '/list/c'])
    const all = []
    for await (const info of producer.eachChannel()) all.push(info.channel)
    assert.deepEqual(all.filter((c) => c.startsWith('/list')), ['/list/a', '/list/b', '/list/c', '/listing/x'])
    assert.deepEqual(all, [...all].sort(), 'in name order')
  })

  test('history(): last, after with limit and more, everything held, and a gap', async () => {
    const ch = producer.channel('/hist')
    const first = await producer.publish('one').to('/hist')
    const bytes = Buffer.from([0, 159, 146, 150])
    const second = await producer.publish(bytes).to('/hist')
    const third = await producer.publish('{"n":3}', { contentType: 'application/json' }).to('/hist')

    // historySize 2: the server holds the last two.
    const held = await ch.history()
    assert.deepEqual(held.messages.map((m) => m.id), [second, third])
    assert.deepEqual(held.gaps, [])
    assert.equal(held.lastId, third)
    assert.equal(held.more, false)
    const [binary, json] = held.messages
    assert.ok(Buffer.isBuffer(binary.data))
    assert.deepEqual(binary.data, bytes)
    assert.equal(binary.text, null)
    assert.equal(binary.contentType, 'application/octet-stream')
    assert.equal(json.text, '{"n":3}')
    assert.deepEqual(json.data, Buffer.from('{"n":3}'))
    assert.equal(json.contentType, 'application/json')
    assert.equal(json.channel, '/hist')
    assert.deepEqual(json.channels, [], 'published to one channel')
    recent(json.time)

    const last = await ch.history({ last: 1 })
    assert.deepEqual(last.messages.map((m) => m.text), ['{"n":3}'])
    assert.equal(last.lastId, third)
    assert.deepEqual((await ch.history({ last: 10 })).messages.map((m) => m.id), [second, third])

    const page = await ch.history({ after: second, limit: 1 })
    assert.deepEqual(page.messages.map((m) => m.id), [third])
    const cut = await ch.history({ after: first, limit: 1 })
    assert.deepEqual(cut.messages.map((m) => m.id), [second])
    assert.equal(cut.more, true)
    assert.equal(cut.lastId, second)
    assert.deepEqual((await ch.history({ after: BigInt(cut.lastId) })).messages.map((m) => m.id), [third])

    // From before the first message: the first is gone (history holds 2), so a gap says so.
    const before = (BigInt(first) - 1n).toString()
    const gapped = await ch.history({ after: before })
    assert.deepEqual(gapped.messages.map((m) => m.id), [second, third])
    assert.equal(gapped.gaps.length, 1)
    const [gap] = gapped.gaps
    assert.equal(gap.channel, '/hist')
    assert.ok(BigInt(gap.from) <= BigInt(first) && BigInt(first) <= BigInt(gap.to), `${JSON.stringify(gap)} covers ${first}`)
    assert.ok(BigInt(gap.to) < BigInt(second))

    const nothing = await producer.channel('/hist/never').history()
    assert.deepEqual([nothing.messages, nothing.gaps, nothing.more], [[], [], false])
  })

  test("publish(data).to('/a', '/b'): one message, one id, read once by a multiplexed batch", async () => {
    const cursor = await producer.publish('before').to('/multi/other')
    const id = await producer.publish('to both').to('/multi/a', '/multi/b')
    const res = await fetch(`${server.url}/_push/subscribe?channel=/multi/a&channel=/multi/b&after=${cursor}&timeout=0`, { headers: { accept: 'application/json' } })
    assert.equal(res.status, 200)
    const batch = await res.json()
    assert.deepEqual(batch.messages.map((m) => [m.id, m.data, m.channel, m.channels]), [[id, 'to both', '/multi/a', ['/multi/a', '/multi/b']]])
    assert.deepEqual(batch.gaps, [])

    // Each channel holds it, with the same id; a history read names only the channel asked
    // about, as a subscriber of that one channel sees it.
    for (const name of ['/multi/a', '/multi/b']) {
      const { messages } = await producer.channel(name).history()
      assert.deepEqual(messages.map((m) => [m.id, m.text, m.channel, m.channels]), [[id, 'to both', name, [name]]])
    }

    // An array works too, duplicates are dropped; one channel in an array is a plain publish.
    const again = await producer.publish('array').to(['/multi/c', '/multi/d', '/multi/c'])
    assert.deepEqual((await producer.channel('/multi/d').history()).messages.map((m) => [m.id, m.channels]), [[again, ['/multi/d']]])
    const single = await producer.publish('one').to(['/multi/e'])
    assert.deepEqual((await producer.channel('/multi/e').history()).messages.map((m) => [m.id, m.channels]), [[single, []]])
  })

  test('disconnect() ends an SSE stream with event: disconnect; a ban refuses a new subscription with 403', async () => {
    const stream = await sse(server.url, '/kick/room', { 'consumer-id': 'bob' })
    const bystander = await sse(server.url, '/kick/room', { 'consumer-id': 'carol' })
    try {
      await connectionsOn(producer, '/kick/room', 2)
      const done = await producer.disconnect({ consumer: 'bob', reason: 'logged out', ban: 60 })
      assert.equal(done.consumer, 'bob')
      assert.equal(done.channel, null)
      assert.equal(done.disconnected, 1)
      assert.ok(done.banUntil instanceof Date)
      const inSeconds = (done.banUntil.getTime() - Date.now()) / 1000
      assert.ok(inSeconds > 50 && inSeconds <= 61, `the ban ends in ${inSeconds} s, not about 60`)

      const text = await stream.ended // the server ended it
      assert.match(text, /event: disconnect\ndata: \{"type":"disconnect","reason":"logged out"\}/)
      await connectionsOn(producer, '/kick/room', 1)

      const back = await fetch(`${server.url}/kick/room?timeout=0`, { headers: { 'consumer-id': 'bob' } })
      assert.equal(back.status, 403)
      await back.body?.cancel()
      const other = await fetch(`${server.url}/kick/room?timeout=0`, { headers: { 'consumer-id': 'carol' } })
      assert.equal(other.status, 204, 'another consumer is not banned')
    } finally {
      await stream.close()
      await bystander.close()
    }

    // Nobody connected, only one channel, no ban.
    const none = await producer.disconnect({ consumer: 'nobody', channel: '/kick/room' })
    assert.deepEqual(none, { consumer: 'nobody', channel: '/kick/room', disconnected: 0, banUntil: null })
  })

  test('errors: a bad channel, 101 channels, a wrong key, last: 0, and the other checks', async () => {
    // Value errors come from sdk-core before any request: a producer with no server behind it
    // gets them, not ConnectionFailedError.
    const offline = new Producer({ url: `http://127.0.0.1:${await freePort()}` })
    for (const p of [producer, offline]) {
      assertClass(await rejection(p.channel('no-slash').info()), push.InvalidChannelError)
      assertClass(await rejection(p.channel('/a//b').history()), push.InvalidChannelError)
      assertClass(await rejection(p.publish('x').to('/a', 'bad')), push.InvalidChannelError)
      const many = Array.from({ length: 101 }, (_, i) => `/many/${i}`)
      assertClass(await rejection(p.publish('x').to(many)), push.BadRequestError)
      assertClass(await rejection(p.publish('x').to(...many)), push.BadRequestError)
      assertClass(await rejection(p.publish('x').to([])), push.BadRequestError)
      assertClass(await rejection(p.channel('/a').history({ last: 0 })), push.BadRequestError)
      assertClass(await rejection(p.channel('/a').history({ last: 1, after: '5' })), push.BadRequestError)
      assertClass(await rejection(p.channel('/a').history({ limit: 5 })), push.BadRequestError)
      assertClass(await rejection(p.channel('/a').history({ after: '5', limit: 0 })), push.BadRequestError)
      assertClass(await rejection(p.channel('/a').history({ last: 1.5 })), push.BadRequestError)
      assertClass(await rejection(p.channel('/a').history({ after: 'abc' })), push.InvalidCursorError)
      assertClass(await rejection(p.channels({ limit: 1001 })), push.BadRequestError)
      assertClass(await rejection(p.channels({ limit: 0 })), push.BadRequestError)
      assertClass(await rejection(p.channels({ prefix: 'rooms' })), push.BadRequestError)
      assertClass(await rejection(p.channels({ after: 'nope' })), push.InvalidChannelError)
      assertClass(await rejection(p.disconnect({ consumer: '' })), push.BadRequestError)
      assertClass(await rejection(p.disconnect({ consumer: 'a', ban: 86_401 })), push.BadRequestError)
      assertClass(await rejection(p.disconnect({ consumer: 'a', ban: -1 })), push.BadRequestError)
      assertClass(await rejection(p.disconnect({ consumer: 'a', reason: 'x'.repeat(201) })), push.BadRequestError)
      assertClass(await rejection(p.disconnect({ consumer: 'a', channel: 'bad' })), push.InvalidChannelError)
    }
    assertClass(await rejection(offline.channel('/a').info()), push.ConnectionFailedError)

    // The server's own refusals.
    const wrong = new Producer({ url: server.url, publishKey: 'wrong-key' })
    for (const call of [() => wrong.channel('/a').info(), () => wrong.channels(), () => wrong.channel('/a').history(), () => wrong.disconnect({ consumer: 'a' }), () => wrong.publish('x').to('/a', '/b')]) {
      const err = await rejection(call())
      assertClass(err, push.UnauthorizedError)
      assert.equal(err.status, 401)
    }
    const ahead = (BigInt(await producer.publish('x').to('/ahead')) + 1_000_000n).toString()
    assertClass(await rejection(producer.channel('/ahead').history({ after: ahead })), push.InvalidCursorError)

    // Wrong JavaScript types: TypeError, as for publishing.
    for (const call of [
      () => producer.channel('/a').history('last'),
      () => producer.channel('/a').history({ last: '10' }),
      () => producer.channel('/a').history({ after: 1.5 }),
      () => producer.channels('/a'),
      () => producer.channels({ limit: '10' }),
      () => producer.disconnect(),
      () => producer.disconnect({ consumer: 7 }),
      () => producer.disconnect({ consumer: 'a', ban: '60' }),
      () => producer.publish('x').to('/a', 7),
      () => producer.publish('x').to(['/a', null]),
      () => push.publish('x', { to: 7 }),
    ]) {
      assert.ok((await rejection(call())) instanceof TypeError, String(call))
    }
    assert.throws(() => producer.eachChannel({ prefix: 3 }), TypeError)
  })

  test('the default producer: channel, channels, eachChannel, disconnect and publish({ to: [...] }) follow PUSH_URL and PUSH_PUBLISH_KEY', async () => {
    const saved = { url: process.env.PUSH_URL, key: process.env.PUSH_PUBLISH_KEY }
    process.env.PUSH_URL = server.url
    process.env.PUSH_PUBLISH_KEY = KEY
    try {
      const id = await push.publish('both', { to: ['/default/a', '/default/b'] })
      const info = await push.channel('/default/b').info()
      assert.equal(info.lastId, id)
      const { messages } = await push.channel('/default/a').history({ last: 5 })
      assert.deepEqual(messages.map((m) => [m.id, m.text, m.channels]), [[id, 'both', ['/default/a']]])
      const page = await push.channels({ prefix: '/default/' })
      assert.deepEqual(page.channels.map((c) => c.channel), ['/default/a', '/default/b'])
      const names = []
      for await (const c of push.eachChannel({ prefix: '/default/', limit: 1 })) names.push(c.channel)
      assert.deepEqual(names, ['/default/a', '/default/b'])
      assert.equal((await push.disconnect({ consumer: 'nobody' })).disconnected, 0)

      process.env.PUSH_PUBLISH_KEY = 'wrong-key'
      assertClass(await rejection(push.channel('/default/a').info()), push.UnauthorizedError)
    } finally {
      for (const [name, value] of [['PUSH_URL', saved.url], ['PUSH_PUBLISH_KEY', saved.key]]) {
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
    }
  })
})
