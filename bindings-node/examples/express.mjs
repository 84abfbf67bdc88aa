// @ts-check
// An Express app that publishes what clients POST to a chat room. Browsers (or curl) subscribe
// to the room on the push server itself:
//
//   push-server &                                   # 127.0.0.1:4000
//   node examples/express.mjs &                     # 127.0.0.1:3000 (PORT to change it)
//   curl http://127.0.0.1:4000/rooms/lobby &        # waits ...
//   curl -d 'hello' http://127.0.0.1:3000/rooms/lobby/messages
//
// With subscriber tokens (push-server --auth token --secret s3cret, and PUSH_SECRET=s3cret here),
// the browser first asks the app for a token:
//
//   token=$(curl -s http://127.0.0.1:3000/rooms/lobby/push-token | jq -r .token)
//   curl "http://127.0.0.1:4000/rooms/lobby?token=$token" &
//
// Express is not a dependency of push-rs: `npm install express` to run this.
import express from 'express'
import { Producer, PushError, Token } from 'push-rs'

// One producer for the whole app: it keeps its connections and is safe to share.
const producer = new Producer() // PUSH_URL, PUSH_PUBLISH_KEY from the environment

export const app = express()
app.use(express.text({ type: '*/*', limit: '1mb' }))

app.post('/rooms/:room/messages', async (req, res) => {
  const body = typeof req.body === 'string' ? req.body : ''
  // The room name becomes part of the channel; push-rs rejects names that are not valid paths.
  const id = await producer.publish(body, { contentType: 'text/plain; charset=utf-8' }).to(`/rooms/${req.params.room}`)
  res.status(201).json({ id })
})

// A token that lets one subscriber read the room for an hour (signed with PUSH_SECRET). A real
// app checks here that the user may read the room, and may pass its id as `consumer`.
app.get('/rooms/:room/push-token', (req, res) => {
  res.json({ token: Token.sign({ channel: `/rooms/${req.params.room}`, expiresIn: 3600 }) })
})

/** How each push-rs error code answers the app's own clients. */
const statusFor = /** @type {Record<string, number>} */ ({
  INVALID_CHANNEL: 400,
  PAYLOAD_TOO_LARGE: 413,
  CONNECTION_FAILED: 503,
  TIMEOUT: 503,
})

// Express 5 hands a rejected async handler (and a throwing one) to the error middleware.
app.use(
  /** @type {import('express').ErrorRequestHandler} */
  (err, _req, res, next) => {
    if (!(err instanceof PushError)) return next(err)
    const status = statusFor[err.code] ?? 502
    if (err.retryable) res.set('Retry-After', '1')
    res.status(status).json({ error: err.code, message: err.message })
  },
)

const port = Number(process.env.PORT ?? 3000)
const listener = app.listen(port, '127.0.0.1', () => {
  const address = listener.address()
  console.log(`listening on http://127.0.0.1:${typeof address === 'object' && address ? address.port : port}`)
})

// Stop cleanly on Ctrl-C or SIGTERM: stop accepting requests, then drop the push connections.
for (const signal of /** @type {const} */ (['SIGINT', 'SIGTERM'])) {
  process.once(signal, () => listener.close(() => producer.close()))
}
