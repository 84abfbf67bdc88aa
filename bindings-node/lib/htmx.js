'use strict'
// htmx and its SSE extension (htmx-ext-sse): HTML published with an SSE event name, which an
// element's sse-swap="<name>" selects, and the hx-ext/sse-connect attributes that subscribe a page.

const { described, given, knownOptions } = require('./check.js')
const { escapeHtml } = require('./html.js')

const CONTENT_TYPE = 'text/html; charset=utf-8'

/**
 * Makes the `htmx` namespace from what it needs of index.js: `Producer` (to check the
 * `producer` option), `publish` (the default producer's) and `urlFor` (subscribeUrl's core).
 */
function makeHtmx({ Producer, publish: publishDefault, urlFor }) {
  /** `await htmx.publish('<p>hi</p>', { to, event, producer, idempotencyKey })`: the message id. */
  async function publish(html, options) {
    const where = 'htmx.publish'
    if (typeof html !== 'string') throw new TypeError(`${where}: the HTML must be a string, got ${described(html)}`)
    const { to, event, producer, idempotencyKey } = knownOptions(options, ['to', 'event', 'producer', 'idempotencyKey'], where)
    if (!given(to)) throw new TypeError(`${where} needs options.to: the channel (or an array of channels) to publish to`)
    if (given(producer) && !(producer instanceof Producer)) throw new TypeError(`${where}: options.producer must be a Producer, got ${described(producer)}`)
    // sdk-core checks the event name (BadRequestError for one the server would refuse).
    const publishOptions = { contentType: CONTENT_TYPE, event, idempotencyKey }
    return given(producer) ? producer.publish(html, publishOptions).to(to) : publishDefault(html, { ...publishOptions, to })
  }

  /** `hx-ext="sse" sse-connect="<subscribeUrl>"`, to put in an element's start tag. */
  function sseAttributes(channel, options) {
    const url = urlFor(channel, options, 'htmx.sseAttributes')
    return `hx-ext="sse" sse-connect="${escapeHtml(url)}"`
  }

  return Object.freeze({ publish, sseAttributes })
}

module.exports = { makeHtmx, CONTENT_TYPE }
