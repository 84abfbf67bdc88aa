// @ts-check
// Turbo Streams and htmx over push-rs in an Express app (docs/HOTWIRE_HTMX.md): one page with a
// chat that Turbo updates and a notice board that htmx updates, both live from the push server.
//
//   push-server --auth token --secret s3cret &          # 127.0.0.1:4000
//   PUSH_SECRET=s3cret node examples/hotwire-express.mjs # 127.0.0.1:3000 (PORT to change it)
//   open http://127.0.0.1:3000 in two windows; post in one, both update
//
// The page subscribes with a token the app signs for each channel (PUSH_SECRET), at the address
// browsers use for the push server: PUSH_PUBLIC_URL, else PUSH_URL, else http://127.0.0.1:4000.
// On another host name than the app's, start push-server with --cors-origins <the app's origin>.
// Turbo and htmx come from a CDN here; bundle them as you like. Express is not a dependency of
// push-rs: `npm install express` to run this.
import express from 'express'
import { Producer, PushError, htmx, turbo } from 'push-rs'

const CHAT = '/rooms/lobby'
const NOTICES = '/notices'

// One producer for the whole app: it keeps its connections and is safe to share.
const producer = new Producer() // PUSH_URL, PUSH_PUBLISH_KEY from the environment

/** Text for HTML: what the app's template engine would do. */
const escape = (/** @type {string} */ text) =>
  text.replace(/[&<>"']/g, (ch) => `&#${ch.charCodeAt(0)};`)

export const app = express()
app.use(express.urlencoded({ extended: false }))

app.get('/', (_req, res) => {
  res.type('html').send(`<!doctype html>
<html>
<head>
  <meta charset="utf-8">
  <title>push-rs: Turbo Streams and htmx</title>
  <script type="module" src="https://cdn.jsdelivr.net/npm/@hotwired/turbo@8/dist/turbo.es2017-esm.js"></script>
  <script src="https://cdn.jsdelivr.net/npm/htmx.org@2/dist/htmx.min.js"></script>
  <script src="https://cdn.jsdelivr.net/npm/htmx-ext-sse@2/sse.js"></script>
</head>
<body>
  <h1>Chat (Turbo Streams)</h1>
  ${turbo.streamSourceTag(CHAT)}
  <ul id="messages"></ul>
  <p>Messages: <span id="count">0</span></p>
  <form action="/messages" method="post">
    <input name="text" autocomplete="off"> <button>Send</button>
  </form>

  <h1>Notices (htmx)</h1>
  <div ${htmx.sseAttributes(NOTICES)}>
    <div id="notice" sse-swap="notice">no notice yet</div>
    <div hx-trigger="sse:gap" hx-get="/notice" hx-target="#notice"></div>
  </div>
  <form hx-post="/notices" hx-swap="none">
    <input name="text" autocomplete="off"> <button>Post a notice</button>
  </form>
</body>
</html>
`)
})

let count = 0

// A Turbo form: the page changes when the broadcast arrives (on every open page, this one too).
// 204 tells Turbo that the submission succeeded and there is nothing to render.
app.post('/messages', async (req, res) => {
  const text = String(req.body.text ?? '')
  const id = await turbo.append({ to: CHAT, target: 'messages', html: `<li>${escape(text)}</li>`, producer })
  await turbo.update({ to: CHAT, target: 'count', text: String(++count), producer })
  res.set('Push-Id', id).sendStatus(204)
})

// htmx posts the form; every page's sse-swap="notice" element swaps the notice in.
app.post('/notices', async (req, res) => {
  const text = String(req.body.text ?? '')
  const id = await htmx.publish(`<strong>${escape(text)}</strong>`, { to: NOTICES, event: 'notice', producer })
  res.set('Push-Id', id).sendStatus(204)
})

// After a gap (the page was away longer than the server's history reaches), htmx fetches the
// latest notice from here (hx-trigger="sse:gap"); a Turbo page reloads by itself.
app.get('/notice', async (_req, res) => {
  const { messages } = await producer.channel(NOTICES).history({ last: 1 })
  res.type('html').send(messages[0]?.text ?? 'no notice yet')
})

// Express 5 hands a rejected async handler to the error middleware.
app.use(
  /** @type {import('express').ErrorRequestHandler} */
  (err, _req, res, next) => {
    if (!(err instanceof PushError)) return next(err)
    res.status(err.retryable ? 503 : 502).type('text').send(`${err.code}: ${err.message}`)
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
