// The examples run as users would run them, against a real push-server.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import path from 'node:path'
import { rm } from 'node:fs/promises'
import { after, before, describe, test } from 'node:test'
import { promisify } from 'node:util'
import { execFile } from 'node:child_process'

import { cleanEnv, freePort, heldLongPolls, longPoll, packageDir, runNode, startServer } from './helpers.mjs'

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
})
