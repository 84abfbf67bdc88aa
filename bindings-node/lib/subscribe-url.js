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

/** The base URL: `url`, else PUSH_PUBLIC_URL (what browsers use), else PUSH_URL, else the default. */
function baseUrl(url) {
  const env = (name) => (process.env[name] ? process.env[name] : undefined)
  const base = optionalText(url, 'options.url') ?? env('PUSH_PUBLIC_URL') ?? env('PUSH_URL') ?? DEFAULT_URL
  return base.replace(/\/+$/, '')
}

/**
 * Makes `subscribeUrl` from what it needs of index.js: `Token` (sdk-core's signer),
 * `checkChannel` (sdk-core's channel check, throwing InvalidChannelError) and
 * `InvalidConfigError`.
 */
function makeSubscribeUrl({ Token, checkChannel, InvalidConfigError }) {
  /** The URL for `channel`; `where` names the helper in error messages. */
  function urlFor(channel, options, where) {
    if (typeof channel !== 'string') throw new TypeError(`${where}: the channel must be a string such as '/rooms/1', got ${described(channel)}`)
    checkChannel(channel)
    const { consumer, expiresIn, token, secret, url, gap } = knownOptions(options, OPTIONS, where)
    if (given(token) && typeof token !== 'boolean') throw new TypeError(`${where}: options.token must be true or false, got ${described(token)}`)
    if (given(gap) && !GAPS.includes(gap)) {
      throw new TypeError(`${where}: options.gap must be ${GAPS.map((g) => JSON.stringify(g)).join(' or ')}, got ${described(gap)}`)
    }
    optionalText(consumer, 'options.consumer')
    const base = baseUrl(url)
    const signed = token !== false
    if (!signed && (given(secret) || given(expiresIn))) {
      throw new TypeError(`${where}: options.secret and options.expiresIn sign the token; with token: false there is none`)
    }

    const query = []
    if (given(gap)) query.push(['gap', gap])
    if (given(consumer)) query.push(['consumer', consumer])
    if (signed) {
      if (!given(secret) && !process.env.PUSH_SECRET) {
        throw new InvalidConfigError(`${where} signs a subscriber token for ${channel} and needs the server's secret: `
          + 'set PUSH_SECRET (or pass options.secret), or pass token: false for a server without --auth token')
      }
      query.push(['token', Token.sign({ channel, consumer, expiresIn, secret })])
    }
    const search = query.map(([k, v]) => `${k}=${encodeURIComponent(v)}`).join('&')
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
