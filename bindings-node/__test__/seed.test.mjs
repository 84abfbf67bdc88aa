// The first experience from the README, with the Node line, and what a message looks like.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'
import { createRequire } from 'node:module'

import { Producer, publish } from '../index.mjs'
import { cleanEnv, heldLongPolls, longPoll, readAll, runNode, startServer } from './helpers.mjs'

const require = createRequire(import.meta.url)

describe('seed flow', () => {
  let server
  before(async () => { server = await startServer() })
  after(async () => { await server?.stop() })

  test('a waiting long-poll gets the message the Node line publishes (PUSH_URL set)', async () => {
    const waiting = longPoll(server.url, '/greetings')
    await heldLongPolls(server.url, 1) // the GET is held: it waits for messages published after it
    const line = "import { Producer } from 'push-rs'; await new Producer().publish('hi there!').to('/greetings')"
    const run = await runNode(['--input-type=module', '-e', line], { env: cleanEnv({ PUSH_URL: server.url }) })
    assert.equal(run.code, 0, run.stderr)
    const got = await waiting
    assert.equal(got.status, 200)
    assert.equal(got.body, 'hi there!')
    assert.match(got.id, /^\d+$/)
  })

  test('CommonJS and ESM entries export the same classes', async () => {
    const cjs = require('push-rs')
    const esm = await import('push-rs')
    assert.equal(esm.Producer, cjs.Producer)
    assert.equal(esm.PushError, cjs.PushError)
    assert.equal(typeof cjs.publish, 'function')
  })

  test('publish(...).to(...) resolves to the id the subscriber sees', async () => {
    const producer = new Producer({ url: server.url })
    const first = await producer.publish('one').to('/seed/ids')
    const waiting = longPoll(server.url, '/seed/ids', `?after=${first}`)
    const second = await producer.publish('two').to('/seed/ids')
    assert.equal(typeof second, 'string')
    assert.ok(BigInt(second) > BigInt(first))
    const got = await waiting
    assert.equal(got.id, second)
    assert.equal(got.body, 'two')
    producer.close()
  })

  test('strings, Buffers, Uint8Arrays and content types', async () => {
    const producer = new Producer({ url: server.url })
    const start = await producer.publish('start').to('/seed/types')
    await producer.publish(Buffer.from('buffer text')).to('/seed/types')
    await producer.publish(new Uint8Array([0xff, 0x00, 0x01])).to('/seed/types')
    await producer.publish('{"a":1}', { contentType: 'application/json' }).to('/seed/types')
    await producer.publish(new Uint16Array([0x6968]).buffer).to('/seed/types') // "hi" in little endian
    const messages = await readAll(server.url, '/seed/types', start)
    assert.deepEqual(
      messages.map((m) => [m.data, m.content_type, m.encoding ?? 'utf8']),
      [
        ['buffer text', 'text/plain; charset=utf-8', 'utf8'],
        [Buffer.from([0xff, 0x00, 0x01]).toString('base64'), 'application/octet-stream', 'base64'],
        ['{"a":1}', 'application/json', 'utf8'],
        ['hi', 'text/plain; charset=utf-8', 'utf8'],
      ],
    )
  })

  test('publish(data, { to }) uses a default producer from PUSH_URL', async () => {
    const line = `const { publish } = require('push-rs'); publish('default', { to: '/seed/default' }).then((id) => console.log(id))`
    const waiting = longPoll(server.url, '/seed/default')
    await heldLongPolls(server.url, 1)
    const run = await runNode(['-e', line], { env: cleanEnv({ PUSH_URL: server.url }) })
    assert.equal(run.code, 0, run.stderr)
    const got = await waiting
    assert.equal(got.body, 'default')
    assert.equal(got.id, run.stdout.trim())
  })

  test('the url option, PUSH_URL and the default', () => {
    assert.equal(new Producer({ url: server.url }).url, server.url)
    assert.equal(typeof publish, 'function')
    const saved = process.env.PUSH_URL
    try {
      delete process.env.PUSH_URL
      assert.equal(new Producer().url, 'http://127.0.0.1:4000')
      process.env.PUSH_URL = 'http://127.0.0.1:4999'
      assert.equal(new Producer().url, 'http://127.0.0.1:4999')
    } finally {
      if (saved === undefined) delete process.env.PUSH_URL
      else process.env.PUSH_URL = saved
    }
  })
})
