// One case per error code, each from its real cause; always a rejected promise, never a throw
// out of `.to()` and never an uncaught exception.
import assert from 'node:assert/strict'
import http from 'node:http'
import net from 'node:net'
import { after, before, describe, test } from 'node:test'

import * as push from '../index.mjs'
import { freePort, startServer } from './helpers.mjs'

const { Producer, PushError } = push

/** Starts `publish()` (which must return a promise at once), and returns what it rejects with. */
async function rejection(publish) {
  const promise = publish()
  assert.ok(promise instanceof Promise, 'publishing returns a promise')
  return promise.then(
    (id) => assert.fail(`expected a rejection, resolved to ${id}`),
    (err) => err,
  )
}

function assertPushError(err, Cls, code) {
  assert.ok(err instanceof Cls, `${err?.name}: ${err?.message} is not a ${Cls.name}`)
  assert.ok(err instanceof PushError)
  assert.ok(err instanceof Error)
  assert.equal(err.code, code)
  assert.equal(Cls.code, code)
  assert.equal(err.name, Cls.name)
  assert.ok(err.message.length > 0)
  assert.match(err.stack, new RegExp(Cls.name))
}

let uncaught = []
const onUncaught = (err) => uncaught.push(err)

describe('errors', () => {
  let server
  before(async () => {
    process.on('uncaughtException', onUncaught)
    process.on('unhandledRejection', onUncaught)
    server = await startServer()
  })
  after(async () => {
    process.off('uncaughtException', onUncaught)
    process.off('unhandledRejection', onUncaught)
    await server?.stop()
    assert.deepEqual(uncaught, [], 'no uncaught exceptions or unhandled rejections')
  })

  test('INVALID_CHANNEL: a name without a slash, with .., or empty', async () => {
    const producer = new Producer({ url: server.url })
    for (const channel of ['greetings', '/a/../b', '', '/a//b', '/has space']) {
      const err = await rejection(() => producer.publish('x').to(channel))
      assertPushError(err, push.InvalidChannelError, 'INVALID_CHANNEL')
      assert.equal(err.retryable, false)
    }
  })

  test('CONNECTION_FAILED: nothing listens on the port', async () => {
    const url = `http://127.0.0.1:${await freePort()}`
    const err = await rejection(() => new Producer({ url }).publish('x').to('/down'))
    assertPushError(err, push.ConnectionFailedError, 'CONNECTION_FAILED')
    assert.ok(err.message.includes(url), err.message)
    assert.equal(err.retryable, true)
    assert.equal(err.status, undefined)
  })

  test('CONNECTION_FAILED: the server goes away after a publish', async () => {
    const own = await startServer()
    const producer = new Producer({ url: own.url })
    await producer.publish('up').to('/going')
    await own.stop()
    const err = await rejection(() => producer.publish('down').to('/going'))
    assertPushError(err, push.ConnectionFailedError, 'CONNECTION_FAILED')
  })

  describe('with a publish key', () => {
    let keyed
    before(async () => { keyed = await startServer({ publishKey: 'right-key' }) })
    after(async () => { await keyed?.stop() })

    test('UNAUTHORIZED: a wrong key, or none', async () => {
      for (const options of [{ publishKey: 'wrong-key' }, {}]) {
        const err = await rejection(() => new Producer({ url: keyed.url, ...options }).publish('x').to('/secret'))
        assertPushError(err, push.UnauthorizedError, 'UNAUTHORIZED')
        assert.equal(err.status, 401)
        assert.equal(err.retryable, false)
      }
      const id = await new Producer({ url: keyed.url, publishKey: 'right-key' }).publish('x').to('/secret')
      assert.match(id, /^\d+$/)
    })
  })

  describe('with a small payload limit', () => {
    let small
    before(async () => { small = await startServer({ maxPayloadBytes: 1024 }) })
    after(async () => { await small?.stop() })

    test('PAYLOAD_TOO_LARGE: a payload over --max-payload-bytes', async () => {
      const producer = new Producer({ url: small.url })
      assert.match(await producer.publish(Buffer.alloc(1024, 'a')).to('/big'), /^\d+$/)
      const err = await rejection(() => producer.publish(Buffer.alloc(4096, 'a')).to('/big'))
      assertPushError(err, push.PayloadTooLargeError, 'PAYLOAD_TOO_LARGE')
      assert.equal(err.status, 413)
    })
  })

  test('TIMEOUT: a socket that accepts and never answers; the event loop keeps running', async (t) => {
    const sockets = new Set()
    const silent = net.createServer((socket) => { sockets.add(socket); socket.on('error', () => {}) })
    await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve))
    t.after(() => { for (const s of sockets) s.destroy(); silent.close() })

    let ticks = 0
    const timer = setInterval(() => ticks++, 10)
    const started = performance.now()
    const producer = new Producer({ url: `http://127.0.0.1:${silent.address().port}`, timeoutMs: 300 })
    const err = await rejection(() => producer.publish('anyone?').to('/silence'))
    const waited = performance.now() - started
    clearInterval(timer)
    assertPushError(err, push.TimeoutError, 'TIMEOUT')
    assert.equal(err.retryable, true)
    assert.ok(waited >= 250 && waited < 5000, `timed out after ${waited.toFixed(0)} ms`)
    assert.ok(ticks >= 10, `a 10 ms timer ticked only ${ticks} times while waiting`)
  })

  test('SERVER_ERROR: a proxy in front of the server answers 502', async (t) => {
    const proxy = http.createServer((req, res) => {
      req.resume()
      res.writeHead(502, { 'content-type': 'text/plain' }).end('bad gateway: upstream is down')
    })
    await new Promise((resolve) => proxy.listen(0, '127.0.0.1', resolve))
    t.after(() => proxy.close())
    const producer = new Producer({ url: `http://127.0.0.1:${proxy.address().port}` })
    const err = await rejection(() => producer.publish('x').to('/behind/proxy'))
    assertPushError(err, push.ServerError, 'SERVER_ERROR')
    assert.equal(err.status, 502)
    assert.match(err.message, /upstream is down/)
    assert.equal(err.retryable, true)
    producer.close()
  })

  test('INVALID_CONFIG: thrown by the constructor for options sdk-core refuses', () => {
    for (const options of [{ url: 'ftp://example.com' }, { url: 'localhost:4000' }, { timeoutMs: 0 }, { timeoutMs: -5 }, { timeoutMs: NaN }]) {
      assert.throws(() => new Producer(options), (err) => {
        assertPushError(err, push.InvalidConfigError, 'INVALID_CONFIG')
        return true
      }, JSON.stringify(options))
    }
  })

  test('INVALID_CONFIG: publish(data, { to }) rejects when PUSH_URL is not usable', async () => {
    const saved = process.env.PUSH_URL
    process.env.PUSH_URL = 'gopher://nowhere'
    try {
      // No publish(data, { to }) ran before in this file: the default producer is made now, from
      // this PUSH_URL, and since making it fails, the next call tries again.
      const err = await rejection(() => push.publish('x', { to: '/a' }))
      assertPushError(err, push.InvalidConfigError, 'INVALID_CONFIG')
    } finally {
      if (saved === undefined) delete process.env.PUSH_URL
      else process.env.PUSH_URL = saved
    }
  })

  test('wrong argument types reject with TypeError', async () => {
    const producer = new Producer({ url: server.url })
    for (const [data, channel, options] of [[42, '/a'], [null, '/a'], [{}, '/a'], ['x', 7], ['x', '/a', { contentType: 5 }]]) {
      const err = await rejection(() => producer.publish(data, options).to(channel))
      assert.ok(err instanceof TypeError, `${err}`)
    }
    assert.ok((await rejection(() => push.publish('x'))) instanceof TypeError)
    assert.throws(() => new Producer({ url: 5 }), TypeError)
    assert.throws(() => new Producer('http://x'), TypeError)
  })

  test('PushError can be made by users and keeps its code', () => {
    const err = new push.TimeoutError('took too long')
    assert.equal(err.code, 'TIMEOUT')
    assert.equal(new PushError('x', { code: 'SOMETHING_NEW' }).code, 'SOMETHING_NEW')
    assert.equal(err.name, 'TimeoutError')
  })
})
