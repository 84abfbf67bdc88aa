// Turbo Streams and htmx (issue 31, docs/HOTWIRE_HTMX.md): the exact fragments and tags, their
// escaping and every refusal; subscribeUrl's base URL, query and token, used against a real
// server started with --auth token; and what the broadcasts and htmx publishes deliver, read
// back through the server's history and a subscriber's SSE stream.
import assert from 'node:assert/strict'
import { createRequire } from 'node:module'
import { after, before, describe, test } from 'node:test'

import * as push from '../index.mjs'
import { sse, startServer, waitFor } from './helpers.mjs'

const { turbo, htmx, subscribeUrl, Producer, Token, PushError, InvalidChannelError, InvalidConfigError, BadRequestError } = push
const SECRET = 's3cret'
const TURBO_TYPE = 'text/vnd.turbo-stream.html'
const HTML_TYPE = 'text/html; charset=utf-8'

/** Runs `fn` with the environment variables set as given (undefined unsets), then puts them back. */
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
const noUrlEnv = { PUSH_PUBLIC_URL: undefined, PUSH_URL: undefined }

/** The claims of a token, decoded only to look at them (sdk-core signed it). */
function claimsOf(token) {
  const [channel, consumer, expiresAt] = Buffer.from(token.split('.')[1], 'base64url').toString('utf8').split('\n')
  return { channel, consumer, expiresAt: Number(expiresAt) }
}

/** What an HTML attribute value holds once a browser has read it (the helpers escape & < > " '). */
function unescapeAttribute(value) {
  const entities = { '&amp;': '&', '&lt;': '<', '&gt;': '>', '&quot;': '"', '&#39;': "'" }
  return value.replace(/&(amp|lt|gt|quot|#39);/g, (e) => entities[e])
}

/** Path and query of a subscribe URL (the tests' server is its base). */
const pathOf = (url) => url.slice(new URL(url).origin.length)

function assertTypeError(fn, pattern) {
  assert.throws(fn, (err) => {
    assert.equal(err.constructor, TypeError, `${err?.name}: ${err?.message}`)
    assert.match(err.message, pattern)
    return true
  })
}

function assertPushError(fn, Cls, pattern) {
  assert.throws(fn, (err) => {
    assert.ok(err instanceof Cls, `${err?.name}: ${err?.message} is not a ${Cls.name}`)
    assert.ok(err instanceof PushError)
    assert.equal(err.code, Cls.code)
    if (pattern) assert.match(err.message, pattern)
    return true
  })
}

/** Resolves once `stream.text` (an SSE read) matches `pattern`; returns the text. */
const seen = (stream, pattern, what) => waitFor(() => pattern.test(stream.text) && stream.text, what)

describe('turbo.stream', () => {
  test('every action, with target or targets, html or text, as the exact fragment', () => {
    for (const action of ['append', 'prepend', 'replace', 'update', 'before', 'after']) {
      assert.equal(turbo.stream(action, { target: 'messages', html: '<li>hi</li>' }),
        `<turbo-stream action="${action}" target="messages"><template><li>hi</li></template></turbo-stream>`)
      assert.equal(turbo.stream(action, { targets: '.message', text: 'hi' }),
        `<turbo-stream action="${action}" targets=".message"><template>hi</template></turbo-stream>`)
      assert.equal(turbo.stream(action, { target: 'm1', html: '' }),
        `<turbo-stream action="${action}" target="m1"><template></template></turbo-stream>`, 'empty content is allowed')
      assert.equal(turbo.stream(action, { target: 'm1', text: '' }),
        `<turbo-stream action="${action}" target="m1"><template></template></turbo-stream>`)
    }
    assert.equal(turbo.stream('remove', { target: 'm1' }), '<turbo-stream action="remove" target="m1"></turbo-stream>')
    assert.equal(turbo.stream('remove', { targets: '.old' }), '<turbo-stream action="remove" targets=".old"></turbo-stream>')
    assert.equal(turbo.stream('refresh'), '<turbo-stream action="refresh"></turbo-stream>')
    assert.equal(turbo.stream('refresh', {}), '<turbo-stream action="refresh"></turbo-stream>')
    assert.equal(turbo.stream('refresh', { requestId: 'r-1' }), '<turbo-stream action="refresh" request-id="r-1"></turbo-stream>')
    assert.equal(turbo.stream('replace', { target: 'm1', html: '<p>x</p>', method: 'morph' }),
      '<turbo-stream action="replace" target="m1" method="morph"><template><p>x</p></template></turbo-stream>')
    assert.equal(turbo.stream('update', { targets: '.m', text: 'x', method: 'morph' }),
      '<turbo-stream action="update" targets=".m" method="morph"><template>x</template></turbo-stream>')
    // null and undefined are "not given", as everywhere in the package.
    assert.equal(turbo.stream('append', { target: 'm', targets: null, html: 'x', text: undefined, method: null, requestId: null }),
      '<turbo-stream action="append" target="m"><template>x</template></turbo-stream>')
  })

  test('escapes text and attribute values (& < > " \'), and inserts html as it is', () => {
    const nasty = `<script>alert("x") & 'y'</script>`
    const escaped = '&lt;script&gt;alert(&quot;x&quot;) &amp; &#39;y&#39;&lt;/script&gt;'
    assert.equal(turbo.stream('append', { target: 'm', text: nasty }),
      `<turbo-stream action="append" target="m"><template>${escaped}</template></turbo-stream>`)
    assert.equal(turbo.stream('append', { target: 'm', html: nasty }),
      `<turbo-stream action="append" target="m"><template>${nasty}</template></turbo-stream>`)
    assert.equal(turbo.stream('remove', { targets: `li[data-x="a&b"] > 'c'` }),
      '<turbo-stream action="remove" targets="li[data-x=&quot;a&amp;b&quot;] &gt; &#39;c&#39;"></turbo-stream>')
    assert.equal(turbo.stream('remove', { target: 'x" onclick="evil()' }),
      '<turbo-stream action="remove" target="x&quot; onclick=&quot;evil()"></turbo-stream>')
    assert.equal(turbo.stream('refresh', { requestId: '<"&\'>' }),
      '<turbo-stream action="refresh" request-id="&lt;&quot;&amp;&#39;&gt;"></turbo-stream>')
    assert.equal(turbo.stream('update', { target: 'é', text: 'naïve — ok' }),
      '<turbo-stream action="update" target="é"><template>naïve — ok</template></turbo-stream>', 'other characters stay as they are')
  })

  test('refuses bad input with a TypeError that says what is allowed', () => {
    const s = (action, options) => () => turbo.stream(action, options)
    assertTypeError(s('insert', { target: 'm', html: '' }), /^turbo\.stream: the action must be one of append, prepend, replace, update, remove, before, after, refresh; got "insert"$/)
    assertTypeError(s('Append', { target: 'm', html: '' }), /one of append, .*got "Append"/)
    assertTypeError(s(undefined), /the action must be one of .*got undefined/)
    assertTypeError(s(7), /the action must be one of .*got number/)
    assertTypeError(s('append', 'messages'), /^turbo\.stream\("append"\) options must be an object, got string$/)
    assertTypeError(s('append', ['m']), /options must be an object, got an array/)
    assertTypeError(s('append', { traget: 'm', html: '' }), /^turbo\.stream\("append"\): unknown option "traget"; the options are target, targets, html, text, method, requestId$/)
    assertTypeError(s('append', { target: 'm', html: '', to: '/a' }), /unknown option "to"/)

    for (const action of ['append', 'prepend', 'replace', 'update', 'remove', 'before', 'after']) {
      const content = action === 'remove' ? {} : { html: '' }
      assertTypeError(s(action, content), new RegExp(`^turbo\\.stream\\("${action}"\\) needs options\\.target \\(an element id\\) or options\\.targets \\(a CSS selector\\)$`))
      assertTypeError(s(action), /needs options\.target \(an element id\) or options\.targets/)
      assertTypeError(s(action, { target: 'a', targets: '.a', ...content }), /takes options\.target or options\.targets, not both$/)
      assertTypeError(s(action, { target: '', ...content }), /options\.target \(an element id\) must be a non-empty string, got ""$/)
      assertTypeError(s(action, { targets: '', ...content }), /options\.targets \(a CSS selector\) must be a non-empty string, got ""$/)
      assertTypeError(s(action, { target: 42, ...content }), /options\.target \(an element id\) must be a non-empty string, got number$/)
      assertTypeError(s(action, { target: 'm', requestId: 'r', ...content }), /options\.requestId is for the refresh action only$/)
    }
    for (const action of ['append', 'prepend', 'replace', 'update', 'before', 'after']) {
      assertTypeError(s(action, { target: 'm' }), new RegExp(`^turbo\\.stream\\("${action}"\\) needs options\\.html \\(markup, inserted as is\\) or options\\.text \\(HTML-escaped first\\); an empty string is allowed$`))
      assertTypeError(s(action, { target: 'm', html: '', text: '' }), /takes options\.html or options\.text, not both$/)
      assertTypeError(s(action, { target: 'm', html: Buffer.from('<p>') }), /options\.html must be a string, got object$/)
      assertTypeError(s(action, { target: 'm', text: 3 }), /options\.text must be a string, got number$/)
    }
    assertTypeError(s('remove', { target: 'm', html: '<p>' }), /^turbo\.stream\("remove"\) takes no html or text: it removes the target$/)
    assertTypeError(s('remove', { target: 'm', text: '' }), /takes no html or text: it removes the target/)
    assertTypeError(s('refresh', { target: 'm' }), /^turbo\.stream\("refresh"\) takes no target or targets: a refresh reloads the whole page$/)
    assertTypeError(s('refresh', { targets: '.m' }), /takes no target or targets/)
    assertTypeError(s('refresh', { html: '' }), /^turbo\.stream\("refresh"\) takes no html or text: a refresh has no content$/)
    assertTypeError(s('refresh', { text: 'x' }), /takes no html or text/)
    assertTypeError(s('refresh', { requestId: '' }), /options\.requestId must be a non-empty string, got ""$/)
    assertTypeError(s('refresh', { requestId: 1 }), /options\.requestId must be a non-empty string, got number$/)
    for (const action of ['append', 'prepend', 'remove', 'before', 'after', 'refresh']) {
      const options = action === 'refresh' ? {} : action === 'remove' ? { target: 'm' } : { target: 'm', html: '' }
      assertTypeError(s(action, { ...options, method: 'morph' }), /options\.method "morph" is for replace and update only$/)
    }
    assertTypeError(s('replace', { target: 'm', html: '', method: 'replace' }), /options\.method must be "morph", got "replace"$/)
    assertTypeError(s('update', { target: 'm', html: '', method: true }), /options\.method must be "morph", got boolean$/)
  })
})

describe('subscribeUrl', () => {
  test('the base URL: options.url, else PUSH_PUBLIC_URL, else PUSH_URL, else http://127.0.0.1:4000; a trailing / dropped', () => {
    const url = (env, options) => withEnv(env, () => subscribeUrl('/rooms/1', { token: false, ...options }))
    const both = { PUSH_PUBLIC_URL: 'https://push.example.com/', PUSH_URL: 'http://push.internal:4000' }
    assert.equal(url(both, { url: 'https://given.example//' }), 'https://given.example/rooms/1')
    assert.equal(url(both), 'https://push.example.com/rooms/1')
    assert.equal(url({ ...both, PUSH_PUBLIC_URL: undefined }), 'http://push.internal:4000/rooms/1')
    assert.equal(url(noUrlEnv), 'http://127.0.0.1:4000/rooms/1')
    // Values are trimmed, and an empty or blank one counts as none (as the core reads PUSH_URL).
    assert.equal(url({ ...both, PUSH_PUBLIC_URL: '' }), 'http://push.internal:4000/rooms/1')
    assert.equal(url({ ...both, PUSH_PUBLIC_URL: ' \t' }), 'http://push.internal:4000/rooms/1')
    assert.equal(url({ PUSH_PUBLIC_URL: '', PUSH_URL: '' }, { url: '' }), 'http://127.0.0.1:4000/rooms/1')
    assert.equal(url({ PUSH_PUBLIC_URL: ' ', PUSH_URL: ' ' }, { url: '  ' }), 'http://127.0.0.1:4000/rooms/1')
    assert.equal(url(both, { url: ' http://localhost:9/ \n' }), 'http://localhost:9/rooms/1')
    assert.equal(url(both, { url: null }), 'https://push.example.com/rooms/1')
    // A path is kept: a server behind a reverse proxy's prefix.
    assert.equal(url(noUrlEnv, { url: 'https://example.com/push/' }), 'https://example.com/push/rooms/1')
    assert.equal(url(noUrlEnv, { url: 'HTTP://EXAMPLE.COM' }), 'HTTP://EXAMPLE.COM/rooms/1')
  })

  test('a base that is not an http(s) URL without query is an InvalidConfigError naming where it came from', () => {
    for (const base of ['push.example.com', '/push', 'ftp://push.example.com', 'https://push.example.com/?a=1', 'https://push.example.com/#top', 'https://', 'https://a b']) {
      assertPushError(() => subscribeUrl('/a', { token: false, url: base }), InvalidConfigError,
        new RegExp(`^the subscribe URL's base \\(options\\.url ${JSON.stringify(base).replace(/[.?/]/g, '\\$&')}\\) is not an http:// or https:// URL`))
    }
    withEnv({ PUSH_PUBLIC_URL: 'push.example.com' }, () => {
      assertPushError(() => subscribeUrl('/a', { token: false }), InvalidConfigError, /\(PUSH_PUBLIC_URL "push\.example\.com"\).*set PUSH_PUBLIC_URL/)
    })
    withEnv({ PUSH_PUBLIC_URL: undefined, PUSH_URL: 'amqp://guest:guest@rabbit:5672/%2f' }, () => {
      assertPushError(() => subscribeUrl('/a', { token: false }), InvalidConfigError, /\(PUSH_URL "amqp:/)
    })
  })

  test('the query: gap, consumer, token, in that order, percent-encoded; the token signed for exactly that channel', () => {
    withEnv({ ...noUrlEnv, PUSH_SECRET: undefined }, () => {
      const url = subscribeUrl('/rooms/1', { gap: 'turbo-refresh', consumer: "al ice&=!'()*é", secret: SECRET, expiresIn: 60 })
      const match = url.match(/^http:\/\/127\.0\.0\.1:4000\/rooms\/1\?gap=turbo-refresh&consumer=al%20ice%26%3D%21%27%28%29%2A%C3%A9&token=(push1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+)$/)
      assert.ok(match, url)
      const claims = claimsOf(match[1])
      assert.deepEqual([claims.channel, claims.consumer], ['/rooms/1', "al ice&=!'()*é"])
      assert.ok(Math.abs(claims.expiresAt - (Date.now() / 1000 + 60)) < 5, String(claims.expiresAt))
      // The same token Token.sign gives for the same inputs.
      const expiresAt = claims.expiresAt
      assert.equal(match[1], Token.sign({ channel: '/rooms/1', consumer: "al ice&=!'()*é", expiresAt, secret: SECRET }))

      const plain = subscribeUrl('/rooms/1', { secret: SECRET })
      const { channel, consumer, expiresAt: defaultExpiry } = claimsOf(new URL(plain).searchParams.get('token'))
      assert.deepEqual([channel, consumer], ['/rooms/1', ''])
      assert.ok(Math.abs(defaultExpiry - (Date.now() / 1000 + 3600)) < 5, 'an hour by default')
      assert.match(plain, /^http:\/\/127\.0\.0\.1:4000\/rooms\/1\?token=push1\./)

      assert.equal(subscribeUrl('/rooms/1', { token: false }), 'http://127.0.0.1:4000/rooms/1')
      assert.equal(subscribeUrl('/rooms/1', { token: false, gap: 'event', consumer: 'bob' }), 'http://127.0.0.1:4000/rooms/1?gap=event&consumer=bob')
      assert.equal(subscribeUrl('/a/b.c~d_e-f:g@h', { token: false, url: 'http://h:1' }), 'http://h:1/a/b.c~d_e-f:g@h', 'every channel character is fine in a path')
      assert.match(subscribeUrl('/a', { secret: Buffer.from(SECRET) }), /\?token=push1\./)
    })
    withEnv({ ...noUrlEnv, PUSH_SECRET: SECRET }, () => {
      const url = subscribeUrl('/rooms/2', { consumer: 'bob' })
      assert.equal(url, `http://127.0.0.1:4000/rooms/2?consumer=bob&token=${new URL(url).searchParams.get('token')}`)
      assert.equal(claimsOf(new URL(url).searchParams.get('token')).channel, '/rooms/2', 'PUSH_SECRET signs it')
    })
  })

  test('refusals: InvalidChannelError, InvalidConfigError (no secret, bad consumer or expiry), TypeError for bad options', () => {
    withEnv({ PUSH_SECRET: undefined }, () => {
      for (const bad of ['', 'rooms', '/a b', '/a//b', '/a/', '/a/..', '/_push/health', '/rooms/*', '/*', `/${'x'.repeat(300)}`]) {
        assertPushError(() => subscribeUrl(bad, { secret: SECRET }), InvalidChannelError, /^channel name /)
        assertPushError(() => subscribeUrl(bad, { token: false }), InvalidChannelError, /^channel name /)
      }
      assertPushError(() => subscribeUrl('/rooms/*', { token: false }), InvalidChannelError,
        /^channel name "\/rooms\/\*" has the character '\*' at byte 7; allowed are A-Z a-z 0-9/)

      const noSecret = /^subscribeUrl signs a subscriber token for \/a and needs the server's secret: set PUSH_SECRET \(or pass options\.secret\), or pass token: false for a server without --auth token$/
      assertPushError(() => subscribeUrl('/a'), InvalidConfigError, noSecret)
      assertPushError(() => subscribeUrl('/a', { secret: '' }), InvalidConfigError, noSecret)
      assertPushError(() => subscribeUrl('/a', { secret: Buffer.alloc(0) }), InvalidConfigError, noSecret)
      withEnv({ PUSH_SECRET: '' }, () => assertPushError(() => subscribeUrl('/a'), InvalidConfigError, noSecret))
      assertPushError(() => subscribeUrl('/a', { secret: SECRET, consumer: '' }), InvalidConfigError, /^the consumer id is empty$/)
      assertPushError(() => subscribeUrl('/a', { token: false, consumer: '' }), InvalidConfigError, /^the consumer id is empty$/)
      assertPushError(() => subscribeUrl('/a', { token: false, consumer: 'a\nb' }), InvalidConfigError, /^the consumer id has a line break$/)
      assertPushError(() => subscribeUrl('/a', { secret: SECRET, expiresIn: -1 }), InvalidConfigError, /expires_in/)

      assertTypeError(() => subscribeUrl(), /^subscribeUrl: the channel must be a string such as '\/rooms\/1', got undefined$/)
      assertTypeError(() => subscribeUrl(42), /the channel must be a string .*got number$/)
      assertTypeError(() => subscribeUrl('/a', 'secret'), /^subscribeUrl options must be an object, got string$/)
      assertTypeError(() => subscribeUrl('/a', { token: false, expires: 60 }),
        /^subscribeUrl: unknown option "expires"; the options are consumer, expiresIn, token, secret, url, gap$/)
      assertTypeError(() => subscribeUrl('/a', { token: 'no' }), /^subscribeUrl: options\.token must be true or false, got "no"$/)
      assertTypeError(() => subscribeUrl('/a', { token: false, gap: 'refresh' }), /^subscribeUrl: options\.gap must be "event" or "turbo-refresh", got "refresh"$/)
      assertTypeError(() => subscribeUrl('/a', { token: false, consumer: 7 }), /^subscribeUrl: options\.consumer must be a string, got number$/)
      assertTypeError(() => subscribeUrl('/a', { token: false, url: new URL('http://x') }), /options\.url must be a string, got object$/)
      assertTypeError(() => subscribeUrl('/a', { token: false, secret: SECRET }), /^subscribeUrl: options\.secret and options\.expiresIn sign the token; with token: false there is none$/)
      assertTypeError(() => subscribeUrl('/a', { token: false, expiresIn: 60 }), /with token: false there is none/)
      assertTypeError(() => subscribeUrl('/a', { secret: SECRET, expiresIn: '1h' }), /options\.expiresIn must be a number of seconds/)
      assertTypeError(() => subscribeUrl('/a', { secret: 7 }), /options\.secret must be a string, Buffer/)
    })
  })
})

describe('tags', () => {
  test('turbo.streamSourceTag: <turbo-stream-source> with gap=turbo-refresh by default, the src escaped for the attribute', () => {
    withEnv({ ...noUrlEnv, PUSH_SECRET: SECRET }, () => {
      const tag = turbo.streamSourceTag('/rooms/1', { consumer: 'a"b' })
      const match = tag.match(/^<turbo-stream-source src="([^"]*)"><\/turbo-stream-source>$/)
      assert.ok(match, tag)
      assert.match(match[1], /^http:\/\/127\.0\.0\.1:4000\/rooms\/1\?gap=turbo-refresh&amp;consumer=a%22b&amp;token=push1\.[\w.-]+$/)
      const src = unescapeAttribute(match[1])
      assert.equal(claimsOf(new URL(src).searchParams.get('token')).consumer, 'a"b')

      assert.equal(turbo.streamSourceTag('/rooms/1', { token: false, url: 'https://push.example.com' }),
        '<turbo-stream-source src="https://push.example.com/rooms/1?gap=turbo-refresh"></turbo-stream-source>')
      assert.equal(turbo.streamSourceTag('/rooms/1', { token: false, gap: 'turbo-refresh' }),
        '<turbo-stream-source src="http://127.0.0.1:4000/rooms/1?gap=turbo-refresh"></turbo-stream-source>')
      assert.equal(typeof tag, 'string', 'a plain string')
      assert.equal(turbo.streamSourceTag('/rooms/1', { token: false, gap: null }),
        '<turbo-stream-source src="http://127.0.0.1:4000/rooms/1?gap=turbo-refresh"></turbo-stream-source>', 'null: the default')
      assert.equal(turbo.streamSourceTag('/rooms/1', { token: false, gap: 'event' }),
        '<turbo-stream-source src="http://127.0.0.1:4000/rooms/1?gap=event"></turbo-stream-source>', 'the default can be overridden')
      assertTypeError(() => turbo.streamSourceTag('/rooms/1', { token: false, gap: 'reload' }),
        /^turbo\.streamSourceTag: options\.gap must be "event" or "turbo-refresh", got "reload"$/)
      assertTypeError(() => turbo.streamSourceTag('/rooms/1', { target: 'x' }), /^turbo\.streamSourceTag: unknown option "target"/)
      assertTypeError(() => turbo.streamSourceTag(), /^turbo\.streamSourceTag: the channel must be a string/)
      assertPushError(() => turbo.streamSourceTag('rooms'), InvalidChannelError)
      withEnv({ PUSH_SECRET: undefined }, () => {
        assertPushError(() => turbo.streamSourceTag('/rooms/1'), InvalidConfigError, /^turbo\.streamSourceTag signs a subscriber token .*or pass token: false/)
      })
    })
  })

  test('htmx.sseAttributes: hx-ext="sse" sse-connect="URL", the gap left at the default', () => {
    withEnv({ ...noUrlEnv, PUSH_SECRET: SECRET }, () => {
      assert.equal(htmx.sseAttributes('/alerts', { token: false }), 'hx-ext="sse" sse-connect="http://127.0.0.1:4000/alerts"')
      assert.equal(htmx.sseAttributes('/alerts', { token: false, consumer: 'x y', url: 'https://push.example.com/' }),
        'hx-ext="sse" sse-connect="https://push.example.com/alerts?consumer=x%20y"')
      const attrs = htmx.sseAttributes('/alerts', { consumer: 'bob' })
      const match = attrs.match(/^hx-ext="sse" sse-connect="(http:\/\/127\.0\.0\.1:4000\/alerts\?consumer=bob&amp;token=push1\.[\w.-]+)"$/)
      assert.ok(match, attrs)
      assert.deepEqual(claimsOf(new URL(unescapeAttribute(match[1])).searchParams.get('token')).channel, '/alerts')
      assert.equal(htmx.sseAttributes('/alerts', { token: false, gap: 'event' }), 'hx-ext="sse" sse-connect="http://127.0.0.1:4000/alerts?gap=event"')
      assertTypeError(() => htmx.sseAttributes('/alerts', { token: false, swap: 'x' }), /^htmx\.sseAttributes: unknown option "swap"/)
      assertPushError(() => htmx.sseAttributes('/alerts/*', { token: false }), InvalidChannelError)
      withEnv({ PUSH_SECRET: undefined }, () => {
        assertPushError(() => htmx.sseAttributes('/alerts'), InvalidConfigError, /^htmx\.sseAttributes signs a subscriber token/)
      })
    })
  })

  test('the same names and objects from require and import; the namespaces are frozen', () => {
    const cjs = createRequire(import.meta.url)('../index.js')
    assert.equal(cjs.turbo, turbo)
    assert.equal(cjs.htmx, htmx)
    assert.equal(cjs.subscribeUrl, subscribeUrl)
    assert.deepEqual(Object.keys(turbo).sort(),
      ['after', 'append', 'before', 'broadcast', 'prepend', 'refresh', 'remove', 'replace', 'stream', 'streamSourceTag', 'update'])
    assert.deepEqual(Object.keys(htmx).sort(), ['publish', 'sseAttributes'])
    assert.ok(Object.isFrozen(turbo) && Object.isFrozen(htmx))
    assert.equal(turbo.append.name, 'append')
    assert.equal(htmx.publish.name, 'publish')
  })
})

describe('against a push server with --auth token', () => {
  let server
  let producer
  before(async () => {
    server = await startServer({ auth: 'token', secret: SECRET })
    producer = new Producer({ url: server.url })
  })
  after(async () => {
    producer?.close()
    await server?.stop()
  })

  /** GET of a subscribe URL as an EventSource makes it (Accept: text/event-stream); the status and the stream. */
  const subscribe = (url, headers) => sse(server.url, pathOf(url), headers)

  test('a subscribe URL\'s token opens exactly its channel, for exactly its consumer', async () => {
    const url = subscribeUrl('/rooms/1', { url: server.url, secret: SECRET, consumer: 'alice' })
    const stream = await subscribe(url)
    assert.equal(stream.status, 200)
    const id = await producer.publish('hello alice').to('/rooms/1')
    await seen(stream, /data: hello alice/, 'the message on the subscribe URL')
    assert.match(stream.text, new RegExp(`id: ${id}\ndata: hello alice\n\n`))
    await stream.close()

    const token = new URL(url).searchParams.get('token')
    const refused = async (path, status) => {
      const res = await fetch(`${server.url}${path}`, { headers: { accept: 'text/event-stream' } })
      await res.body?.cancel()
      assert.equal(res.status, status, path)
    }
    await refused(`/rooms/2?consumer=alice&token=${token}`, 403) // another channel
    await refused(`/rooms/1/more?consumer=alice&token=${token}`, 403) // nor one below it
    await refused(`/rooms/1?consumer=bob&token=${token}`, 403) // another consumer
    await refused(`/rooms/1?token=${token}`, 403) // no consumer
    await refused('/rooms/1', 401) // no token
    const wrongSecret = new URL(subscribeUrl('/rooms/1', { url: server.url, secret: 'other' })).searchParams.get('token')
    await refused(`/rooms/1?token=${wrongSecret}`, 401)

    const anyone = await subscribe(subscribeUrl('/rooms/1', { url: server.url, secret: SECRET }))
    assert.equal(anyone.status, 200, 'a token without a consumer opens the channel without one')
    await anyone.close()
  })

  test('the Turbo tag\'s src and the htmx attribute\'s URL, as a browser reads them, subscribe', async () => {
    const tag = turbo.streamSourceTag('/rooms/tag', { url: server.url, secret: SECRET, consumer: 'alice' })
    const src = unescapeAttribute(tag.match(/src="([^"]*)"/)[1])
    const turboStream = await subscribe(src)
    assert.equal(turboStream.status, 200)
    const attrs = htmx.sseAttributes('/rooms/htmx', { url: server.url, secret: SECRET })
    const connect = unescapeAttribute(attrs.match(/sse-connect="([^"]*)"/)[1])
    const htmxStream = await subscribe(connect)
    assert.equal(htmxStream.status, 200)
    await turbo.append({ to: '/rooms/tag', target: 'messages', html: '<li>1</li>', producer })
    await htmx.publish('<li>2</li>', { to: '/rooms/htmx', event: 'chat', producer })
    await seen(turboStream, /<li>1<\/li>/, 'the Turbo stream message')
    await seen(htmxStream, /<li>2<\/li>/, 'the htmx message')
    await Promise.all([turboStream.close(), htmxStream.close()])
  })

  test('every broadcast arrives as a plain message event carrying the fragment, with the Turbo Streams content type', async () => {
    const channel = '/rooms/broadcast'
    const stream = await subscribe(subscribeUrl(channel, { url: server.url, secret: SECRET, gap: 'turbo-refresh' }))
    assert.equal(stream.status, 200)
    const sent = [
      [await turbo.append({ to: channel, target: 'messages', html: '<li id="m1">one</li>', producer }),
        turbo.stream('append', { target: 'messages', html: '<li id="m1">one</li>' })],
      [await turbo.prepend({ to: channel, targets: '#messages', text: 'a < b', producer }),
        turbo.stream('prepend', { targets: '#messages', text: 'a < b' })],
      [await turbo.replace({ to: channel, target: 'm1', html: '<li id="m1">uno</li>', method: 'morph', producer }),
        turbo.stream('replace', { target: 'm1', html: '<li id="m1">uno</li>', method: 'morph' })],
      [await turbo.update({ to: channel, target: 'm1', text: 'eins', producer }), turbo.stream('update', { target: 'm1', text: 'eins' })],
      [await turbo.before({ to: channel, target: 'm1', html: '<li>zero</li>', producer }), turbo.stream('before', { target: 'm1', html: '<li>zero</li>' })],
      [await turbo.after({ to: channel, target: 'm1', html: '<li>two</li>', producer }), turbo.stream('after', { target: 'm1', html: '<li>two</li>' })],
      [await turbo.remove({ to: channel, target: 'm1', producer }), turbo.stream('remove', { target: 'm1' })],
      [await turbo.refresh({ to: channel, requestId: 'r1', producer }), turbo.stream('refresh', { requestId: 'r1' })],
      [await turbo.broadcast('update', { to: channel, targets: '.count', text: '3', producer, idempotencyKey: 'count-3' }),
        turbo.stream('update', { targets: '.count', text: '3' })],
    ]
    const again = await turbo.broadcast('update', { to: channel, targets: '.count', text: '3', producer, idempotencyKey: 'count-3' })
    assert.equal(again, sent.at(-1)[0], 'the idempotency key makes the retry the same message')
    for (const [id] of sent) assert.match(id, /^\d+$/)

    const history = await producer.channel(channel).history()
    assert.deepEqual(history.messages.map((m) => [m.id, m.text, m.contentType, m.event]),
      sent.map(([id, fragment]) => [id, fragment, TURBO_TYPE, null]))

    const expected = sent.map(([id, fragment]) => `id: ${id}\ndata: ${fragment}\n\n`).join('')
    await seen(stream, new RegExp(`id: ${sent.at(-1)[0]}\n`), 'the last broadcast on the stream')
    assert.ok(stream.text.endsWith(expected), stream.text)
    assert.doesNotMatch(stream.text, /event:/, 'Turbo reads plain message events')
    await stream.close()
  })

  test('a broadcast to several channels, and through the default producer (PUSH_URL)', async () => {
    const id = await withEnv({ PUSH_URL: server.url, PUSH_PUBLISH_KEY: undefined },
      () => turbo.broadcast('append', { to: ['/multi/a', '/multi/b'], target: 'log', text: 'both' }))
    for (const channel of ['/multi/a', '/multi/b']) {
      const { messages } = await producer.channel(channel).history()
      assert.deepEqual(messages.map((m) => [m.id, m.text, m.contentType]),
        [[id, '<turbo-stream action="append" target="log"><template>both</template></turbo-stream>', TURBO_TYPE]])
    }
    const viaDefault = await withEnv({ PUSH_URL: server.url }, () => turbo.remove({ to: '/multi/a', target: 'x' }))
    assert.equal((await producer.channel('/multi/a').history({ last: 1 })).messages[0].id, viaDefault)
  })

  test('broadcast refusals reject (never throw): TypeError for bad input, InvalidChannelError from the core', async () => {
    const rejectsWith = async (promise, check) => {
      assert.ok(promise instanceof Promise, 'a Promise, not a throw')
      await assert.rejects(promise, check)
    }
    const typeError = (pattern) => (err) => err.constructor === TypeError && pattern.test(err.message)
    await rejectsWith(turbo.append({ target: 'm', html: '', producer }), typeError(/^turbo\.append needs options\.to: the channel \(or an array of channels\) to publish to$/))
    await rejectsWith(turbo.append(), typeError(/^turbo\.append needs options\.to/))
    await rejectsWith(turbo.append({ to: '/a', html: '', producer }), typeError(/^turbo\.append needs options\.target \(an element id\) or options\.targets/))
    await rejectsWith(turbo.remove({ to: '/a', target: 'm', text: 'x', producer }), typeError(/^turbo\.remove takes no html or text/))
    await rejectsWith(turbo.refresh({ to: '/a', target: 'm', producer }), typeError(/^turbo\.refresh takes no target or targets/))
    await rejectsWith(turbo.append({ to: '/a', target: 'm', html: '', producer: server.url }), typeError(/^turbo\.append: options\.producer must be a Producer, got "http/))
    await rejectsWith(turbo.append({ to: '/a', target: 'm', html: '', event: 'chat', producer }),
      typeError(/^turbo\.append: unknown option "event"; the options are to, producer, idempotencyKey, target, targets, html, text, method, requestId$/))
    await rejectsWith(turbo.broadcast('insert', { to: '/a', target: 'm', html: '', producer }), typeError(/^turbo\.broadcast: the action must be one of append, .*got "insert"$/))
    await rejectsWith(turbo.broadcast('update', { to: '/a', target: 'm', html: '', method: 'swap', producer }), typeError(/^turbo\.broadcast\("update"\): options\.method must be "morph"/))
    await rejectsWith(turbo.append({ to: 7, target: 'm', html: '', producer }), typeError(/channel must be a string/))
    await rejectsWith(turbo.append({ to: 'rooms', target: 'm', html: '', producer }), (err) => err instanceof InvalidChannelError && err.code === 'INVALID_CHANNEL')
    await rejectsWith(turbo.append({ to: '/a', target: 'm', html: '', producer, idempotencyKey: 'no spaces allowed' }),
      (err) => err instanceof BadRequestError && err.code === 'BAD_REQUEST')
  })

  test('htmx.publish: text/html under its event name, which the subscribe URL\'s stream names (event: <name>)', async () => {
    const channel = '/alerts'
    const stream = await subscribe(subscribeUrl(channel, { url: server.url, secret: SECRET, consumer: 'alice' }))
    assert.equal(stream.status, 200)
    const notice = await htmx.publish('<p class="notice">Deploy at 5</p>', { to: channel, event: 'notice', producer })
    const plain = await htmx.publish('<p>no name</p>', { to: channel, producer })
    const namespaced = await htmx.publish('<b>typing…</b>', { to: channel, event: 'status.typing:v1', producer, idempotencyKey: 'typing-1' })
    const viaDefault = await withEnv({ PUSH_URL: server.url }, () => htmx.publish('<i>default</i>', { to: [channel], event: 'chat' }))
    await seen(stream, new RegExp(`id: ${viaDefault}\n`), 'the last htmx message')
    assert.ok(stream.text.endsWith([
      `id: ${notice}\nevent: notice\ndata: <p class="notice">Deploy at 5</p>\n\n`,
      `id: ${plain}\ndata: <p>no name</p>\n\n`,
      `id: ${namespaced}\nevent: status.typing:v1\ndata: <b>typing…</b>\n\n`,
      `id: ${viaDefault}\nevent: chat\ndata: <i>default</i>\n\n`,
    ].join('')), stream.text)
    await stream.close()

    const { messages } = await producer.channel(channel).history()
    assert.deepEqual(messages.map((m) => [m.id, m.contentType, m.event]), [
      [notice, HTML_TYPE, 'notice'], [plain, HTML_TYPE, null], [namespaced, HTML_TYPE, 'status.typing:v1'], [viaDefault, HTML_TYPE, 'chat'],
    ])
  })

  test('htmx.publish refusals: BadRequestError for an event name the server refuses, TypeError for bad input', async () => {
    for (const event of ['gap', 'disconnect', 'open', 'error', 'has space', 'x'.repeat(65), '']) {
      await assert.rejects(htmx.publish('<p>', { to: '/alerts', event, producer }),
        (err) => err instanceof BadRequestError && err.code === 'BAD_REQUEST', `event ${JSON.stringify(event)}`)
    }
    const typeError = (pattern) => (err) => err.constructor === TypeError && pattern.test(err.message)
    await assert.rejects(htmx.publish(Buffer.from('<p>'), { to: '/alerts', producer }), typeError(/^htmx\.publish: the HTML must be a string, got object$/))
    await assert.rejects(htmx.publish('<p>', { event: 'notice', producer }), typeError(/^htmx\.publish needs options\.to/))
    await assert.rejects(htmx.publish('<p>'), typeError(/^htmx\.publish needs options\.to/))
    await assert.rejects(htmx.publish('<p>', { to: '/alerts', event: 7, producer }), typeError(/options\.event must be a string/))
    await assert.rejects(htmx.publish('<p>', { to: '/alerts', swap: 'innerHTML', producer }),
      typeError(/^htmx\.publish: unknown option "swap"; the options are to, event, producer, idempotencyKey$/))
    await assert.rejects(htmx.publish('<p>', { to: '/alerts', producer: {} }), typeError(/^htmx\.publish: options\.producer must be a Producer, got object$/))
    await assert.rejects(htmx.publish('<p>', { to: 'alerts', producer }), InvalidChannelError)
  })
})

describe('a gap on the Turbo tag\'s stream', () => {
  test('arrives as a refresh action in a plain message event, so Turbo reloads the page', async (t) => {
    const server = await startServer({ auth: 'token', secret: SECRET, historySize: 2 })
    t.after(() => server.stop())
    const producer = new Producer({ url: server.url })
    t.after(() => producer.close())
    const channel = '/rooms/gap'
    const first = await turbo.append({ to: channel, target: 'm', text: '1', producer })
    for (const n of [2, 3, 4]) await turbo.append({ to: channel, target: 'm', text: String(n), producer })
    const src = unescapeAttribute(turbo.streamSourceTag(channel, { url: server.url, secret: SECRET }).match(/src="([^"]*)"/)[1])
    // The browser's EventSource resumes with Last-Event-ID; 2 is gone from the history of 2.
    const stream = await sse(server.url, pathOf(src), { 'last-event-id': first })
    assert.equal(stream.status, 200)
    await seen(stream, /<template>4<\/template>/, 'the held messages after the gap')
    assert.match(stream.text, /\ndata: <turbo-stream action="refresh"><\/turbo-stream>\n\n/)
    assert.doesNotMatch(stream.text, /event: gap/)
    await stream.close()
  })
})
