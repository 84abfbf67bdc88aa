'use strict'
// subscribeUrl(channel, options): the URL a browser subscribes to a channel with (an EventSource
// for Turbo's <turbo-stream-source> or htmx's sse-connect), with a subscriber token signed for
// exactly that channel, since an EventSource cannot send an Authorization header.

const { described, given, knownOptions, optionalText } = require('./check.js')

/** Where browsers reach the push server when neither `url` nor the environment says. */
const DEFAULT_URL = 'http://127.0.0.1:4000'
/** How a gap may be announced on a channel's SSE stream (the server's `?gap=`). */
const GAPS = ['event', 'turbo-refresh']
const OPTIONS = ['consumer', 'expiresIn', 'token', 'secret', 'url', 'gap']

/** Percent-encoding of a query value: every UTF-8 byte but RFC 3986's unreserved A-Z a-z 0-9 - . _ ~. */
function escapeQuery(value) {
  let out = ''
  for (const byte of Buffer.from(value, 'utf8')) {
    const ch = String.fromCharCode(byte)
    out += /[A-Za-z0-9\-._~]/.test(ch) ? ch : `%${byte.toString(16).toUpperCase().padStart(2, '0')}`
  }
  return out
}

/**
 * Makes `subscribeUrl` from what it needs of index.js: `Token` (sdk-core's signer),
 * `checkChannel` (sdk-core's channel check, throwing InvalidChannelError) and
 * `InvalidConfigError`.
 */
function makeSubscribeUrl({ Token, checkChannel, InvalidConfigError }) {
  /**
   * The base URL: `url`, else PUSH_PUBLIC_URL (what browsers use), else PUSH_URL, else the
   * default (values trimmed, a blank one counts as none, as the core reads PUSH_URL), without
   * trailing `/`; InvalidConfigError unless it is an http:// or https:// URL without query (a
   * path is kept: a server behind a prefix).
   */
  function baseUrl(url, where) {
    const candidates = [['options.url', optionalText(url, `${where}: options.url`)],
      ['PUSH_PUBLIC_URL', process.env.PUSH_PUBLIC_URL], ['PUSH_URL', process.env.PUSH_URL]]
    const found = candidates.map(([from, value]) => [from, value?.trim()]).find(([, value]) => value)
    if (!found) return DEFAULT_URL
    const [from, value] = found
    if (!/^https?:\/\/[^/?#\s]+(\/[^?#\s]*)?$/i.test(value)) {
      throw new InvalidConfigError(`the subscribe URL's base (${from} ${JSON.stringify(value)}) is not an http:// or https:// `
        + 'URL without query: browsers subscribe over HTTP (set PUSH_PUBLIC_URL to the address browsers use, or pass options.url)')
    }
    return value.replace(/\/+$/, '')
  }

  /** The checks sdk-core makes of a token's consumer id, made without a token too. */
  function consumerOf(consumer, where) {
    if (optionalText(consumer, `${where}: options.consumer`) === undefined) return undefined
    if (consumer === '') throw new InvalidConfigError('the consumer id is empty')
    if (consumer.includes('\n')) throw new InvalidConfigError('the consumer id has a line break')
    return consumer
  }

  /** The URL for `channel`; `where` names the helper in error messages. */
  function urlFor(channel, options, where) {
    if (typeof channel !== 'string') throw new TypeError(`${where}: the channel must be a string such as '/rooms/1', got ${described(channel)}`)
    checkChannel(channel)
    const { consumer, expiresIn, token, secret, url, gap } = knownOptions(options, OPTIONS, where)
    if (given(token) && typeof token !== 'boolean') throw new TypeError(`${where}: options.token must be true or false, got ${described(token)}`)
    if (given(gap) && !GAPS.includes(gap)) {
      throw new TypeError(`${where}: options.gap must be ${GAPS.map((g) => JSON.stringify(g)).join(' or ')}, got ${described(gap)}`)
    }
    consumerOf(consumer, where)
    const base = baseUrl(url, where)
    const signed = token !== false
    if (!signed && (given(secret) || given(expiresIn))) {
      throw new TypeError(`${where}: options.secret and options.expiresIn sign the token; with token: false there is none`)
    }

    const query = []
    if (given(gap)) query.push(['gap', gap])
    if (given(consumer)) query.push(['consumer', consumer])
    if (signed) {
      // An empty secret is no secret (sdk-core would refuse it with a message about the env var).
      const missing = given(secret) ? secret === '' || secret.byteLength === 0 : !process.env.PUSH_SECRET
      if (missing) {
        throw new InvalidConfigError(`${where} signs a subscriber token for ${channel} and needs the server's secret: `
          + 'set PUSH_SECRET (or pass options.secret), or pass token: false for a server without --auth token')
      }
      query.push(['token', Token.sign({ channel, consumer, expiresIn, secret })])
    }
    const search = query.map(([k, v]) => `${k}=${escapeQuery(v)}`).join('&')
    return `${base}${channel}${search ? `?${search}` : ''}`
  }
  /**
   * `subscribeUrl('/rooms/1', { consumer, expiresIn, token, secret, url, gap })`:
   * `<base>/rooms/1?gap=...&consumer=...&token=...` (each part only when it applies).
   */
  const subscribeUrl = (channel, options) => urlFor(channel, options, 'subscribeUrl')
  return { subscribeUrl, urlFor }
}

module.exports = { makeSubscribeUrl }
