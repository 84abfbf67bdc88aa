// Type tests for index.d.ts (checked by `npm run typecheck`, never run). Each @ts-expect-error
// line must fail to type-check, so the declarations are neither too loose nor too strict.
import push = require('push-rs')
import { InvalidConfigError, Producer, PushError, Server, TimeoutError, Token, publish, type PushErrorCode, type Publication, type ServerOptions, type TokenOptions } from 'push-rs'
import { Channel, channel, channels, disconnect, eachChannel, type ChannelInfo, type ChannelPage, type Disconnected, type Gap, type History, type HistoryMessage, type HistoryOptions } from 'push-rs'
import { verifyEvents, type Member, type Presence, type PushEvent, type VerifyEventsOptions } from 'push-rs'
import { htmx, subscribeUrl, turbo, type HelperPublishOptions, type SubscribeUrlOptions } from 'push-rs'

async function typeTests(): Promise<void> {
  const p = new Producer()
  new Producer({})
  new Producer({ url: 'http://127.0.0.1:4000', publishKey: 'k', timeoutMs: 1000 })
  new Producer({ url: undefined, publishKey: null })
  const url: string = p.url

  const pub: Publication = p.publish('text')
  const id: string = await pub.to('/a')
  await p.publish(Buffer.from('x')).to('/a')
  await p.publish(new Uint8Array(2), { contentType: 'application/octet-stream' }).to('/a')
  await p.publish(new ArrayBuffer(2)).to('/a')
  await p.publish(new DataView(new ArrayBuffer(2))).to('/a')
  const viaDefault: string = await publish('x', { to: '/a' })
  await push.publish('x', { to: '/a', contentType: 'text/plain' })
  await p.publish('x', { idempotencyKey: 'order-9' }).to('/orders')
  await p.publish('x', { contentType: 'text/plain', idempotencyKey: null }).to('/orders')
  await publish('x', { to: '/orders', idempotencyKey: 'order-9' })
  const many: string = await p.publish('x').to('/a', '/b')
  await p.publish('x').to(['/a', '/b'])
  const list: readonly string[] = ['/a', '/b']
  await p.publish('x').to(list)
  await publish('x', { to: ['/a', '/b'] })

  // The server API.
  const room: Channel = p.channel('/rooms/1')
  const roomName: string = room.name
  const info: ChannelInfo = await room.info()
  const counts: number = info.connections + info.consumers + info.history + info.nodes
  const lastId: string | null = info.lastId
  const asOf: Date = info.asOf
  const recent: History = await room.history({ last: 10 })
  await room.history({ after: '1795870127759001', limit: 100 })
  await room.history({ after: 17n })
  await room.history()
  const range: HistoryOptions = { last: null, after: undefined }
  await room.history(range)
  const message: HistoryMessage = recent.messages[0]
  const data: Buffer = message.data
  const text: string | null = message.text
  const time: Date = message.time
  const msgChannels: string[] = message.channels
  const gap: Gap = recent.gaps[0]
  const gapEnds: string = gap.from + gap.to + gap.channel
  const more: boolean = recent.more
  const cursor: string = recent.lastId
  const page: ChannelPage = await p.channels({ prefix: '/rooms/', after: '/rooms/9', limit: 100 })
  const next: string | null = page.next
  await p.channels()
  for await (const entry of p.eachChannel({ prefix: '/rooms/' })) {
    const name: string = entry.channel
    void name
  }
  const kicked: Disconnected = await p.disconnect({ consumer: 'alice', channel: '/rooms/1', reason: 'logged out', ban: 600 })
  const banUntil: Date | null = kicked.banUntil
  const ended: number = kicked.disconnected
  await p.disconnect({ consumer: 'bob' })
  const viaDefaultInfo: ChannelInfo = await channel('/a').info()
  await channels({ limit: 10 })
  for await (const entry of eachChannel()) void entry.lastId
  await disconnect({ consumer: 'alice', ban: 60 })
  await push.channel('/a').history({ last: 1 })

  // Presence and events.
  const presence: Presence = await p.channel('/presence-lobby').presence()
  const member: Member = (await p.presence('/presence-lobby')).members[0]
  const memberInfo: Record<string, unknown> | null = member.info
  const present: number = presence.count + presence.nodes + presence.asOf.getTime()
  await channel('/presence-lobby').presence()
  const events: PushEvent[] = verifyEvents(Buffer.from('{}'), 't=1,v1=00')
  verifyEvents('{}', undefined, { secret: 's3cret', tolerance: 60 })
  verifyEvents(new Uint8Array(2), null, { secret: Buffer.from('k') })
  const verifyOptions: VerifyEventsOptions = { tolerance: null }
  verifyEvents('{}', 'sig', verifyOptions)
  const event: PushEvent = events[0]
  const eventFields: [string, string | null, string | null, string | null, Date] = [event.name, event.channel, event.consumer, event.messageId, event.time]
  const eventInfo: Record<string, unknown> | null = event.info
  Token.sign({ channel: '/presence-lobby', consumer: 'alice', info: { name: 'Alice', tags: ['a'] } })
  Token.sign({ channel: '/presence-lobby', consumer: 'alice', info: null })

  // Turbo Streams and htmx.
  const src: string = subscribeUrl('/rooms/1')
  subscribeUrl('/rooms/1', { consumer: 'alice', expiresIn: 60, secret: 's3cret', url: 'https://push.example', gap: 'turbo-refresh' })
  subscribeUrl('/rooms/1', { token: false, gap: 'event', consumer: null })
  const urlOptions: SubscribeUrlOptions = { secret: Buffer.from('s3cret') }
  push.subscribeUrl('/a', urlOptions)
  const fragment: string = turbo.stream('append', { target: 'messages', html: '<li>hi</li>' })
  turbo.stream('prepend', { targets: '.messages', text: 'hi' })
  turbo.stream('replace', { target: 'm1', html: '', method: 'morph' })
  turbo.stream('update', { target: 'm1', text: 'x', method: null })
  turbo.stream('remove', { target: 'm1' })
  turbo.stream('refresh')
  turbo.stream('refresh', { requestId: 'r1' })
  const broadcastId: string = await turbo.broadcast('before', { to: '/rooms/1', target: 'm1', html: '<p>' })
  await turbo.broadcast('refresh', { to: ['/a', '/b'], producer: p, idempotencyKey: 'k' })
  const appended: string = await turbo.append({ to: '/rooms/1', target: 'messages', html: '<li>hi</li>' })
  await turbo.prepend({ to: '/a', targets: 'ul', text: 'x' })
  await turbo.replace({ to: '/a', target: 'x', html: '', method: 'morph' })
  await turbo.update({ to: '/a', target: 'x', text: '' })
  await turbo.remove({ to: '/a', target: 'x' })
  await turbo.before({ to: '/a', target: 'x', html: '' })
  await turbo.after({ to: '/a', target: 'x', html: '' })
  await turbo.refresh({ to: '/a', requestId: 'r1' })
  await push.turbo.refresh({ to: '/a' })
  const tag: string = turbo.streamSourceTag('/rooms/1', { consumer: 'alice', url: 'https://push.example' })
  const action: turbo.Action = 'after'
  const publishOptions: HelperPublishOptions = { to: '/a', producer: null }
  const htmxId: string = await htmx.publish('<p>hi</p>', { to: '/alerts', event: 'notice' })
  await htmx.publish('<p>hi</p>', { ...publishOptions, producer: p })
  const htmxOptions: htmx.PublishOptions = { to: '/a', event: null, idempotencyKey: 'k' }
  await htmx.publish('', htmxOptions)
  const attrs: string = htmx.sseAttributes('/alerts', { consumer: 'alice', gap: 'event' })

  // @ts-expect-error not an action
  turbo.stream('insert', { target: 'x', html: '' })
  // @ts-expect-error append needs content
  turbo.stream('append', { target: 'x' })
  // @ts-expect-error append needs a target
  turbo.stream('append', { html: '' })
  // @ts-expect-error target or targets, not both
  turbo.stream('append', { target: 'x', targets: '.x', html: '' })
  // @ts-expect-error html or text, not both
  turbo.stream('update', { target: 'x', html: '', text: '' })
  // @ts-expect-error remove takes no content
  turbo.stream('remove', { target: 'x', html: '' })
  // @ts-expect-error refresh takes no target
  turbo.stream('refresh', { target: 'x' })
  // @ts-expect-error morph is for replace and update only
  turbo.stream('append', { target: 'x', html: '', method: 'morph' })
  // @ts-expect-error the only method is morph
  turbo.stream('replace', { target: 'x', html: '', method: 'swap' })
  // @ts-expect-error requestId is for refresh only
  turbo.stream('remove', { target: 'x', requestId: 'r' })
  // @ts-expect-error a broadcast needs `to`
  await turbo.append({ target: 'x', html: '' })
  // @ts-expect-error the producer is a Producer
  await turbo.remove({ to: '/a', target: 'x', producer: 'http://127.0.0.1:4000' })
  turbo.streamSourceTag('/a', { gap: 'event', token: false })
  // @ts-expect-error gap is 'event' or 'turbo-refresh'
  turbo.streamSourceTag('/a', { gap: 'refresh' })
  // @ts-expect-error unknown option
  subscribeUrl('/a', { tokens: false })
  // @ts-expect-error gap is 'event' or 'turbo-refresh'
  subscribeUrl('/a', { gap: 'refresh' })
  // @ts-expect-error htmx publishes HTML text
  await htmx.publish(Buffer.from('<p>'), { to: '/a' })
  // @ts-expect-error htmx.publish needs `to`
  await htmx.publish('<p>', { event: 'notice' })

  void [src, fragment, broadcastId, appended, tag, action, htmxId, attrs]

  // @ts-expect-error presence() takes no options
  await room.presence({ fresh: true })
  // @ts-expect-error producer.presence() needs the channel
  await p.presence()
  // @ts-expect-error verifyEvents() returns the events, not a Promise
  await verifyEvents('{}', 'sig').then(() => {})
  // @ts-expect-error the body is text or bytes
  verifyEvents({ events: [] }, 'sig')
  // @ts-expect-error tolerance is a number of seconds
  verifyEvents('{}', 'sig', { tolerance: '5m' })
  // @ts-expect-error a token's info is an object
  Token.sign({ channel: '/a', consumer: 'c', info: 'Alice' })

  // @ts-expect-error a publish needs a channel
  await p.publish('x').to()
  // @ts-expect-error channels are strings
  await p.publish('x').to('/a', 2)
  // @ts-expect-error a disconnect needs a consumer
  await p.disconnect({ channel: '/a' })
  // @ts-expect-error ban is a number of seconds
  await p.disconnect({ consumer: 'a', ban: '10m' })
  // @ts-expect-error last is a number
  await room.history({ last: '10' })
  // @ts-expect-error unknown history option
  await room.history({ first: 1 })
  // @ts-expect-error unknown channels option
  await p.channels({ pattern: '/rooms/*' })
  // @ts-expect-error Channel has no public constructor
  new Channel()
  // @ts-expect-error info() takes no options
  await room.info({ fresh: true })

  p.close()
  p[Symbol.dispose]()

  try {
    await p.publish('x').to('/a')
  } catch (err) {
    if (err instanceof TimeoutError) {
      const code: 'TIMEOUT' = err.code
      const retry: boolean = err.retryable
      const stored: boolean = err.maybeStored
    }
    if (err instanceof push.OverloadedError || err instanceof push.InternalError) {
      const code: 'OVERLOADED' | 'INTERNAL' = err.code
    }
    if (err instanceof PushError) {
      const code: string = err.code
      const status: number | undefined = err.status
      const known: PushErrorCode | string = err.code
    }
  }
  const staticCode: 'TIMEOUT' = TimeoutError.code
  const made = new PushError('custom', { code: 'X', status: 500 })

  const token: string = Token.sign({ channel: '/rooms/*' })
  Token.sign({ channel: '/a', consumer: 'alice', expiresIn: 60, secret: 's3cret' })
  Token.sign({ channel: '/a', consumer: null, expiresAt: 2000000000, secret: Buffer.from('s3cret') })
  Token.sign({ channel: '/a', expiresAt: new Date(), secret: new Uint8Array(4) })
  const tokenOptions: TokenOptions = { channel: '/a', expiresIn: undefined }
  push.Token.sign(tokenOptions)

  // @ts-expect-error a token needs a channel
  Token.sign({ consumer: 'alice' })
  // @ts-expect-error expiresIn is a number of seconds
  Token.sign({ channel: '/a', expiresIn: '1h' })
  // @ts-expect-error unknown option
  Token.sign({ channel: '/a', expires: 60 })
  // @ts-expect-error sign() returns the token string, not a Promise
  await Token.sign({ channel: '/a' }).then(() => {})
  // @ts-expect-error data must be text or bytes
  p.publish(42)
  // @ts-expect-error the channel is a string
  await p.publish('x').to(7)
  // @ts-expect-error unknown option
  new Producer({ timeout: 5 })
  // @ts-expect-error timeoutMs is a number
  new Producer({ timeoutMs: '5' })
  // @ts-expect-error an idempotency key is a string
  p.publish('x', { idempotencyKey: 9 })
  // @ts-expect-error publish() needs `to`
  await publish('x', {})
  // @ts-expect-error Publication has no public constructor
  new push.Publication()
  // @ts-expect-error code is read-only
  made.code = 'Y'

  const server: Server = await Server.start()
  await Server.start({ bind: '127.0.0.1:0', historySize: 1000, longPollTimeout: '5s', corsOrigins: ['https://a.example'] })
  await Server.start({ allowOpenPublish: true, publishKey: undefined, auth: 'token', secret: 's3cret', ipLimitExempt: '10.0.0.0/8' })
  await Server.start({ presencePrefix: ['/presence-', '/room-'], presenceGrace: '1s', eventsUrl: 'https://app.example/events', eventsSecret: 'e', undeliveredAfter: '30s' })
  const serverOptions: ServerOptions = { maxPayloadBytes: 1024, shutdownTimeout: '1s', logFormat: null }
  const started: Server = await push.Server.start(serverOptions)
  const serverUrl: string = server.url
  const port: number = server.port
  const running: boolean = server.running
  const stopped: Promise<void> = server.stop()
  await server.unref().ref().stop()
  await server[Symbol.asyncDispose]()
  try {
    await Server.start({ historySize: 1 })
  } catch (err) {
    if (err instanceof InvalidConfigError) {
      const code: 'INVALID_CONFIG' = err.code
    }
  }

  // @ts-expect-error unknown server option
  await Server.start({ historySise: 10 })
  // @ts-expect-error a count is a number
  await Server.start({ historySize: true })
  // @ts-expect-error a switch is a boolean
  await Server.start({ allowOpenPublish: 'yes' })
  // @ts-expect-error auth is 'none' or 'token'
  await Server.start({ auth: 'basic' })
  // @ts-expect-error Server.start() is the way to make one
  new Server()
  // @ts-expect-error port is read-only
  server.port = 1

  void [url, id, viaDefault, made, token, started, serverUrl, port, running, stopped]
  void [many, roomName, counts, lastId, asOf, data, text, time, msgChannels, gapEnds, more, cursor, next, banUntil, ended, viaDefaultInfo]
  void [memberInfo, present, eventFields, eventInfo]
}
void typeTests
