// Type definitions for push-rs (written by hand; checked against the examples with `tsc --strict`).

/** What a message may be: text (sent as UTF-8) or bytes (a Buffer, Uint8Array, any other view, an ArrayBuffer). */
export type PublishData = string | ArrayBufferView | ArrayBuffer

export interface ProducerOptions {
  /** `http(s)://host:port` of a push server, or `amqp(s)://user:pass@host:port/%2f` of RabbitMQ. Default: `process.env.PUSH_URL`, else `http://127.0.0.1:4000`. */
  url?: string | null
  /** Sent as `Authorization: Bearer <key>`. Default: `process.env.PUSH_PUBLISH_KEY`. */
  publishKey?: string | null
  /** Time limit for one publish or server API call, connecting and retries included, in milliseconds. Default: 10000. */
  timeoutMs?: number | null
  /**
   * A PEM file of CA certificates trusted for `https://` and `amqps://` besides the system's
   * roots (e.g. a private CA). Default: `process.env.PUSH_CA_FILE`, else the system's roots only.
   * An unreadable file throws `TlsError`.
   */
  caFile?: string | null
}

export interface PublishOptions {
  /**
   * The message's content type. Default: `text/plain; charset=utf-8` for strings and bytes that
   * are valid UTF-8, `application/octet-stream` for other bytes.
   */
  contentType?: string | null
  /**
   * Makes retries safe: a publish with a key already used for the same channel (within the
   * server's `--idempotency-window`) stores nothing and resolves to the first id. 1 to 255
   * visible ASCII characters, e.g. `'order-9'`; others reject with `BadRequestError`. Default:
   * a fresh key per `.to()`, with which the producer retries failures that may have stored it.
   */
  idempotencyKey?: string | null
  /**
   * The message's Server-Sent Events name (`event: chat`), what htmx's `sse-swap="chat"` and
   * `addEventListener('chat')` select. 1 to 64 of `A-Z a-z 0-9 - _ . :`, not one the server
   * sends itself (gap, disconnect, ...); others reject with `BadRequestError`. Default: a plain
   * `message` event.
   */
  event?: string | null
}

export interface PublishToOptions extends PublishOptions {
  /**
   * The channel, a URL path such as `/greetings`, or several (`['/a', '/b']`): one message with
   * one id on all of them, delivered once to a subscriber of more than one.
   */
  to: string | readonly string[]
}

/** A publish waiting for its channels, made by `producer.publish(data)`. */
export declare class Publication {
  private constructor()
  /**
   * Publishes to `channel` and resolves to the message id (a decimal string) once the server has
   * accepted it. Rejects with a `PushError` subclass (or a `TypeError` for wrong argument types).
   * Each call publishes once more, unless its `idempotencyKey` was already used for the same
   * channels: then it resolves to the first id.
   *
   * Several channels (`.to('/a', '/b')` or `.to(['/a', '/b'])`) get one message with one id:
   * each channel's subscribers get it, and a connection subscribed to several of them gets it
   * once, naming them in `channels`. At most 100 channels (the server's `maxPublishChannels`)
   * once duplicates are dropped; more, or an empty array, reject with `BadRequestError`, an
   * invalid name with `InvalidChannelError`, before any request. The idempotency key covers the
   * list: a retry names the same channels in the same order.
   */
  to(channel: string, ...more: string[]): Promise<string>
  to(channels: readonly string[]): Promise<string>
}

/** What a channel holds and who is connected to it: `await channel('/rooms/1').info()`. */
export interface ChannelInfo {
  /** The channel's name. */
  channel: string
  /**
   * Subscriber connections open on the channel now (SSE streams, WebSockets, long-polls and JSON
   * batch requests while they wait; a multiplexed connection counts on each of its channels),
   * summed over the nodes counted.
   */
  connections: number
  /** Distinct consumer ids among them, per node, summed over the nodes (connections without one are not counted). */
  consumers: number
  /** The newest message the channel holds in history (a decimal string), `null` when it holds none. */
  lastId: string | null
  /** How many messages it holds in history (at most the server's `historySize`, within `historyAge`). */
  history: number
  /** How many nodes the counts come from (1 on one server; in a listing, the page's). */
  nodes: number
  /** When the oldest count included was taken (now on one server; in a listing, the page's). */
  asOf: Date
}

/** A consumer present on a presence channel. */
export interface Member {
  /** Its consumer id. */
  consumer: string
  /** The public info its token carried (`Token.sign({ ..., info: { name: 'Alice' } })`), `null` without one. */
  info: Record<string, unknown> | null
}

/**
 * Who is present on a presence channel (its name starts with the server's `presencePrefix`,
 * default `/presence-`): `await channel('/presence-lobby').presence()`. Each consumer once,
 * however many connections and nodes it has.
 */
export interface Presence {
  channel: string
  /** In consumer id order, at most 1000 (`count` says how many there are). */
  members: Member[]
  /** How many members there are (more than `members` holds when the list was cut). */
  count: number
  /** How many nodes the list comes from (1 on one server). */
  nodes: number
  /** When the oldest part of the list was taken. */
  asOf: Date
}

/** Options of `channels()` and `eachChannel()`. */
export interface ChannelsOptions {
  /** Only channels whose names start with it (`'/rooms/'`); it must begin like a channel name, else `BadRequestError`. */
  prefix?: string | null
  /** Channels after this name: the previous page's `next`. */
  after?: string | null
  /** Channels per page, 1 to 1000 (else `BadRequestError`). Default: 100. */
  limit?: number | null
}

/** One page of the active channels (those with a connection or with history), in name order. */
export interface ChannelPage {
  channels: ChannelInfo[]
  /** The `after` of the next page; `null` on the last one. */
  next: string | null
  /** How many nodes the counts come from. */
  nodes: number
  /** When the oldest count included was taken. */
  asOf: Date
}

/**
 * Which part of a channel's history to read: `{ last }`, or `{ after, limit }`; neither (or no
 * options) is every message the server holds in memory for the channel. `last` with `after`,
 * or `limit` without `after`, rejects with `BadRequestError`.
 */
export interface HistoryOptions {
  /** The newest N messages held in memory, oldest first: 1 to the server's `maxBatch` (`0` rejects with `BadRequestError`). */
  last?: number | null
  /**
   * Every message after this id, read as a resuming subscriber's would be (from the data dir or
   * RabbitMQ too, with `gaps` for what is gone). A decimal string (as ids are given); a bigint or
   * a safe integer works too. A malformed id rejects with `InvalidCursorError`.
   */
  after?: string | bigint | number | null
  /** With `after`: at most this many messages (default and cap: the server's `maxBatch`); page on from `lastId` while `more`. */
  limit?: number | null
}

/** One message of a channel's history. */
export interface HistoryMessage {
  /** Its id, a decimal string. */
  id: string
  /** The channel asked about (for a message published to several: the first of them). */
  channel: string
  /**
   * For a message published to several channels, those the server names: in a history read only
   * the channel asked about (a subscriber never sees the names of channels it did not ask for).
   * Empty for a message published to one.
   */
  channels: string[]
  /** The payload, as published. */
  data: Buffer
  /** The payload as text when it is valid UTF-8, else `null`. */
  text: string | null
  contentType: string
  /** Its Server-Sent Events name, if it was published with one. */
  event: string | null
  /** When it was published. */
  time: Date
}

/** Messages of `channel` with ids `from` to `to` (inclusive) may be gone. */
export interface Gap {
  channel: string
  from: string
  to: string
}

/** Messages of a channel's history, oldest first (the JSON batch's shape). */
export interface History {
  messages: HistoryMessage[]
  /** Ranges that are gone (only with `after`). */
  gaps: Gap[]
  /** The cursor to read on from (`history({ after: lastId })`); `'0'` when the server named none (nothing held). */
  lastId: string
  /** The limit cut the answer: read on from `lastId` for the rest. */
  more: boolean
}

/** Options of `disconnect()`. */
export interface DisconnectOptions {
  /** The consumer id the subscribers sent (`Consumer-Id`, `?consumer=`, or their token's). Empty or with control characters: `BadRequestError`. */
  consumer: string
  /** Only the connections that include this channel. Default: all of the consumer's. */
  channel?: string | null
  /** Shown to the client (at most 200 bytes, else `BadRequestError`). */
  reason?: string | null
  /**
   * In **seconds** (like the protocol's `ban`, not milliseconds): also refuse the consumer's new
   * subscriptions (to `channel`, or any) with `403` for this long. 0 to 86400 (a day), rounded
   * up to whole seconds; more or negative rejects with `BadRequestError`.
   */
  ban?: number | null
}

/** What a disconnect did. */
export interface Disconnected {
  consumer: string
  /** The channel it was limited to, `null` for all. */
  channel: string | null
  /** Connections ended on the node that answered (the others end theirs as the command reaches them). */
  disconnected: number
  /** When the ban ends; `null` without a ban. */
  banUntil: Date | null
}

/**
 * One channel of a push server, made by `producer.channel(name)` or `channel(name)`. Holds no
 * connection: each call asks the server. An invalid name rejects each call with
 * `InvalidChannelError` before any request.
 */
export declare class Channel {
  private constructor()
  /** The name, as given. */
  readonly name: string
  /** `GET /_push/api/channel/<name>`: its counts and history size, over every node. */
  info(): Promise<ChannelInfo>
  /**
   * `GET /_push/api/presence/<name>`: who is present on it, a presence channel, with their
   * tokens' info. Rejects with `BadRequestError` for a channel that is not a presence channel.
   */
  presence(): Promise<Presence>
  /** `GET /_push/api/history/<name>`: `history({ last: 10 })`, `history({ after: id, limit: 100 })`, `history()`. */
  history(options?: HistoryOptions): Promise<History>
  toString(): string
}

/** Publishes messages to a push server. Connects on first use; one producer can be shared. */
export declare class Producer {
  /** Checks the options (throws `InvalidConfigError`); does not connect. */
  constructor(options?: ProducerOptions)
  /** The server URL in use, after `PUSH_URL` and the default applied. */
  readonly url: string
  /** `await producer.publish(data).to('/greetings')`, or `.to('/a', '/b')` for one message to both. */
  publish(data: PublishData, options?: PublishOptions): Publication
  /**
   * A channel of this producer's server: `await producer.channel('/rooms/1').info()`,
   * `.history({ last: 10 })`. Throws `TypeError` when `name` is not a string.
   */
  channel(name: string): Channel
  /** Who is present on a presence channel: `producer.channel(name).presence()`. */
  presence(name: string): Promise<Presence>
  /**
   * One page of the channels with a connection or with history, in name order
   * (`GET /_push/api/channels`). Ask for the next with `{ after: page.next }` while `next` is not `null`.
   */
  channels(options?: ChannelsOptions): Promise<ChannelPage>
  /** Every channel of the listing: `for await (const info of producer.eachChannel({ prefix: '/rooms/' }))`, asking page after page. */
  eachChannel(options?: ChannelsOptions): AsyncIterableIterator<ChannelInfo>
  /**
   * Ends a consumer's subscriptions on every node (`POST /_push/api/disconnect`), and with `ban`
   * (seconds) refuses its new ones for that long. Safe to repeat.
   */
  disconnect(options: DisconnectOptions): Promise<Disconnected>
  /** Drops idle connections. The producer stays usable: the next call reconnects. */
  close(): void
  /** Closes it: `using producer = new Producer()`. */
  [Symbol.dispose](): void
}

/**
 * `await publish(data, { to: '/greetings' })` (or `{ to: ['/a', '/b'] }`) with the default
 * producer, made from `PUSH_URL`, `PUSH_PUBLISH_KEY` and `PUSH_CA_FILE` (again when they change).
 */
export declare function publish(data: PublishData, options: PublishToOptions): Promise<string>
/** `producer.channel(name)` of the default producer. */
export declare function channel(name: string): Channel
/** `producer.channels(options)` with the default producer. */
export declare function channels(options?: ChannelsOptions): Promise<ChannelPage>
/** `producer.eachChannel(options)` with the default producer. */
export declare function eachChannel(options?: ChannelsOptions): AsyncIterableIterator<ChannelInfo>
/** `producer.disconnect(options)` with the default producer. */
export declare function disconnect(options: DisconnectOptions): Promise<Disconnected>

export interface TokenOptions {
  /**
   * The channel the token lets a subscriber read (`/rooms/42`), or a pattern ending in `/*` that
   * covers every channel below a prefix (`/rooms/*` covers `/rooms/1` and `/rooms/1/chat`, not
   * `/rooms`; `/*` covers all). Throws `InvalidChannelError` when it is not valid.
   */
  channel: string
  /** When set, only a subscriber sending this consumer id (`Consumer-Id` or `?consumer=`) may use the token. */
  consumer?: string | null
  /** Seconds from now until the token expires. Default: 3600. Ignored when `expiresAt` is given. */
  expiresIn?: number | null
  /** When the token expires: Unix time in seconds (not milliseconds), or a `Date`. */
  expiresAt?: number | Date | null
  /**
   * The secret the server checks tokens with (`push-server --secret`). Default:
   * the `PUSH_SECRET` environment variable, read at each call; missing or empty throws `InvalidConfigError`.
   */
  secret?: string | ArrayBufferView | ArrayBuffer | null
  /**
   * The consumer's public info (`{ name: 'Alice' }`): what the members of a presence channel see
   * of it. Signed, not secret. Sent as `JSON.stringify` gives it, at most 1024 bytes; needs
   * `consumer` (else `InvalidConfigError`).
   */
  info?: Record<string, unknown> | null
}

/** Subscriber tokens, for a server started with `--auth token --secret <secret>`. */
export declare namespace Token {
  /**
   * Signs a token (synchronously, in the Rust core: the same string as every other push-rs SDK
   * and `push-server token` for the same inputs). Hand it to the subscriber, which sends it as
   * `?token=` or `Authorization: Bearer`. Throws `InvalidConfigError` (no secret, bad consumer id
   * or expiry), `InvalidChannelError`, or `TypeError` for wrong argument types.
   */
  function sign(options: TokenOptions): string
}

/**
 * One event the server sent to the app's `eventsUrl` (docs/PRESENCE.md), from `verifyEvents`.
 * (Named `PushEvent`, not `Event`, so that importing it does not hide the global `Event` class.)
 */
export interface PushEvent {
  /** Unique per event and the same on every retry of it: act on an id once. */
  id: string
  name:
    | 'channel_occupied'
    | 'channel_vacated'
    | 'member_joined'
    | 'member_left'
    | 'consumer_connected'
    | 'consumer_disconnected'
    | 'undelivered'
    | (string & {})
  /** `null` for the `consumer_*` events. */
  channel: string | null
  /** `null` for the `channel_*` events. */
  consumer: string | null
  /** The member's public info (`member_joined`, `member_left`). */
  info: Record<string, unknown> | null
  /** The message the consumer did not get (`undelivered`). */
  messageId: string | null
  /** When it happened. */
  time: Date
}

/** Options of `verifyEvents`. */
export interface VerifyEventsOptions {
  /** The events secret (`eventsSecret`, else `secret`). Default: `PUSH_EVENTS_SECRET`, then `PUSH_SECRET`, read at each call. */
  secret?: string | ArrayBufferView | ArrayBuffer | null
  /** Seconds the signature's time may be from now (a replayed request is refused after it). Default: 300. */
  tolerance?: number | null
}

/**
 * Checks that an events request comes from the push server and returns its events, in order
 * (synchronously, in the Rust core: the same check as every push-rs SDK):
 *
 * ```js
 * app.post('/push/events', express.raw({ type: 'application/json' }), (req, res) => {
 *   for (const event of verifyEvents(req.body, req.get('Push-Signature'))) { ... }
 *   res.sendStatus(204)
 * })
 * ```
 *
 * `body` is the raw body as received (not re-serialized JSON); `signature` the `Push-Signature`
 * header. Throws `UnauthorizedError` (no, wrong or too old signature), `BadRequestError` (a signed
 * body that is not an events batch), `InvalidConfigError` (no secret, negative tolerance), or
 * `TypeError` for wrong argument types.
 */
export declare function verifyEvents(body: string | ArrayBufferView | ArrayBuffer, signature: string | null | undefined, options?: VerifyEventsOptions): PushEvent[]

// --- Turbo Streams (Hotwire) and htmx ------------------------------------------------------------

/** Options of `subscribeUrl`, `turbo.streamSourceTag` and `htmx.sseAttributes`. */
export interface SubscribeUrlOptions {
  /** Sent as `?consumer=`; the token is signed for this consumer id only. */
  consumer?: string | null
  /** Seconds until the token expires. Default: 3600 (`Token.sign`'s). */
  expiresIn?: number | null
  /** `false` for a server without `--auth token`: no token in the URL (then `secret` and `expiresIn` throw `TypeError`). Default: `true`. */
  token?: boolean | null
  /** The server's `--secret`, to sign the token. Default: `process.env.PUSH_SECRET`; with neither, `InvalidConfigError`. */
  secret?: string | ArrayBufferView | ArrayBuffer | null
  /**
   * The push server as browsers reach it (`https://push.example.com`, or with a path behind a
   * proxy), trimmed, a trailing `/` dropped. Default (a blank value counts as none):
   * `process.env.PUSH_PUBLIC_URL`, else `PUSH_URL`, else `http://127.0.0.1:4000`.
   */
  url?: string | null
  /**
   * How the stream announces a gap (messages gone before the browser resumed): `'event'`, the
   * server's default (an `event: gap`; htmx reacts with `hx-trigger="sse:gap"`), or
   * `'turbo-refresh'` (a Turbo `refresh` action, which reloads the page). Default: not sent.
   */
  gap?: 'event' | 'turbo-refresh' | null
}

/**
 * The URL a browser's EventSource subscribes to `channel` with:
 * `<base><channel>?gap=<gap>&consumer=<id>&token=<token>` (each part only when it applies, values
 * percent-encoded), the token signed for exactly that channel and consumer. Throws
 * `InvalidChannelError` (not a channel; a token pattern like `/rooms/*` is not one either),
 * `InvalidConfigError` (no secret: set `PUSH_SECRET` or pass `token: false`; an empty consumer id
 * or one with a line break; a negative expiry; a base that is not an `http(s)://` URL without
 * query), or `TypeError` for wrong options.
 */
export declare function subscribeUrl(channel: string, options?: SubscribeUrlOptions): string

/** Where a publish goes and how: the options every publishing helper of `turbo` and `htmx` takes. */
export interface HelperPublishOptions {
  /** The channel (`'/rooms/1'`) or channels to publish to. */
  to: string | readonly string[]
  /** The producer to publish with. Default: the default producer (`PUSH_URL`, `PUSH_PUBLISH_KEY`), as `publish()`. */
  producer?: Producer | null
  /** As `PublishOptions.idempotencyKey`. */
  idempotencyKey?: string | null
}

/** Turbo Streams (Hotwire): `turbo.stream(...)`, `await turbo.append({ to, target, html })`, `turbo.streamSourceTag(channel)`. */
export declare namespace turbo {
  /** The Turbo Stream actions. */
  type Action = 'append' | 'prepend' | 'replace' | 'update' | 'remove' | 'before' | 'after' | 'refresh'

  /** Exactly one of `target` (an element id) and `targets` (a CSS selector). */
  type Target = { target: string; targets?: null } | { targets: string; target?: null }
  /** Exactly one of `html` (markup, inserted as is) and `text` (HTML-escaped first); `''` is allowed. */
  type Content = { html: string; text?: null } | { text: string; html?: null }
  /** append, prepend, before, after. */
  type InsertOptions = Target & Content & { method?: null; requestId?: null }
  /** replace, update: `method: 'morph'` morphs the target instead of replacing it (Turbo 8). */
  type ReplaceOptions = Target & Content & { method?: 'morph' | null; requestId?: null }
  /** remove: no content. */
  type RemoveOptions = Target & { html?: null; text?: null; method?: null; requestId?: null }
  /** refresh: the whole page reloads (a `requestId` lets the page that caused it skip it). */
  interface RefreshOptions {
    requestId?: string | null
    target?: null
    targets?: null
    html?: null
    text?: null
    method?: null
  }

  /**
   * The `<turbo-stream>` fragment, e.g.
   * `<turbo-stream action="append" target="messages"><template><li>hi</li></template></turbo-stream>`.
   * Attribute values are HTML-escaped. Throws `TypeError` for a bad action or options.
   */
  function stream(action: 'append' | 'prepend' | 'before' | 'after', options: InsertOptions): string
  function stream(action: 'replace' | 'update', options: ReplaceOptions): string
  function stream(action: 'remove', options: RemoveOptions): string
  function stream(action: 'refresh', options?: RefreshOptions): string

  /**
   * Publishes the fragment to `to` with content type `text/vnd.turbo-stream.html`; resolves to
   * the message id. Rejects with `TypeError` for bad options, or the publish's `PushError`s
   * (`InvalidChannelError`, ...).
   */
  function broadcast(action: 'append' | 'prepend' | 'before' | 'after', options: InsertOptions & HelperPublishOptions): Promise<string>
  function broadcast(action: 'replace' | 'update', options: ReplaceOptions & HelperPublishOptions): Promise<string>
  function broadcast(action: 'remove', options: RemoveOptions & HelperPublishOptions): Promise<string>
  function broadcast(action: 'refresh', options: RefreshOptions & HelperPublishOptions): Promise<string>

  /** `broadcast('append', options)`. */
  function append(options: InsertOptions & HelperPublishOptions): Promise<string>
  /** `broadcast('prepend', options)`. */
  function prepend(options: InsertOptions & HelperPublishOptions): Promise<string>
  /** `broadcast('replace', options)`. */
  function replace(options: ReplaceOptions & HelperPublishOptions): Promise<string>
  /** `broadcast('update', options)`. */
  function update(options: ReplaceOptions & HelperPublishOptions): Promise<string>
  /** `broadcast('remove', options)`. */
  function remove(options: RemoveOptions & HelperPublishOptions): Promise<string>
  /** `broadcast('before', options)`. */
  function before(options: InsertOptions & HelperPublishOptions): Promise<string>
  /** `broadcast('after', options)`. */
  function after(options: InsertOptions & HelperPublishOptions): Promise<string>
  /** `broadcast('refresh', options)`. */
  function refresh(options: RefreshOptions & HelperPublishOptions): Promise<string>

  /**
   * `<turbo-stream-source src="URL"></turbo-stream-source>`, URL being
   * `subscribeUrl(channel, options)` with `gap` defaulting to `'turbo-refresh'` (a gap arrives as
   * a `refresh` action: Turbo reloads the page), escaped for the attribute: a plain string, to
   * output unescaped in a template. Throws as `subscribeUrl`.
   */
  function streamSourceTag(channel: string, options?: SubscribeUrlOptions): string
}

/** htmx with its SSE extension: `await htmx.publish(html, { to, event })`, `htmx.sseAttributes(channel)`. */
export declare namespace htmx {
  interface PublishOptions extends HelperPublishOptions {
    /**
     * The SSE event name, what `sse-swap="<name>"` selects: 1 to 64 of `A-Z a-z 0-9 - _ . :`,
     * not one the server sends itself (else `BadRequestError`). Default: a plain `message` event.
     */
    event?: string | null
  }

  /**
   * Publishes `html` with content type `text/html; charset=utf-8` and the SSE event name
   * `event`; resolves to the message id.
   */
  function publish(html: string, options: PublishOptions): Promise<string>

  /**
   * `hx-ext="sse" sse-connect="URL"`, URL being `subscribeUrl(channel, options)` (escaped for
   * the attribute): a plain string, to output unescaped inside an element's start tag.
   */
  function sseAttributes(channel: string, options?: SubscribeUrlOptions): string
}

/** A duration as the server's flags take it: `'30s'`, `'500ms'`, `'5m'`, `'1h 30m'`. */
export type Duration = string

/**
 * Options of `Server.start`: the `push-server` flags by name, in camelCase (`publishKey` is
 * `--publish-key`; snake_case and kebab-case names work too). A switch is a boolean, a list an
 * array, a count a number, a duration a string like `'30s'`; `undefined` or `null` leaves the
 * flag's default (or its `PUSH_*` environment variable). Checked by the same parser as the flags:
 * an unknown option or a bad value rejects with `InvalidConfigError`. `push-server --help` lists
 * every flag with its default.
 */
export interface ServerOptions {
  /** Address to listen on. Default: `'127.0.0.1:0'` (a free port; read it from `server.port`). A non-loopback address needs `publishKey` or `allowOpenPublish`. */
  bind?: string | null
  /** `'memory'` (embedded, the default) or a RabbitMQ URL `amqp://user:pass@host:5672/%2f`. */
  broker?: string | null
  /** `amqps://` brokers: a PEM file of CA certificates to trust besides the system's roots. */
  brokerCaFile?: string | null
  /** Embedded broker: keep the log in this directory, so a restart or crash loses no answered publish (docs/STORAGE.md). */
  dataDir?: string | null
  /** With `dataDir`: `'always'` answers a publish once it is on disk (the default), `'interval'` fsyncs every `fsyncInterval`, `'never'` leaves it to the OS. */
  fsync?: 'always' | 'interval' | 'never' | null
  /** With `fsync: 'interval'`: how often the log is made durable. Default: `'1s'`. */
  fsyncInterval?: Duration | null
  /** With `dataDir`: remove messages older than this from disk; `'0s'` for no age limit. Default: `'24h'`. */
  retentionAge?: Duration | null
  /** With `dataDir`: most bytes of messages kept on disk; 0 for no size limit. Default: 1 GiB. */
  retentionBytes?: number | null
  /** RabbitMQ: the stream queue every node reads and every producer writes. Default: `'push.messages'`. */
  streamName?: string | null
  /** RabbitMQ: retention by age when this node creates the stream. Default: `'24h'`. */
  streamMaxAge?: Duration | null
  /** RabbitMQ: retention by size when this node creates the stream; 0 for none. Default: 1 GiB. */
  streamMaxBytes?: number | null
  /** RabbitMQ and `dataDir`: most messages of one catch-up read. Default: 10000. */
  catchUpLimit?: number | null
  /** RabbitMQ and `dataDir`: catch-up reads running at once. Default: 8. */
  catchUpConcurrency?: number | null
  /** RabbitMQ and `dataDir`: catch-up reads that may wait for a slot. Default: 256. */
  catchUpQueue?: number | null
  /** RabbitMQ: how long a publish may take. Default: `'10s'`. */
  publishTimeout?: Duration | null
  /** How long an `Idempotency-Key` is remembered; `'0s'` turns de-duplication off. Default: `'5m'`. */
  idempotencyWindow?: Duration | null
  /** Memory for remembered idempotency keys, in bytes (37 a key). Default: 64 MiB. */
  idempotencyMemoryBytes?: number | null
  /** How long producers retry with the same key; younger keys forgotten for room are counted. Default: `'30s'`. */
  idempotencyHorizon?: Duration | null
  /** Key publishers must send as `Authorization: Bearer <key>`. Default: `PUSH_PUBLISH_KEY`, else none. */
  publishKey?: string | null
  /** Allow publishing without a key on a non-loopback address. */
  allowOpenPublish?: boolean | null
  /** How long a long-poll waits before answering 204. Default: `'30s'`. */
  longPollTimeout?: Duration | null
  /** Interval of SSE comments and WebSocket pings. Default: `'15s'`. */
  heartbeat?: Duration | null
  /** Messages kept per channel for subscribers that resume. Default: 100. */
  historySize?: number | null
  /** How long a message stays in history. Default: `'5m'`. */
  historyAge?: Duration | null
  /** Largest payload accepted, in bytes. Default: 1048576. */
  maxPayloadBytes?: number | null
  /** Most subscriber connections at once. Default: 10000. */
  maxConnections?: number | null
  /** Most open TCP connections of any kind. Default: 16384. */
  maxTcpConnections?: number | null
  /** Most open TCP connections from one client IP. Default: 1024. */
  maxTcpConnectionsPerIp?: number | null
  /** Networks the per-IP limit does not apply to. Default: `['127.0.0.0/8', '::1']`. */
  ipLimitExempt?: string | string[] | null
  /** Largest request head in bytes, at least 8192. Default: 16384. */
  maxHeaderBytes?: number | null
  /** Time a client has to send a request's head. Default: `'10s'`. */
  headerTimeout?: Duration | null
  /** Most channels tracked for subscribers alone (nothing published to them). Default: 100000. */
  maxChannels?: number | null
  /** Memory for published channels and their history, in bytes; the oldest goes first past it. Default: 256 MiB. */
  channelMemoryBytes?: number | null
  /** How long an empty, unwatched published channel keeps its exact bookkeeping. Default: `'1h'`. */
  forgetChannelsAfter?: Duration | null
  /** Largest client WebSocket message in bytes. Default: 4096. */
  wsMaxMessageBytes?: number | null
  /** Most channels one multiplexed connection may subscribe to. Default: 100. */
  maxChannelsPerConnection?: number | null
  /** Most channels one publish to many (`.to('/a', '/b')`) may name. Default: 100. */
  maxPublishChannels?: number | null
  /** Most messages in one JSON batch answer. Default: 1000. */
  maxBatch?: number | null
  /** Most payload bytes in one JSON batch answer. Default: 1048576. */
  maxBatchBytes?: number | null
  /** Messages queued per streaming subscriber (SSE, WebSocket) before it is re-synced from history. Default: 1024. */
  subscriberQueue?: number | null
  /** Request header that names the consumer. Default: `'Consumer-Id'`. */
  consumerHeader?: string | null
  /** Query parameter that names the consumer. Default: `'consumer'`. */
  consumerParam?: string | null
  /** Origins allowed from browsers; `'*'` (the default) allows any, without credentials. */
  corsOrigins?: string | string[] | null
  /** How long `stop()` waits for open requests before closing them. Default: `'10s'`. */
  shutdownTimeout?: Duration | null
  /** Accepted as the flag is; the in-process server sets up no logging of its own (your app owns it). */
  log?: string | null
  /** Accepted as the flag is; see `log`. */
  logFormat?: 'text' | 'json' | null
  /** Subscriber authorization: `'none'` (default) or `'token'` (needs `secret`). */
  auth?: 'none' | 'token' | null
  /** Secret that signs subscriber tokens (`Token.sign`). Default: `PUSH_SECRET`. */
  secret?: string | null
  /** Ask the web app at this URL whether each new subscription is allowed. */
  authUrl?: string | null
  /** A PEM file of CA certificates trusted for an `https://` `authUrl`, besides the system's roots. */
  authCaFile?: string | null
  /** How long the auth URL has to answer. Default: `'2s'`. */
  authTimeout?: Duration | null
  /** How long an auth URL decision is reused. Default: `'5s'`. */
  authCacheTtl?: Duration | null
  /** Memory of the auth URL decision cache, in bytes. Default: 8388608. */
  authCacheBytes?: number | null
  /** Auth URL requests in flight at once. Default: 64. */
  authConcurrency?: number | null
  /** Subscriptions that may wait for an auth URL request slot. Default: 1024. */
  authQueue?: number | null
  /** Channels whose names start with one of these are presence channels (docs/PRESENCE.md); `''` turns presence off. Default: `'/presence-'`. */
  presencePrefix?: string | string[] | null
  /** A member leaves this long after its last connection closed, unless it is back by then. Default: `'5s'`. */
  presenceGrace?: Duration | null
  /** Most members of one presence channel; a new consumer past it is refused (503). Default: 100000. */
  maxPresenceMembers?: number | null
  /** POST signed presence events to the app at this URL (check them with `verifyEvents`). */
  eventsUrl?: string | null
  /** The secret that signs the events. Default: `secret`. */
  eventsSecret?: string | null
  /** How long the events URL has to answer a POST before it is retried. Default: `'5s'`. */
  eventsTimeout?: Duration | null
  /** Most events waiting to be sent; more are dropped. Default: 10000. */
  eventsQueue?: number | null
  /** An event not sent within this time is dropped. Default: `'1h'`. */
  eventsMaxAge?: Duration | null
  /** With `eventsUrl`: a message a present member has not received within this time makes an `undelivered` event; `'0s'` checks nothing. */
  undeliveredAfter?: Duration | null
  /** Serve HTTPS with this PEM certificate chain (with `tlsKey`); reloaded when the file changes. */
  tlsCert?: string | null
  /** The PEM private key for `tlsCert`. */
  tlsKey?: string | null
  /** How often the certificate files are checked for changes. */
  tlsReloadInterval?: Duration | null
  /** HTTP/2: most concurrent streams per connection. */
  http2MaxConcurrentStreams?: number | null
  /** HTTP/2: interval of keep-alive pings. */
  http2KeepAlive?: Duration | null
  /** HTTP/2: how long a keep-alive ping may go unanswered before the connection closes. */
  http2KeepAliveTimeout?: Duration | null
}

declare global {
  // Node >= 18.18 / 20.4 defines them; declared here too so that `using` / `await using`
  // type-check without TypeScript's `esnext.disposable` lib (the same declarations as @types/node's).
  interface SymbolConstructor {
    readonly asyncDispose: unique symbol
    readonly dispose: unique symbol
  }
}

/**
 * The push server, running in this process on its own threads (the same server as the
 * `push-server` command): for tests and development.
 *
 * ```js
 * const server = await Server.start({ historySize: 1000 })   // 127.0.0.1, a free port
 * const producer = new Producer({ url: server.url })
 * await server.stop()
 * ```
 *
 * Starting and stopping never block the event loop. Like an `http.Server`, a running server
 * keeps the process alive until `stop()` (or `unref()`).
 */
export declare class Server {
  private constructor()
  /**
   * Starts a server; resolves once it accepts connections. Rejects with `InvalidConfigError` (an
   * unknown option, a bad value, an address in use), `ConnectionFailedError` (RabbitMQ
   * unreachable), or `TypeError` for an option that is not a boolean, number, string or array.
   */
  static start(options?: ServerOptions): Promise<Server>
  /** `http://127.0.0.1:PORT`: pass it to `new Producer({ url })` and to subscribers. */
  readonly url: string
  /** The port it listens on (the one the OS picked, with the default `bind`). */
  readonly port: number
  /** True until `stop()` is called. */
  readonly running: boolean
  /**
   * Stops gracefully: ends open streams and long-polls, waits for requests in flight (up to
   * `shutdownTimeout`) and resolves once the server is gone. Idempotent.
   */
  stop(): Promise<void>
  /** Lets the process exit while the server runs. */
  unref(): this
  /** Keeps the process alive while the server runs (the default). */
  ref(): this
  /** Stops it: `await using server = await Server.start()`. */
  [Symbol.asyncDispose](): Promise<void>
}

/** Every code a `PushError` may carry; new codes may be added in later versions. */
export type PushErrorCode =
  | 'INVALID_CHANNEL'
  | 'INVALID_CURSOR'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'CONNECTION_FAILED'
  | 'TLS_ERROR'
  | 'TIMEOUT'
  | 'SERVER_ERROR'
  | 'TOO_MANY_CONNECTIONS'
  | 'INVALID_CONFIG'
  | 'BAD_REQUEST'
  | 'OVERLOADED'
  | 'INTERNAL'

export interface PushErrorOptions {
  code?: string
  status?: number
  retryable?: boolean
  maybeStored?: boolean
  cause?: unknown
}

/**
 * Base class of every push-rs error; every class below derives directly from it (docs/ERRORS.md).
 * Match on the class or on `code`, never on the message.
 */
export declare class PushError extends Error {
  constructor(message?: string, options?: PushErrorOptions)
  /** The stable code, the same in every push-rs SDK and in the server's `Push-Error` header. */
  readonly code: PushErrorCode | (string & {})
  /** The HTTP status the server answered with, when the error came from one. */
  readonly status: number | undefined
  /** Whether the same call may succeed if tried again later (sdk-core's table). */
  readonly retryable: boolean
  /**
   * Whether a failed publish may still have stored its message (sdk-core's table): retry it with
   * the same `idempotencyKey` and it is stored once.
   */
  readonly maybeStored: boolean
}

/** The channel name is not valid (it must look like `/a/b`). */
export declare class InvalidChannelError extends PushError {
  static readonly code: 'INVALID_CHANNEL'
  readonly code: 'INVALID_CHANNEL'
}
/** A cursor is malformed, or ahead of the newest message. */
export declare class InvalidCursorError extends PushError {
  static readonly code: 'INVALID_CURSOR'
  readonly code: 'INVALID_CURSOR'
}
/** The payload is larger than the server accepts. */
export declare class PayloadTooLargeError extends PushError {
  static readonly code: 'PAYLOAD_TOO_LARGE'
  readonly code: 'PAYLOAD_TOO_LARGE'
}
/** Missing or wrong publish key. */
export declare class UnauthorizedError extends PushError {
  static readonly code: 'UNAUTHORIZED'
  readonly code: 'UNAUTHORIZED'
}
/** Valid credentials that do not cover the channel. */
export declare class ForbiddenError extends PushError {
  static readonly code: 'FORBIDDEN'
  readonly code: 'FORBIDDEN'
}
/** The server could not be reached, or the connection broke. */
export declare class ConnectionFailedError extends PushError {
  static readonly code: 'CONNECTION_FAILED'
  readonly code: 'CONNECTION_FAILED'
}
/**
 * A TLS certificate problem (`https://`, `amqps://`): not signed by a trusted CA (the system's
 * roots, `caFile`, `PUSH_CA_FILE`), issued for another host, expired, or the CA file cannot be
 * read. Not retryable.
 */
export declare class TlsError extends PushError {
  static readonly code: 'TLS_ERROR'
  readonly code: 'TLS_ERROR'
}
/** No answer within `timeoutMs`. Not a `ConnectionFailedError`: the message may have been stored. */
export declare class TimeoutError extends PushError {
  static readonly code: 'TIMEOUT'
  readonly code: 'TIMEOUT'
}
/** The server answered with an error that is not the caller's fault. */
export declare class ServerError extends PushError {
  static readonly code: 'SERVER_ERROR'
  readonly code: 'SERVER_ERROR'
}
/** The server refuses more connections. */
export declare class TooManyConnectionsError extends PushError {
  static readonly code: 'TOO_MANY_CONNECTIONS'
  readonly code: 'TOO_MANY_CONNECTIONS'
}
/** The options (URL, key, timeout; a token's secret, consumer id or expiry; a server option or address) are not usable. */
export declare class InvalidConfigError extends PushError {
  static readonly code: 'INVALID_CONFIG'
  readonly code: 'INVALID_CONFIG'
}
/** An invalid `idempotencyKey`, or the request is malformed in another way. */
export declare class BadRequestError extends PushError {
  static readonly code: 'BAD_REQUEST'
  readonly code: 'BAD_REQUEST'
}
/** The server is at another of its limits (channels, auth checks, catch-up reads, sockets); retry after `Retry-After`. */
export declare class OverloadedError extends PushError {
  static readonly code: 'OVERLOADED'
  readonly code: 'OVERLOADED'
}
/** A bug inside push-rs (a panic caught at the boundary); please report it. */
export declare class InternalError extends PushError {
  static readonly code: 'INTERNAL'
  readonly code: 'INTERNAL'
}
