// verifyEvents: the shared known signature, a request signed here with Node's own crypto (the
// format of docs/PRESENCE.md, so any sender can be checked), and every refusal.
import assert from 'node:assert/strict'
import { createHmac } from 'node:crypto'
import { createRequire } from 'node:module'
import { describe, test } from 'node:test'

import * as push from '../index.mjs'

const { verifyEvents, PushError, UnauthorizedError, BadRequestError, InvalidConfigError } = push

const SECRET = 's3cret'
const BODY = '{"events":[{"id":"e1","name":"member_left","channel":"/presence-lobby","consumer":"alice","time_ms":1}]}'
const KNOWN = 't=2000000000,v1=831e7358c2d4915f2e9ec13c7b37394411f4e7afcf43792ab2099b758093fa41'

const nowSeconds = () => Math.floor(Date.now() / 1000)

/** The Push-Signature header for `body` signed at `at` (default now), with node:crypto only. */
function signature(body, { at = nowSeconds(), secret = SECRET } = {}) {
  return `t=${at},v1=${createHmac('sha256', secret).update(`${at}.`).update(body).digest('hex')}`
}

/** Runs `fn` with the events variables set as given (undefined unsets), then puts them back. */
function withEnv(vars, fn) {
  const saved = {}
  for (const [k, v] of Object.entries(vars)) {
    saved[k] = process.env[k]
    if (v === undefined) delete process.env[k]
    else process.env[k] = v
  }
  try {
    return fn()
  } finally {
    for (const [k, v] of Object.entries(saved)) {
      if (v === undefined) delete process.env[k]
      else process.env[k] = v
    }
  }
}
const noEnvSecret = { PUSH_EVENTS_SECRET: undefined, PUSH_SECRET: undefined }

function assertThrows(fn, Cls, what) {
  assert.throws(fn, (err) => {
    assert.ok(err instanceof Cls, `${what}: ${err?.name}: ${err?.message} is not a ${Cls.name}`)
    assert.ok(err instanceof PushError)
    assert.equal(err.code, Cls.code)
    assert.equal(err.status, undefined)
    return true
  })
}

describe('verifyEvents', () => {
  test('the known signature', () => {
    assert.equal(signature(BODY, { at: 2000000000 }), KNOWN)
    // Signed in 2033: far from now, so only a tolerance that wide accepts it.
    const events = verifyEvents(BODY, KNOWN, { secret: SECRET, tolerance: 1e10 })
    assert.deepEqual(events, [{
      id: 'e1', name: 'member_left', channel: '/presence-lobby', consumer: 'alice', info: null, messageId: null, time: new Date(1),
    }])
    assertThrows(() => verifyEvents(BODY, KNOWN, { secret: SECRET }), UnauthorizedError, 'signed in 2033')
    assert.throws(() => verifyEvents(BODY, KNOWN, { secret: SECRET }), /2000000000/)
  })

  test('a request signed with node:crypto, as a Buffer or a string', () => {
    const body = Buffer.from(JSON.stringify({
      events: [
        { id: 'a', name: 'member_joined', channel: '/presence-lobby', consumer: 'alice', info: { name: 'Zoë', n: [1, 2] }, time_ms: 1764870000123 },
        { id: 'b', name: 'undelivered', channel: '/presence-lobby', consumer: 'bob', message_id: '18446744073709551615', time_ms: 1764870000124 },
        { id: 'c', name: 'consumer_disconnected', consumer: 'carol', time_ms: 1764870000125 },
        { id: 'd', name: 'channel_vacated', channel: '/presence-x', time_ms: 1764870000126 },
      ],
    }))
    const events = verifyEvents(body, signature(body), { secret: SECRET })
    assert.deepEqual(events.map((e) => e.id), ['a', 'b', 'c', 'd'])
    const [joined, undelivered, gone, vacated] = events
    assert.deepEqual(joined.info, { name: 'Zoë', n: [1, 2] })
    assert.deepEqual(joined.time, new Date(1764870000123))
    assert.deepEqual([undelivered.consumer, undelivered.messageId, undelivered.info], ['bob', '18446744073709551615', null])
    assert.deepEqual([gone.channel, gone.consumer], [null, 'carol'])
    assert.deepEqual([vacated.channel, vacated.consumer], ['/presence-x', null])
    // The same bytes as a string, a Uint8Array or an ArrayBuffer; a Buffer secret.
    for (const same of [body.toString(), new Uint8Array(body), body.buffer.slice(body.byteOffset, body.byteOffset + body.length)]) {
      assert.deepEqual(verifyEvents(same, signature(body), { secret: SECRET }), events)
    }
    assert.deepEqual(verifyEvents(body, signature(body), { secret: Buffer.from(SECRET) }), events)
    assert.deepEqual(verifyEvents('{"events":[]}', signature('{"events":[]}'), { secret: SECRET }), [])
  })

  test('the secret from PUSH_EVENTS_SECRET, then PUSH_SECRET', () => {
    const header = signature(BODY)
    withEnv(noEnvSecret, () => {
      assertThrows(() => verifyEvents(BODY, header), InvalidConfigError, 'no secret')
      assert.throws(() => verifyEvents(BODY, header), /PUSH_EVENTS_SECRET/)
    })
    withEnv({ PUSH_EVENTS_SECRET: undefined, PUSH_SECRET: SECRET }, () => {
      assert.deepEqual(verifyEvents(BODY, header).map((e) => e.id), ['e1'])
    })
    withEnv({ PUSH_EVENTS_SECRET: 'events-only', PUSH_SECRET: SECRET }, () => {
      assertThrows(() => verifyEvents(BODY, header), UnauthorizedError, 'PUSH_EVENTS_SECRET comes first')
      assert.deepEqual(verifyEvents(BODY, signature(BODY, { secret: 'events-only' })).map((e) => e.id), ['e1'])
    })
    assertThrows(() => verifyEvents(BODY, header, { secret: '' }), InvalidConfigError, 'an empty secret')
  })

  test('refuses a missing, wrong or old signature with UnauthorizedError', () => {
    const now = nowSeconds()
    const header = signature(BODY)
    const refused = {
      'no header': [BODY, undefined],
      'null header': [BODY, null],
      'another secret': [BODY, signature(BODY, { secret: 'other' })],
      'a changed body': [BODY.replace('alice', 'mallory'), header],
      'too old': [BODY, signature(BODY, { at: now - 301 })],
      'from the future': [BODY, signature(BODY, { at: now + 301 })],
      'no timestamp': [BODY, header.split(',')[1]],
      'no v1': [BODY, header.split(',')[0]],
      garbage: [BODY, 'garbage'],
      empty: [BODY, ''],
    }
    for (const [what, [body, sig]] of Object.entries(refused)) {
      assertThrows(() => verifyEvents(body, sig, { secret: SECRET }), UnauthorizedError, what)
    }
    assert.throws(() => verifyEvents(BODY, undefined, { secret: SECRET }), /Push-Signature/)
    // Within a wider tolerance; any v1 of several (a server rolling its secret signs with both).
    assert.equal(verifyEvents(BODY, signature(BODY, { at: now - 301 }), { secret: SECRET, tolerance: 400 }).length, 1)
    const rolled = `${signature(BODY, { secret: 'old' })},v1=${header.split('v1=')[1]}`
    assert.equal(verifyEvents(BODY, rolled, { secret: SECRET }).length, 1)
  })

  test('a signed body that is not an events batch is a BadRequestError', () => {
    for (const body of ['{}', '{"x":1}', '[]', 'not json', '{"events":[{"id":"e"}]}']) {
      assertThrows(() => verifyEvents(body, signature(body), { secret: SECRET }), BadRequestError, body)
    }
  })

  test('wrong argument types are TypeErrors, a negative tolerance InvalidConfigError', () => {
    const header = signature(BODY)
    assertThrows(() => verifyEvents(BODY, header, { secret: SECRET, tolerance: -1 }), InvalidConfigError, 'negative')
    assertThrows(() => verifyEvents(BODY, header, { secret: SECRET, tolerance: NaN }), InvalidConfigError, 'NaN')
    for (const body of [undefined, null, 12, {}]) assert.throws(() => verifyEvents(body, header, { secret: SECRET }), TypeError)
    assert.throws(() => verifyEvents(BODY, 12, { secret: SECRET }), TypeError)
    assert.throws(() => verifyEvents(BODY, header, { secret: 12 }), TypeError)
    assert.throws(() => verifyEvents(BODY, header, { secret: SECRET, tolerance: '300' }), TypeError)
    assert.throws(() => verifyEvents(BODY, header, 'secret'), TypeError)
  })

  test('is exported by the CommonJS entry too', () => {
    const cjs = createRequire(import.meta.url)('../index.js')
    assert.equal(cjs.verifyEvents, verifyEvents)
  })
})
