// Many publishes at once from one process: all arrive, and the event loop keeps ticking.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'

import { Producer } from '../index.mjs'
import { readAll, startServer } from './helpers.mjs'

const COUNT = 1000
const MAX_LAG_MS = 200

describe('concurrency', () => {
  let server
  // History must hold every message so the batch read can count them all.
  before(async () => { server = await startServer({ historySize: COUNT * 2 }) })
  after(async () => { await server?.stop() })

  test(`${COUNT} concurrent publishes all arrive, in id order, while the event loop ticks`, async (t) => {
    const producer = new Producer({ url: server.url })
    const channel = '/load/many'
    const start = await producer.publish('start').to(channel)

    // A 5 ms timer: its worst lateness is how long the event loop was blocked.
    let last = performance.now()
    let maxLag = 0
    let ticks = 0
    const timer = setInterval(() => {
      const now = performance.now()
      maxLag = Math.max(maxLag, now - last - 5)
      last = now
      ticks++
    }, 5)

    const began = performance.now()
    const ids = await Promise.all(
      Array.from({ length: COUNT }, (_, i) => producer.publish(`message ${i}`).to(channel)),
    )
    const elapsed = performance.now() - began
    clearInterval(timer)

    assert.equal(new Set(ids).size, COUNT, 'every publish got its own id')
    const messages = await readAll(server.url, channel, start)
    assert.equal(messages.length, COUNT, 'received = published')
    const receivedIds = messages.map((m) => m.id)
    const sorted = [...receivedIds].sort((a, b) => (BigInt(a) < BigInt(b) ? -1 : 1))
    assert.deepEqual(receivedIds, sorted, 'delivered in id order')
    assert.deepEqual(new Set(receivedIds), new Set(ids), 'the ids the publishes resolved to')
    const byId = new Map(ids.map((id, i) => [id, `message ${i}`]))
    for (const m of messages) assert.equal(m.data, byId.get(m.id))

    t.diagnostic(`published ${COUNT} in ${elapsed.toFixed(0)} ms; timer ticked ${ticks} times, max lag ${maxLag.toFixed(1)} ms`)
    assert.ok(ticks > 0, 'the timer ran during the publishes')
    assert.ok(maxLag < MAX_LAG_MS, `event loop blocked for ${maxLag.toFixed(1)} ms`)
    producer.close()
  })
})
