// Presence reads (docs/PRESENCE.md) against a real in-process server with --auth token and a
// publish key: SSE subscribers of a presence channel whose tokens carry info, read with
// channel(name).presence() and producer.presence(name); a channel without the presence prefix is
// refused. Waits on the presence read itself, never on time.
import assert from 'node:assert/strict'
import { after, before, describe, test } from 'node:test'

import * as push from '../index.mjs'
import { freePort, sse, waitFor } from './helpers.mjs'

const { BadRequestError, ConnectionFailedError, InvalidChannelError, Producer, Server, Token, UnauthorizedError } = push
const KEY = 'presence-key'
const SECRET = 'presence-secret'
const LOBBY = '/presence-lobby'

/** The rejection of `promise`, which must reject. */
async function rejection(promise) {
  assert.ok(promise instanceof Promise, 'the call returns a promise')
  return promise.then((v) => assert.fail(`expected a rejection, resolved to ${JSON.stringify(v)}`), (err) => err)
}

function assertClass(err, Cls) {
  assert.ok(err instanceof Cls, `${err?.name}: ${err?.message} is not a ${Cls.name}`)
  assert.equal(err.code, Cls.code)
}

describe('presence', () => {
  let server
  let producer
  const streams = []
  before(async () => {
    server = await Server.start({ publishKey: KEY, auth: 'token', secret: SECRET })
    producer = new Producer({ url: server.url, publishKey: KEY })
  })
  after(async () => {
    await Promise.all(streams.map((s) => s.close()))
    producer?.close()
    await server?.stop()
  })

  /** An SSE subscriber of `channel` as `consumer`, with a token carrying `info`. */
  async function subscribe(channel, consumer, info) {
    const token = Token.sign({ channel, consumer, info, expiresIn: 600, secret: SECRET })
    const stream = await sse(server.url, `${channel}?${new URLSearchParams({ consumer, token })}`)
    streams.push(stream)
    assert.equal(stream.status, 200)
    return stream
  }

  test('a member is listed once, with its token\'s info', async () => {
    const lobby = producer.channel(LOBBY)
    await subscribe(LOBBY, 'alice', { name: 'Alice' })
    await subscribe(LOBBY, 'alice', { name: 'Alice' }) // a second tab: still one member
    await subscribe(LOBBY, 'bob') // no info
    const presence = await waitFor(async () => {
      const p = await lobby.presence()
      return p.count === 2 && p
    }, 'alice and bob to be present')

    assert.deepEqual([presence.channel, presence.count, presence.nodes], [LOBBY, 2, 1])
    assert.ok(presence.asOf instanceof Date && Math.abs(presence.asOf.getTime() - Date.now()) < 60_000, `${presence.asOf}`)
    assert.deepEqual(presence.members, [{ consumer: 'alice', info: { name: 'Alice' } }, { consumer: 'bob', info: null }])

    // The same through producer.presence(name), and channel(name) of the default producer.
    assert.deepEqual((await producer.presence(LOBBY)).members, presence.members)
    const saved = [process.env.PUSH_URL, process.env.PUSH_PUBLISH_KEY]
    process.env.PUSH_URL = server.url
    process.env.PUSH_PUBLISH_KEY = KEY
    try {
      assert.deepEqual((await push.channel(LOBBY).presence()).members, presence.members)
    } finally {
      for (const [name, value] of [['PUSH_URL', saved[0]], ['PUSH_PUBLISH_KEY', saved[1]]]) {
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
    }
  })

  test('a channel without the presence prefix is a BadRequestError', async () => {
    const err = await rejection(producer.channel('/lobby').presence())
    assertClass(err, BadRequestError)
    assert.equal(err.status, 400)
    assertClass(await rejection(producer.presence('/rooms/presence-lobby')), BadRequestError)
  })

  test('an empty presence channel', async () => {
    const empty = await producer.channel('/presence-nobody').presence()
    assert.deepEqual([empty.channel, empty.members, empty.count], ['/presence-nobody', [], 0])
  })

  test('the publish key is needed', async () => {
    for (const p of [new Producer({ url: server.url }), new Producer({ url: server.url, publishKey: 'wrong' })]) {
      const err = await rejection(p.channel(LOBBY).presence())
      assertClass(err, UnauthorizedError)
      assert.equal(err.status, 401)
    }
  })

  test('bad arguments reject before any request', async () => {
    const down = new Producer({ url: `http://127.0.0.1:${await freePort()}` })
    assertClass(await rejection(down.presence('presence-lobby')), InvalidChannelError)
    assertClass(await rejection(down.channel('presence-lobby').presence()), InvalidChannelError)
    await assert.rejects(down.presence(42), TypeError)
    assertClass(await rejection(down.presence(LOBBY)), ConnectionFailedError)
  })
})
