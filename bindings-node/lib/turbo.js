'use strict'
// Turbo Streams (Hotwire): the <turbo-stream> fragments Turbo applies, published to channels with
// the content type Turbo expects, and the <turbo-stream-source> tag that subscribes a page.
// The fragment's shape is the one every push-rs SDK writes (docs/HOTWIRE_HTMX.md).

const { described, given, knownOptions, optionalText } = require('./check.js')
const { escapeHtml } = require('./html.js')

const ACTIONS = ['append', 'prepend', 'replace', 'update', 'remove', 'before', 'after', 'refresh']
/** The actions that may morph instead of replacing (Turbo 8). */
const MORPHING = ['replace', 'update']
const STREAM_OPTIONS = ['target', 'targets', 'html', 'text', 'method', 'requestId']
const PUBLISH_OPTIONS = ['to', 'producer', 'idempotencyKey']
/** What Turbo's stream source and fetch responses recognise as stream actions. */
const CONTENT_TYPE = 'text/vnd.turbo-stream.html'

/** The action, checked: one of ACTIONS. */
function actionOf(action, where) {
  if (typeof action !== 'string' || !ACTIONS.includes(action)) {
    throw new TypeError(`${where}: the action must be one of ${ACTIONS.join(', ')}; got ${described(action)}`)
  }
  return action
}

/**
 * The <turbo-stream> fragment of `action` with `options` (already checked to hold only stream
 * options); `where` names the caller in error messages, e.g. `turbo.stream("append")`.
 */
function fragment(action, options, where) {
  const target = optionalText(options.target, `${where}: options.target (an element id)`, { nonEmpty: true })
  const targets = optionalText(options.targets, `${where}: options.targets (a CSS selector)`, { nonEmpty: true })
  const html = optionalText(options.html, `${where}: options.html`)
  const text = optionalText(options.text, `${where}: options.text`)
  const requestId = optionalText(options.requestId, `${where}: options.requestId`, { nonEmpty: true })
  const { method } = options

  if (action === 'refresh') {
    if (target !== undefined || targets !== undefined) throw new TypeError(`${where} takes no target or targets: a refresh reloads the whole page`)
    if (html !== undefined || text !== undefined) throw new TypeError(`${where} takes no html or text: a refresh has no content`)
  } else {
    if (target === undefined && targets === undefined) {
      throw new TypeError(`${where} needs options.target (an element id) or options.targets (a CSS selector)`)
    }
    if (target !== undefined && targets !== undefined) throw new TypeError(`${where} takes options.target or options.targets, not both`)
    if (requestId !== undefined) throw new TypeError(`${where}: options.requestId is for the refresh action only`)
  }
  if (action === 'remove') {
    if (html !== undefined || text !== undefined) throw new TypeError(`${where} takes no html or text: it removes the target`)
  } else if (action !== 'refresh') {
    if (html === undefined && text === undefined) {
      throw new TypeError(`${where} needs options.html (markup, inserted as is) or options.text (HTML-escaped first); an empty string is allowed`)
    }
    if (html !== undefined && text !== undefined) throw new TypeError(`${where} takes options.html or options.text, not both`)
  }
  if (given(method)) {
    if (method !== 'morph') throw new TypeError(`${where}: options.method must be "morph", got ${described(method)}`)
    if (!MORPHING.includes(action)) throw new TypeError(`${where}: options.method "morph" is for replace and update only`)
  }

  let attributes = `action="${action}"`
  if (target !== undefined) attributes += ` target="${escapeHtml(target)}"`
  if (targets !== undefined) attributes += ` targets="${escapeHtml(targets)}"`
  if (given(method)) attributes += ` method="${method}"`
  if (requestId !== undefined) attributes += ` request-id="${escapeHtml(requestId)}"`
  const content = action === 'remove' || action === 'refresh' ? '' : `<template>${html ?? escapeHtml(text)}</template>`
  return `<turbo-stream ${attributes}>${content}</turbo-stream>`
}

/**
 * Makes the `turbo` namespace from what it needs of index.js: `Producer` (to check the
 * `producer` option), `publish` (the default producer's) and `urlFor` (subscribeUrl's core).
 */
function makeTurbo({ Producer, publish, urlFor }) {
  function stream(action, options) {
    const where = `turbo.stream(${described(actionOf(action, 'turbo.stream'))})`
    return fragment(action, knownOptions(options, STREAM_OPTIONS, where), where)
  }

  /** Renders and publishes; `where` names the caller (`turbo.append`, `turbo.broadcast("append")`). */
  async function send(action, options, where) {
    const { to, producer, idempotencyKey, ...rest } = knownOptions(options, [...PUBLISH_OPTIONS, ...STREAM_OPTIONS], where)
    if (!given(to)) throw new TypeError(`${where} needs options.to: the channel (or an array of channels) to publish to`)
    if (given(producer) && !(producer instanceof Producer)) throw new TypeError(`${where}: options.producer must be a Producer, got ${described(producer)}`)
    const data = fragment(action, rest, where)
    const publishOptions = { contentType: CONTENT_TYPE, idempotencyKey }
    return given(producer) ? producer.publish(data, publishOptions).to(to) : publish(data, { ...publishOptions, to })
  }

  async function broadcast(action, options) {
    return send(actionOf(action, 'turbo.broadcast'), options, `turbo.broadcast(${JSON.stringify(action)})`)
  }

  function streamSourceTag(channel, options) {
    const where = 'turbo.streamSourceTag'
    // A gap arrives as a refresh action by default, so Turbo reloads the page.
    const checked = knownOptions(options, ['consumer', 'expiresIn', 'token', 'secret', 'url', 'gap'], where)
    const src = urlFor(channel, { ...checked, gap: checked.gap ?? 'turbo-refresh' }, where)
    return `<turbo-stream-source src="${escapeHtml(src)}"></turbo-stream-source>`
  }

  const turbo = { stream, broadcast, streamSourceTag }
  // One short form per action: `await turbo.append({ to, target, html })`.
  for (const action of ACTIONS) {
    turbo[action] = { [action]: async (options) => send(action, options, `turbo.${action}`) }[action]
  }
  return Object.freeze(turbo)
}

module.exports = { makeTurbo, ACTIONS, CONTENT_TYPE }
