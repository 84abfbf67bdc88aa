// One case per error code, each from its real cause; always a rejected promise, never a throw
// out of `.to()` and never an uncaught exception.
import assert from 'node:assert/strict'
import { readFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import http from 'node:http'
import net from 'node:net'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'

import * as push from '../index.mjs'
import { freePort, packageDir, readAll, startServer } from './helpers.mjs'

const { Producer, PushError } = push
const require = createRequire(import.meta.url)
/** The addon's own exports (binding.js), for its error table and its panic hooks. */
const native = require('../binding.js')
const fromNative = require('../index.js')[Symbol.for('push-rs.fromNative')]

/** The rows of a Markdown table in docs/ERRORS.md: the one between the table markers, or the
 * first table after a line containing `heading`. Cells without their backticks. */
function docTable(heading) {
  const doc = readFileSync(path.join(packageDir, '..', 'docs', 'ERRORS.md'), 'utf8')
  const from = heading === undefined ? doc.indexOf('<!-- table:begin -->') : doc.indexOf(heading)
  assert.ok(from >= 0, `docs/ERRORS.md has ${heading ?? 'the table markers'}`)
  const lines = doc.slice(from).split('\n')
  const start = lines.findIndex((l) => l.startsWith('|'))
  const rows = []
  for (const line of lines.slice(start + 2)) {
    if (!line.startsWith('|')) break
    rows.push(line.split('|').slice(1, -1).map((c) => c.trim().replace(/^`(.*)`$/, '$1')))
  }
  assert.ok(rows.length > 0)
  return rows
}

/** Starts `publish()` (which must return a promise at once), and returns what it rejects with. */
async function rejection(publish) {
  const promise = publish()
  assert.ok(promise instanceof Promise, 'publishing returns a promise')
  return promise.then(
    (id) => assert.fail(`expected a rejection, resolved to ${id}`),
    (err) => err,
  )
}

/** `maybeStored`: what the error should say; default the kind's rule (null: not checked). */
function assertPushError(err, Cls, code, maybeStored = Cls.maybeStored) {
  assert.ok(err instanceof Cls, `${err?.name}: ${err?.message} is not a ${Cls.name}`)
  assert.ok(err instanceof PushError)
  assert.equal(Object.getPrototypeOf(Cls), PushError, `${Cls.name} derives directly from PushError`)
  assert.equal(err.retryable, Cls.retryable)
  if (maybeStored === null) assert.equal(typeof err.maybeStored, 'boolean')
  else assert.equal(err.maybeStored, maybeStored)
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
    // Refused: nothing was sent, so nothing can have been stored.
    assertPushError(err, push.ConnectionFailedError, 'CONNECTION_FAILED', false)
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
    // Refused, or sent on the kept-alive connection as it closed: either may be what happened.
    assertPushError(err, push.ConnectionFailedError, 'CONNECTION_FAILED', null)
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
      // The default producer is made again for a changed PUSH_URL; this one is refused.
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
  test('PushError: default code PUSH_ERROR; an unknown addon code becomes the base class with it', () => {
    const base = new PushError('x')
    assert.equal(base.code, 'PUSH_ERROR')
    assert.equal(base.retryable, false)
    assert.equal(base.maybeStored, false)
    const err = fromNative(Object.assign(new Error('from a newer core'), { code: 'SOMETHING_NEW', retryable: true }))
    assert.equal(err.constructor, PushError)
    assert.equal(err.code, 'SOMETHING_NEW')
    assert.equal(err.retryable, true)
    const notOurs = Object.assign(new Error('napi'), { code: 'InvalidArg' })
    assert.equal(fromNative(notOurs), notOurs)
  })

  test('INTERNAL: a panic in the addon, thrown or in a publish future, is an InternalError', async () => {
    assert.throws(() => native.testPanic(), (err) => {
      assert.equal(err.code, 'INTERNAL')
      assertPushError(fromNative(err), push.InternalError, 'INTERNAL')
      assert.match(err.message, /test panic/)
      return true
    })
    const err = await native.testPanicAsync().then(() => assert.fail('resolved'), (e) => e)
    assert.equal(err.code, 'INTERNAL')
    assert.equal(err.maybeStored, true)
    assertPushError(fromNative(err), push.InternalError, 'INTERNAL')
  })
})

describe('the error table', () => {
  const table = native.errorTable()

  test('every native row is a class of this package, directly below PushError, with its flags', () => {
    assert.equal(table.length, 14)
    for (const row of table) {
      const Cls = push[row.className]
      assert.equal(typeof Cls, 'function', `${row.className} is exported (CommonJS and ESM)`)
      assert.equal(require('../index.js')[row.className], Cls)
      assert.equal(Object.getPrototypeOf(Cls), PushError, `${row.className} derives directly from PushError`)
      assert.equal(Cls.name, row.className)
      assert.equal(Cls.code, row.code)
      const err = new Cls('x')
      assert.ok(err instanceof PushError)
      assert.equal(err.code, row.code)
      assert.equal(err.name, row.className)
      assert.equal(err.retryable, row.retryable, `${row.code} retryable`)
      assert.equal(err.maybeStored, row.maybeStored, `${row.code} maybeStored`)
      // And as the addon's errors arrive (a sync throw carries only the code).
      const arrived = fromNative(Object.assign(new Error('m'), { code: row.code }))
      assert.ok(arrived instanceof Cls)
      assert.equal(arrived.retryable, row.retryable)
      assert.equal(arrived.maybeStored, row.maybeStored)
    }
    // The ESM names (index.js's list for Node's CommonJS export reader) are exactly these.
    const esmClasses = Object.keys(push).filter((name) => name.endsWith('Error') && name !== 'PushError')
    assert.deepEqual(esmClasses.sort(), table.map((r) => r.className).sort())
    assert.deepEqual(Object.keys(push).sort(), Object.keys(require('../index.js')).sort(), 'ESM and CommonJS export the same names')
  })

  test('index.d.ts declares every class of the table, with its code', () => {
    const dts = readFileSync(path.join(packageDir, 'index.d.ts'), 'utf8')
    for (const row of table) {
      assert.match(dts, new RegExp(`export declare class ${row.className} extends PushError \\{\\n  static readonly code: '${row.code}'\\n  readonly code: '${row.code}'\\n\\}`), row.className)
      assert.match(dts, new RegExp(`\\| '${row.code}'\\n`), `PushErrorCode has ${row.code}`)
    }
  })

  test('docs/ERRORS.md shows the native table', () => {
    const yes = (b) => (b ? 'yes' : 'no')
    const doc = docTable().map(([code, className, , retryable, maybeStored]) => ({ code, className, retryable, maybeStored }))
    const own = table.map((r) => ({ code: r.code, className: r.className, retryable: yes(r.retryable), maybeStored: yes(r.maybeStored) }))
    assert.deepEqual(doc, own)
    for (const [code, , status] of docTable()) {
      assert.equal(Number(status), table.find((r) => r.code === code).httpStatus, `${code} HTTP status`)
    }
  })

  describe('the same failures raise the classes docs/ERRORS.md names', () => {
    // failure (as the doc's failure table words it) -> how to cause it here
    const servers = []
    const start = async (options) => { const s = await startServer(options); servers.push(s); return s }
    after(async () => { for (const s of servers) await s.stop() })
    const causes = {
      'server down': async () => new Producer({ url: `http://127.0.0.1:${await freePort()}` }).publish('x').to('/down'),
      'bad publish key': async () => new Producer({ url: (await start({ publishKey: 'right' })).url, publishKey: 'wrong' }).publish('x').to('/a'),
      'bad channel name': async () => new Producer({ url: (await start()).url }).publish('x').to('no-slash'),
      'payload too large': async () => new Producer({ url: (await start({ maxPayloadBytes: 16 })).url }).publish('x'.repeat(64)).to('/a'),
      'no answer in time': async (t) => {
        const sockets = new Set()
        const silent = net.createServer((socket) => { sockets.add(socket); socket.on('error', () => {}) })
        await new Promise((resolve) => silent.listen(0, '127.0.0.1', resolve))
        t.after(() => { for (const s of sockets) s.destroy(); silent.close() })
        return new Producer({ url: `http://127.0.0.1:${silent.address().port}`, timeoutMs: 300 }).publish('x').to('/a')
      },
      'unreadable CA file': async () => new Producer({ url: `https://127.0.0.1:${await freePort()}`, caFile: '/nonexistent/ca.pem' }).publish('x').to('/tls'),
    }
    const failures = docTable('The same failure raises the same class')
    test('the doc lists the six failures', () => {
      assert.deepEqual(failures.map(([failure]) => failure).sort(), Object.keys(causes).sort())
    })
    for (const [failure, , , nodeClass, maybeStored] of failures) {
      test(`${failure}: ${nodeClass}`, async (t) => {
        const row = table.find((r) => r.className === nodeClass)
        assert.ok(row, `${nodeClass} is in the native table`)
        const err = await rejection(() => causes[failure](t))
        // maybeStored: what happened, where known (a refused connection sent nothing).
        assertPushError(err, push[nodeClass], row.code, maybeStored === 'yes')
        assert.equal(err.retryable, row.retryable)
      })
    }
  })
})

describe('publish(data, { to }): the default producer follows PUSH_URL', () => {
  test('set PUSH_URL to server A, publish, to server B, publish: each got its message', async () => {
    const a = await startServer()
    const b = await startServer()
    const saved = process.env.PUSH_URL
    try {
      process.env.PUSH_URL = a.url
      const idA = await push.publish('to A', { to: '/default/env' })
      process.env.PUSH_URL = b.url
      const idB = await push.publish('to B', { to: '/default/env' })
      // Everything from just before each id: each server holds its one message and nothing else.
      const since = (id) => (BigInt(id) - 1n).toString()
      assert.deepEqual((await readAll(a.url, '/default/env', since(idA))).map((m) => [m.id, m.data]), [[idA, 'to A']])
      assert.deepEqual((await readAll(b.url, '/default/env', since(idB))).map((m) => [m.id, m.data]), [[idB, 'to B']])
      assert.notEqual(idA, idB)
    } finally {
      if (saved === undefined) delete process.env.PUSH_URL
      else process.env.PUSH_URL = saved
      await a.stop()
      await b.stop()
    }
  })
})
