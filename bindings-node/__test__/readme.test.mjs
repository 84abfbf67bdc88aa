// The README's "Turbo Streams and htmx" section, run as written: each code block, with what it
// says it prints checked, and its Express app run for real against a push server with --auth token.
// A block added to the section fails the first test until a test here runs it.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdir, readFile, rm, writeFile } from 'node:fs/promises'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'

import { Producer, Token } from '../index.mjs'
import { cleanEnv, packageDir, runNode, sse, startServer, waitFor } from './helpers.mjs'

const SECTION = '## Turbo Streams and htmx'
const SECRET = 'readme-secret'

/** The fenced blocks of the README section, in order: `{ lang, code }`. */
async function sectionBlocks() {
  const readme = await readFile(path.join(packageDir, 'README.md'), 'utf8')
  const start = readme.indexOf(`\n${SECTION}\n`)
  assert.ok(start >= 0, `README.md has a "${SECTION}" section`)
  const end = readme.indexOf('\n## ', start + SECTION.length + 2)
  const section = readme.slice(start, end < 0 ? undefined : end)
  return [...section.matchAll(/^```(\w*)\n([\s\S]*?)^```$/gm)].map(([, lang, code]) => ({ lang, code }))
}

/** An expected output block as a pattern: `…` stands for a token's characters. */
function outputPattern(text) {
  const parts = text.split('…').map((part) => part.replace(/[.*+?^${}()|[\]\\]/g, '\\$&'))
  return new RegExp(`^${parts.join('[A-Za-z0-9_.-]+')}$`)
}

describe('README: Turbo Streams and htmx', () => {
  let blocks
  let dir
  let server
  let producer
  before(async () => {
    blocks = await sectionBlocks()
    // Inside the package, so that require('push-rs') and require('express') resolve as in an app.
    dir = path.join(packageDir, `.out-readme-${process.pid}`)
    await mkdir(dir, { recursive: true })
    server = await startServer({ auth: 'token', secret: SECRET })
    producer = new Producer({ url: server.url })
  })
  after(async () => {
    producer?.close()
    await server?.stop()
    if (dir) await rm(dir, { recursive: true, force: true })
  })

  /** Writes block `i` to a file of its own and returns the path. */
  async function blockFile(i) {
    const file = path.join(dir, `block-${i}.cjs`)
    await writeFile(file, blocks[i].code)
    return file
  }

  test('the section has these blocks, each run below: helpers, their output, a script, an Express app', () => {
    assert.deepEqual(blocks.map((b) => b.lang), ['js', '', 'js', 'js'])
  })

  test('the helpers print what the README shows', async () => {
    const env = cleanEnv({ PUSH_PUBLIC_URL: 'https://push.example.com', PUSH_URL: server.url, PUSH_SECRET: SECRET })
    const run = await runNode([await blockFile(0)], { env })
    assert.equal(run.code, 0, run.stderr)
    const printed = run.stdout.trimEnd().split('\n')
    const shown = blocks[1].code.trimEnd().split('\n')
    assert.equal(printed.length, shown.length, run.stdout)
    printed.forEach((line, i) => assert.match(line, outputPattern(shown[i])))
  })

  test('the script publishes three Turbo Stream actions and an htmx update to /rooms/1', async () => {
    const stream = await sse(server.url, `/rooms/1?token=${Token.sign({ channel: '/rooms/1', secret: SECRET })}`)
    assert.equal(stream.status, 200)
    const run = await runNode([await blockFile(2)], { env: cleanEnv({ PUSH_URL: server.url }) })
    assert.equal(run.code, 0, run.stderr)
    const id = run.stdout.match(/^published (\d+)$/m)?.[1]
    assert.ok(id, run.stdout)
    const { messages } = await producer.channel('/rooms/1').history()
    assert.deepEqual(messages.map((m) => [m.text, m.contentType, m.event]), [
      ['<turbo-stream action="append" target="messages"><template><li id="message_2">hi</li></template></turbo-stream>', 'text/vnd.turbo-stream.html', null],
      ['<turbo-stream action="update" targets=".count"><template>2</template></turbo-stream>', 'text/vnd.turbo-stream.html', null],
      ['<turbo-stream action="remove" target="message_1"></turbo-stream>', 'text/vnd.turbo-stream.html', null],
      ['<em>alice is typing</em>', 'text/html; charset=utf-8', 'status'],
    ])
    assert.equal(messages.at(-1).id, id)
    await waitFor(() => stream.text.includes(`id: ${id}\n`), 'the htmx update on the stream')
    assert.match(stream.text, new RegExp(`id: ${id}\nevent: status\ndata: <em>alice is typing</em>\n\n`))
    await stream.close()
  })

  test('the Express app renders the tag and attributes, and a post reaches both subscriptions', async (t) => {
    const app = spawn(process.execPath, [await blockFile(3)], {
      env: cleanEnv({ PUSH_URL: server.url, PUSH_SECRET: SECRET, PORT: '0' }),
      stdio: ['ignore', 'pipe', 'inherit'],
    })
    t.after(() => app.kill('SIGKILL'))
    const [line] = await once(app.stdout, 'data')
    const base = String(line).match(/^listening on (http:\/\/127\.0\.0\.1:\d+)$/m)?.[1]
    assert.ok(base, String(line))

    const html = await (await fetch(`${base}/`)).text()
    const src = html.match(/<turbo-stream-source src="([^"]+)"><\/turbo-stream-source>/)?.[1]?.replaceAll('&amp;', '&')
    const connect = html.match(/<div hx-ext="sse" sse-connect="([^"]+)"><p sse-swap="status"><\/p><\/div>/)?.[1]?.replaceAll('&amp;', '&')
    assert.match(src ?? '', new RegExp(`^${server.url}/rooms/1\\?gap=turbo-refresh&token=push1\\.`), html)
    assert.match(connect ?? '', new RegExp(`^${server.url}/rooms/1/status\\?token=push1\\.`), html)
    const messages = await sse(server.url, src.slice(server.url.length))
    const status = await sse(server.url, connect.slice(server.url.length))
    t.after(() => Promise.all([messages.close(), status.close()]))
    assert.deepEqual([messages.status, status.status], [200, 200])

    const posted = await fetch(`${base}/messages`, { method: 'POST', body: new URLSearchParams({ text: 'hi <b>' }) })
    assert.equal(posted.status, 204)
    await waitFor(() => messages.text.includes('hi &#60;b&#62;') && status.text.includes('6 characters'), 'both updates')
    assert.match(messages.text, /\ndata: <turbo-stream action="append" target="messages"><template><li>hi &#60;b&#62;<\/li><\/template><\/turbo-stream>\n\n$/)
    assert.match(status.text, /\nevent: status\ndata: 6 characters\n\n$/)
  })
})
