// Token.sign: the shared known-answer vector, the same string as `push-server token`, the errors,
// and tokens minted here opening (or not) subscriptions on a server started with --auth token.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { createHmac } from 'node:crypto'
import { createRequire } from 'node:module'
import { promisify } from 'node:util'
import { after, before, describe, test } from 'node:test'

import * as push from '../index.mjs'
import { cleanEnv, serverCli, startServer } from './helpers.mjs'

const { Token, PushError, InvalidChannelError, InvalidConfigError } = push
const run = promisify(execFile)

// The vector every push-rs SDK tests (docs/AUTH.md, sdk-core/src/token.rs).
const VECTOR = {
  secret: 's3cret',
  channel: '/rooms/*',
  consumer: 'alice',
  expiresAt: 2000000000,
  token: 'push1.L3Jvb21zLyoKYWxpY2UKMjAwMDAwMDAwMA.uuwyPB4kr8XuuAm2aPVU1Hi7BBPL1FqUiPz0ibfoEMY',
}

/** The claims lines of a token, decoded only to look at them (sdk-core made the token). */
function claimsOf(token) {
  const [prefix, claims] = token.split('.')
  assert.equal(prefix, 'push1')
  const [channel, consumer, expiresAt] = Buffer.from(claims, 'base64url').toString('utf8').split('\n')
  return { channel, consumer, expiresAt: Number(expiresAt) }
}

const nowSeconds = () => Math.floor(Date.now() / 1000)

/** Runs `fn` with PUSH_SECRET set to `value` (or unset for undefined), then puts it back. */
function withSecretEnv(value, fn) {
  const saved = process.env.PUSH_SECRET
  if (value === undefined) delete process.env.PUSH_SECRET
  else process.env.PUSH_SECRET = value
  try {
    return fn()
  } finally {
    if (saved === undefined) delete process.env.PUSH_SECRET
    else process.env.PUSH_SECRET = saved
  }
}

function assertThrowsPushError(fn, Cls, code) {
  assert.throws(fn, (err) => {
    assert.ok(err instanceof Cls, `${err?.name}: ${err?.message} is not a ${Cls.name}`)
    assert.ok(err instanceof PushError)
    assert.equal(err.code, code)
    assert.equal(err.retryable, false)
    assert.ok(err.message.length > 0)
    return true
  })
}

describe('Token.sign', () => {
  test('gives the known-answer token, synchronously', () => {
    const { token, ...options } = VECTOR
    const minted = Token.sign(options)
    assert.equal(typeof minted, 'string')
    assert.equal(minted, token)
    assert.equal(Token.sign({ ...options, secret: Buffer.from('s3cret') }), token, 'a Buffer secret')
    assert.equal(Token.sign({ ...options, secret: new TextEncoder().encode('s3cret').buffer }), token, 'an ArrayBuffer secret')
    assert.equal(Token.sign({ ...options, expiresAt: new Date(2000000000 * 1000) }), token, 'a Date expiry')
    assert.equal(Token.sign({ ...options, expiresIn: 5 }), token, 'expiresAt wins over expiresIn')
    const { sign } = Token
    assert.equal(sign(options), token, 'works unbound')
  })

  test('carries info as compact JSON on a fourth line: the known vector (docs/PRESENCE.md)', () => {
    const known = 'push1.L3ByZXNlbmNlLWxvYmJ5CmFsaWNlCjIwMDAwMDAwMDAKeyJuYW1lIjoiQWxpY2UifQ.EevWok3FQiooG8ioVSnkFJLSGN2fD_BlBXcWzmdsbWY'
    const options = { secret: 's3cret', channel: '/presence-lobby', consumer: 'alice', expiresAt: 2000000000 }
    const token = Token.sign({ ...options, info: { name: 'Alice' } })
    assert.equal(token, known)
    const [prefix, claims] = token.split('.')
    assert.equal(Buffer.from(claims, 'base64url').toString(), '/presence-lobby\nalice\n2000000000\n{"name":"Alice"}')
    // Node's own HMAC over the same body gives the same signature.
    const body = `${prefix}.${claims}`
    assert.equal(token, `${body}.${createHmac('sha256', 's3cret').update(body).digest('base64url')}`)
    // Nested values and non-ASCII text as JSON.stringify writes them (Ruby and Python write the same).
    const nested = Token.sign({ ...options, info: { name: 'Zoë', tags: ['a', 1, null, true], n: { x: 1.5 } } })
    const line = Buffer.from(nested.split('.')[1], 'base64url').toString().split('\n')[3]
    assert.equal(line, '{"name":"Zoë","tags":["a",1,null,true],"n":{"x":1.5}}')
    assert.equal(Token.sign({ ...VECTOR, token: undefined, info: null }), VECTOR.token, 'no info: three lines')
  })

  test('bad info throws InvalidConfigError, a non-object TypeError', () => {
    const ok = { channel: '/a', secret: 'k', consumer: 'c' }
    assertThrowsPushError(() => Token.sign({ channel: '/a', secret: 'k', info: { name: 'x' } }), InvalidConfigError, 'INVALID_CONFIG')
    assert.throws(() => Token.sign({ channel: '/a', secret: 'k', info: { name: 'x' } }), /consumer/)
    assertThrowsPushError(() => Token.sign({ ...ok, info: { text: 'x'.repeat(1100) } }), InvalidConfigError, 'INVALID_CONFIG')
    for (const info of [[1, 2], '{"name":"Alice"}', 42, true]) {
      assert.throws(() => Token.sign({ ...ok, info }), TypeError, JSON.stringify(info))
    }
    assert.throws(() => Token.sign({ ...ok, info: { big: 1n } }), TypeError, 'JSON.stringify refuses a bigint')
  })

  test('is the same token as `push-server token`', async () => {
    const cli = (args, env = cleanEnv()) => run(process.execPath, [serverCli, ...args], { env }).then(({ stdout }) => stdout.trim())
    const { secret, channel, consumer, expiresAt, token } = VECTOR
    const flags = ['token', '--channel', channel, '--consumer', consumer, '--expires-at', String(expiresAt)]
    // --secret is an option of push-server itself, so it goes before the subcommand.
    assert.equal(await cli(['--secret', secret, ...flags]), token)
    assert.equal(await cli(flags, cleanEnv({ PUSH_SECRET: secret })), token)
    for (const [ch, who, at] of [['/a', undefined, 1], ['/deep/er/channel_1.x~y-z:w@v', 'bob', 4102444800], ['/*', 'c', 0]]) {
      const cliFlags = ['--secret', 'another secret', 'token', '--channel', ch, '--expires-at', String(at)]
      if (who) cliFlags.push('--consumer', who)
      assert.equal(Token.sign({ secret: 'another secret', channel: ch, consumer: who, expiresAt: at }), await cli(cliFlags))
    }
  })

  test('expires in an hour by default, or expiresIn seconds from now', () => {
    const before = nowSeconds()
    const hour = claimsOf(Token.sign({ channel: '/a', secret: 'k' }))
    const minute = claimsOf(Token.sign({ channel: '/a', secret: 'k', expiresIn: 60 }))
    const after = nowSeconds()
    assert.deepEqual([hour.channel, hour.consumer], ['/a', ''])
    assert.ok(hour.expiresAt >= before + 3600 && hour.expiresAt <= after + 3600, `${hour.expiresAt}`)
    assert.ok(minute.expiresAt >= before + 60 && minute.expiresAt <= after + 60, `${minute.expiresAt}`)
  })

  test('reads PUSH_SECRET when no secret is given, at each call', () => {
    const { secret, token, ...options } = VECTOR
    assert.equal(withSecretEnv('s3cret', () => Token.sign(options)), token)
    assert.notEqual(withSecretEnv('other', () => Token.sign(options)), token)
    assert.equal(withSecretEnv('other', () => Token.sign({ ...options, secret })), token, 'an explicit secret wins')
  })

  test('a missing or empty secret throws InvalidConfigError', () => {
    const options = { channel: '/a' }
    withSecretEnv(undefined, () => {
      assertThrowsPushError(() => Token.sign(options), InvalidConfigError, 'INVALID_CONFIG')
      assertThrowsPushError(() => Token.sign({ ...options, secret: null }), InvalidConfigError, 'INVALID_CONFIG')
      assertThrowsPushError(() => Token.sign({ ...options, secret: '' }), InvalidConfigError, 'INVALID_CONFIG')
      assertThrowsPushError(() => Token.sign({ ...options, secret: Buffer.alloc(0) }), InvalidConfigError, 'INVALID_CONFIG')
    })
    withSecretEnv('', () => assertThrowsPushError(() => Token.sign(options), InvalidConfigError, 'INVALID_CONFIG'))
  })

  test('an invalid channel throws InvalidChannelError', () => {
    for (const channel of ['', 'rooms', '/rooms/', '/a b', '/rooms/*/x', '/rooms*', '//a']) {
      assertThrowsPushError(() => Token.sign({ channel, secret: 'k' }), InvalidChannelError, 'INVALID_CHANNEL')
    }
    for (const channel of ['/a', '/rooms/*', '/*', '/a/b/*']) assert.ok(Token.sign({ channel, secret: 'k' }))
  })

  test('unusable values throw InvalidConfigError, wrong types TypeError', () => {
    const ok = { channel: '/a', secret: 'k' }
    for (const bad of [{ consumer: '' }, { consumer: 'two\nlines' }, { expiresIn: -1 }, { expiresIn: 1.5 },
      { expiresIn: NaN }, { expiresIn: Infinity }, { expiresAt: -1 }, { expiresAt: 2 ** 60 }, { expiresAt: new Date(NaN) }]) {
      assertThrowsPushError(() => Token.sign({ ...ok, ...bad }), InvalidConfigError, 'INVALID_CONFIG')
    }
    for (const bad of [undefined, null, '/a', 42]) assert.throws(() => Token.sign(bad), TypeError)
    for (const bad of [{ channel: undefined }, { channel: 7 }, { consumer: 1 }, { expiresIn: '60' },
      { expiresAt: '2000000000' }, { expiresAt: 2000000000n }, { secret: 42 }, { secret: {} }]) {
      assert.throws(() => Token.sign({ ...ok, ...bad }), TypeError, JSON.stringify(Object.keys(bad)))
    }
  })

  test('is exported by the CommonJS entry too', () => {
    const require = createRequire(import.meta.url)
    const cjs = require('../index.js')
    assert.equal(cjs.Token, Token)
    assert.equal(cjs.Token.sign({ ...VECTOR, token: undefined }), VECTOR.token)
  })
})

describe('Token.sign against push-server --auth token', () => {
  let server
  before(async () => {
    server = await startServer({ auth: 'token', secret: 's3cret' })
  })
  after(async () => {
    await server?.stop()
  })

  /** The status of an immediate long-poll of `channel` with `query`. */
  async function subscribe(channel, query = '') {
    const res = await fetch(`${server.url}${channel}?timeout=0${query}`)
    await res.arrayBuffer()
    return res.status
  }
  const withToken = (token) => `&token=${encodeURIComponent(token)}`

  test('a Node-minted token opens its channel; none, another channel or an expired one do not', async () => {
    const token = Token.sign({ channel: '/rooms/42', secret: 's3cret' })
    assert.equal(await subscribe('/rooms/42', withToken(token)), 204)
    assert.equal(await subscribe('/rooms/42'), 401, 'no token')
    assert.equal(await subscribe('/rooms/43', withToken(token)), 403, 'a token for another channel')
    const expired = Token.sign({ channel: '/rooms/42', secret: 's3cret', expiresAt: nowSeconds() - 60 })
    assert.equal(await subscribe('/rooms/42', withToken(expired)), 401, 'an expired token')
    const otherSecret = Token.sign({ channel: '/rooms/42', secret: 'not the secret' })
    assert.equal(await subscribe('/rooms/42', withToken(otherSecret)), 401, 'signed with another secret')
  })

  test('patterns, consumer ids, the Authorization header and PUSH_SECRET', async () => {
    const pattern = Token.sign({ channel: '/rooms/*', secret: 's3cret', expiresIn: 60 })
    assert.equal(await subscribe('/rooms/1/chat', withToken(pattern)), 204)
    assert.equal(await subscribe('/rooms', withToken(pattern)), 403)

    const alice = Token.sign({ channel: '/rooms/7', consumer: 'alice', secret: 's3cret' })
    assert.equal(await subscribe('/rooms/7', `${withToken(alice)}&consumer=alice`), 204)
    assert.equal(await subscribe('/rooms/7', `${withToken(alice)}&consumer=bob`), 403)

    const fromEnv = withSecretEnv('s3cret', () => Token.sign({ channel: '/news' }))
    const res = await fetch(`${server.url}/news?timeout=0`, { headers: { authorization: `Bearer ${fromEnv}` } })
    await res.arrayBuffer()
    assert.equal(res.status, 204)
  })
})
