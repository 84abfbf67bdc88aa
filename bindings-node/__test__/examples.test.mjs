// The examples run as users would run them, against a real push-server.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import path from 'node:path'
import { rm } from 'node:fs/promises'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { execFile } from 'node:child_process'

import { cleanEnv, freePort, heldLongPolls, longPoll, packageDir, runNode, sse, startServer, waitFor } from './helpers.mjs'

describe('examples', () => {
  let server
  before(async () => { server = await startServer() })
  after(async () => { await server?.stop() })

  test('quickstart.mjs publishes to /greetings', async () => {
    const waiting = longPoll(server.url, '/greetings')
    await heldLongPolls(server.url, 1)
    const run = await runNode([path.join(packageDir, 'examples', 'quickstart.mjs')], { env: cleanEnv({ PUSH_URL: server.url }) })
    assert.equal(run.code, 0, run.stderr)
    const got = await waiting
    assert.equal(got.body, 'hi there!')
    assert.equal(run.stdout.trim(), `published message ${got.id}`)
  })

  test('typed.mts compiles with tsc --strict and runs', async (t) => {
    const out = path.join(packageDir, `.out-${process.pid}`)
    t.after(() => rm(out, { recursive: true, force: true }))
    const tsc = path.join(packageDir, 'node_modules', 'typescript', 'bin', 'tsc')
    const args = ['examples/typed.mts', '--strict', '--module', 'nodenext', '--rootDir', '.', '--outDir', out]
    await promisify(execFile)(process.execPath, [tsc, ...args], { cwd: packageDir })
    const run = await runNode([path.join(out, 'examples', 'typed.mjs')], { env: cleanEnv({ PUSH_URL: server.url }) })
    assert.equal(run.code, 0, run.stderr)
    assert.match(run.stdout, new RegExp(`^\\d+ \\d+ ${server.url}$`, 'm'))
  })

  test('express.mjs publishes posted messages, mints tokens and maps push errors to statuses', async (t) => {
    const port = await freePort()
    const app = spawn(process.execPath, [path.join(packageDir, 'examples', 'express.mjs')], {
      env: cleanEnv({ PUSH_URL: server.url, PORT: String(port), PUSH_SECRET: 's3cret' }),
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    t.after(() => app.kill('SIGKILL'))
    const [line] = await once(app.stdout, 'data')
    assert.match(String(line), new RegExp(`listening on http://127.0.0.1:${port}`))
    const base = `http://127.0.0.1:${port}`

    const waiting = longPoll(server.url, '/rooms/lobby')
    await heldLongPolls(server.url, 1)
    const res = await fetch(`${base}/rooms/lobby/messages`, { method: 'POST', body: 'hello lobby' })
    assert.equal(res.status, 201)
    const { id } = await res.json()
    const got = await waiting
    assert.equal(got.body, 'hello lobby')
    assert.equal(got.id, id)

    const bad = await fetch(`${base}/rooms/${encodeURIComponent('no spaces')}/messages`, { method: 'POST', body: 'x' })
    assert.equal(bad.status, 400)
    assert.equal((await bad.json()).error, 'INVALID_CHANNEL')

    const minted = await fetch(`${base}/rooms/lobby/push-token`)
    assert.equal(minted.status, 200)
    const { token } = await minted.json()
    const [channel, consumer, expiresAt] = Buffer.from(token.split('.')[1], 'base64url').toString().split('\n')
    assert.deepEqual([channel, consumer], ['/rooms/lobby', ''])
    assert.ok(Math.abs(Number(expiresAt) - (Date.now() / 1000 + 3600)) < 60, expiresAt)
    const badToken = await fetch(`${base}/rooms/${encodeURIComponent('no spaces')}/push-token`)
    assert.equal(badToken.status, 400)
    assert.equal((await badToken.json()).error, 'INVALID_CHANNEL')

    // SIGTERM closes the listener and the producer; nothing else keeps the app alive.
    app.kill('SIGTERM')
    const [code] = await once(app, 'exit')
    assert.equal(code, 0)
  })

  test('hotwire-express.mjs renders the Turbo tag and htmx attributes; its forms broadcast and publish to the subscribed pages', async (t) => {
    const hotwire = await startServer({ auth: 'token', secret: 's3cret' })
    t.after(() => hotwire.stop())
    // Browsers reach the server as localhost (PUSH_PUBLIC_URL), the app as 127.0.0.1 (PUSH_URL).
    const publicUrl = `http://localhost:${hotwire.port}`
    const app = spawn(process.execPath, [path.join(packageDir, 'examples', 'hotwire-express.mjs')], {
      env: cleanEnv({ PUSH_URL: hotwire.url, PUSH_PUBLIC_URL: publicUrl, PUSH_SECRET: 's3cret', PORT: '0' }),
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    t.after(() => app.kill('SIGKILL'))
    const [line] = await once(app.stdout, 'data')
    const base = String(line).match(/^listening on (http:\/\/127\.0\.0\.1:\d+)$/m)?.[1]
    assert.ok(base, String(line))

    const page = await fetch(`${base}/`)
    assert.equal(page.status, 200)
    assert.match(page.headers.get('content-type'), /^text\/html/)
    const html = await page.text()
    const unescape = (value) => value.replaceAll('&amp;', '&')
    const src = unescape(html.match(/<turbo-stream-source src="([^"]+)"><\/turbo-stream-source>/)?.[1] ?? '')
    const connect = unescape(html.match(/<div hx-ext="sse" sse-connect="([^"]+)">/)?.[1] ?? '')
    assert.match(src, new RegExp(`^${publicUrl}/rooms/lobby\\?gap=turbo-refresh&token=push1\\.`), html)
    assert.match(connect, new RegExp(`^${publicUrl}/notices\\?token=push1\\.`), html)
    assert.match(html, /<ul id="messages"><\/ul>/)
    assert.match(html, /<div id="notice" sse-swap="notice">/)

    // The page's two subscriptions, as its EventSources open them.
    const chat = await sse(hotwire.url, src.slice(publicUrl.length))
    const notices = await sse(hotwire.url, connect.slice(publicUrl.length))
    t.after(() => Promise.all([chat.close(), notices.close()]))
    assert.deepEqual([chat.status, notices.status], [200, 200])
    const refused = await fetch(`${hotwire.url}/notices${new URL(src).search}`, { headers: { accept: 'text/event-stream' } })
    await refused.body?.cancel()
    assert.equal(refused.status, 403, "the chat's token does not open the notices")

    const form = (fields) => ({ method: 'POST', body: new URLSearchParams(fields) })
    const posted = await fetch(`${base}/messages`, form({ text: 'hi <all> & "you"' }))
    assert.equal(posted.status, 204)
    const id = posted.headers.get('push-id')
    assert.match(id, /^\d+$/)
    await waitFor(() => chat.text.includes('target="count"'), 'the count update on the chat stream')
    assert.match(chat.text, new RegExp(`id: ${id}\ndata: <turbo-stream action="append" target="messages"><template><li>hi &#60;all&#62; &#38; &#34;you&#34;</li></template></turbo-stream>\n\n`
      + 'id: \\d+\ndata: <turbo-stream action="update" target="count"><template>1</template></turbo-stream>\n\n$'))

    const notice = await fetch(`${base}/notices`, form({ text: 'Deploy at 5' }))
    assert.equal(notice.status, 204)
    const noticeId = notice.headers.get('push-id')
    await waitFor(() => notices.text.includes('Deploy at 5'), 'the notice on the htmx stream')
    assert.match(notices.text, new RegExp(`id: ${noticeId}\nevent: notice\ndata: <strong>Deploy at 5</strong>\n\n$`))
    const latest = await fetch(`${base}/notice`)
    assert.equal(await latest.text(), '<strong>Deploy at 5</strong>', 'what a page fetches after a gap')

    app.kill('SIGTERM')
    const [code] = await once(app, 'exit')
    assert.equal(code, 0)
  })
})
