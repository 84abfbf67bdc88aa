// idempotencyKey: a publish repeated with the same key to the same channel is stored once.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'

import { BadRequestError, Producer, publish } from '../index.mjs'
import { readAll, startServer } from './helpers.mjs'

const stored = async (url, channel, cursor) =>
  (await readAll(url, channel, cursor)).map((m) => [m.id, m.data])

describe('idempotency keys', () => {
  let server
  let producer
  before(async () => {
    server = await startServer()
    producer = new Producer({ url: server.url })
  })
  after(async () => {
    producer?.close()
    await server?.stop()
  })

  test('the same key twice resolves to the same id and is stored once', async () => {
    const cursor = await producer.publish('start').to('/orders')
    const first = await producer.publish('order 9 paid', { idempotencyKey: 'order-9' }).to('/orders')
    const again = await producer.publish('order 9 paid', { idempotencyKey: 'order-9' }).to('/orders')
    assert.equal(again, first)
    // Another producer (as another process would), and the module-level publish: the first id.
    const other = new Producer({ url: server.url })
    assert.equal(await other.publish('order 9 paid', { idempotencyKey: 'order-9' }).to('/orders'), first)
    process.env.PUSH_URL = server.url // read once, when publish() makes its default producer
    try {
      assert.equal(await publish('order 9 paid', { to: '/orders', idempotencyKey: 'order-9' }), first)
    } finally {
      delete process.env.PUSH_URL
    }
    assert.deepEqual(await stored(server.url, '/orders', cursor), [[first, 'order 9 paid']])
  })

  test('the same key on another channel is another message', async () => {
    const cursor = await producer.publish('start').to('/start')
    const pending = producer.publish('paid', { contentType: 'text/x-order', idempotencyKey: 'order-9' })
    const a = await pending.to('/orders/a')
    const b = await pending.to('/orders/b')
    assert.notEqual(a, b)
    assert.equal(await pending.to('/orders/a'), a)
    for (const [channel, id] of [['/orders/a', a], ['/orders/b', b]]) {
      const messages = await readAll(server.url, channel, cursor)
      assert.deepEqual(messages.map((m) => [m.id, m.data, m.content_type]), [[id, 'paid', 'text/x-order']])
    }
  })

  test('a bad key rejects with BadRequestError and stores nothing', async () => {
    const cursor = await producer.publish('start').to('/bad')
    for (const key of ['has space', '', 'x'.repeat(256), 'clé', 'tab\t']) {
      const err = await producer.publish('x', { idempotencyKey: key }).to('/bad').then(
        (id) => assert.fail(`${JSON.stringify(key)} was accepted as ${id}`),
        (e) => e,
      )
      assert.ok(err instanceof BadRequestError, `${JSON.stringify(key)}: ${err}`)
      assert.equal(err.code, 'BAD_REQUEST')
      assert.equal(err.status, undefined) // refused by the producer, before any request
      assert.equal(err.retryable, false)
    }
    await assert.rejects(producer.publish('x', { idempotencyKey: 9 }).to('/bad'), TypeError)
    assert.deepEqual(await stored(server.url, '/bad', cursor), [])
    const longest = 'k'.repeat(255)
    const id = await producer.publish('ok', { idempotencyKey: longest }).to('/bad')
    assert.equal(await producer.publish('ok', { idempotencyKey: longest }).to('/bad'), id)
  })
})
