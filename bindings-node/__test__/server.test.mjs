// Server.start: the push server in this process. Its options are the flags, its errors typed;
// starting and stopping never block the event loop, and a stopped server keeps nothing alive.
import assert from 'node:assert/strict'
import { spawn } from 'node:child_process'
import { once } from 'node:events'
import { mkdtemp, readFile, rm } from 'node:fs/promises'
import net from 'node:net'
import os from 'node:os'
import path from 'node:path'
import { describe, test } from 'node:test'
import { Worker } from 'node:worker_threads'

import { InvalidConfigError, ConnectionFailedError, Producer, PushError, Server } from '../index.mjs'
import { cleanEnv, freePort, heldLongPolls, longPoll, packageDir, readAll, runNode, serverCli, waitFor } from './helpers.mjs'

const entry = JSON.stringify(path.join(packageDir, 'index.js'))

/** Counts the ticks of a 5 ms interval and the longest gap between two, while `work` runs. */
async function ticksDuring(work) {
  let ticks = 0
  let last = performance.now()
  let longest = 0
  const timer = setInterval(() => {
    const now = performance.now()
    longest = Math.max(longest, now - last)
    last = now
    ticks++
  }, 5)
  const started = performance.now()
  try {
    const result = await work()
    return { result, ticks, longest, ms: performance.now() - started }
  } finally {
    clearInterval(timer)
  }
}

async function rejection(promise) {
  try {
    await promise
  } catch (err) {
    return err
  }
  assert.fail('expected a rejection')
}

describe('Server', () => {
  test('starts on a free port of 127.0.0.1, serves, and stops (idempotently)', async () => {
    const server = await Server.start()
    assert.ok(server instanceof Server)
    assert.throws(() => new Server(), TypeError, 'Server.start() is the way to make one')
    assert.ok(server.port > 0 && server.port < 65536, `${server.port}`)
    assert.equal(server.url, `http://127.0.0.1:${server.port}`)
    assert.equal(server.running, true)
    assert.equal((await fetch(`${server.url}/_push/health`)).status, 200)

    const first = server.stop()
    const second = server.stop()
    assert.equal(server.running, false, 'not running once stop() was called')
    await Promise.all([first, second])
    await server.stop()
    assert.equal(server.running, false)
    await assert.rejects(fetch(`${server.url}/_push/health`), 'nothing listens after stop()')
  })

  test('listens where `bind` says, and [Symbol.asyncDispose] stops it', async () => {
    const port = await freePort()
    const server = await Server.start({ bind: `127.0.0.1:${port}` })
    assert.equal(server.port, port)
    assert.equal(server.url, `http://127.0.0.1:${port}`)
    await server[Symbol.asyncDispose]()
    assert.equal(server.running, false)
    await assert.rejects(fetch(`${server.url}/_push/health`))
  })

  test('takes the flags by name: numbers, strings, lists, switches; undefined is the default', async () => {
    const server = await Server.start({
      historySize: 2,
      history_age: '1m',
      'long-poll-timeout': '5s',
      corsOrigins: ['https://a.example', 'https://b.example'],
      allowOpenPublish: false,
      publishKey: undefined,
      secret: null,
    })
    try {
      const producer = new Producer({ url: server.url })
      const ids = []
      for (const data of ['1', '2', '3']) ids.push(await producer.publish(data).to('/opts'))
      // History keeps 2 messages (historySize came through as a number): '2' and '3'.
      const res = await fetch(`${server.url}/opts?after=0&timeout=0`, { headers: { accept: 'application/json' } })
      const body = await res.json()
      assert.deepEqual(body.messages.map((m) => m.data), ['2', '3'])
      const preflight = await fetch(`${server.url}/opts`, {
        method: 'OPTIONS',
        headers: { origin: 'https://b.example', 'access-control-request-method': 'GET' },
      })
      assert.equal(preflight.headers.get('access-control-allow-origin'), 'https://b.example')
      assert.deepEqual((await readAll(server.url, '/opts', ids[1])).map((m) => m.data), ['3'])
    } finally {
      await server.stop()
    }
  })

  test('an unknown option or a bad value rejects with InvalidConfigError and says which', async () => {
    let err = await rejection(Server.start({ noSuchOption: 1 }))
    assert.ok(err instanceof InvalidConfigError, String(err))
    assert.ok(err instanceof PushError)
    assert.equal(err.code, 'INVALID_CONFIG')
    assert.match(err.message, /--no-such-option/)

    err = await rejection(Server.start({ historySize: 'lots' }))
    assert.ok(err instanceof InvalidConfigError, String(err))
    assert.match(err.message, /lots/)

    err = await rejection(Server.start({ bind: '0.0.0.0:0' }))
    assert.ok(err instanceof InvalidConfigError, String(err))
    assert.match(err.message, /publish key/)

  })

  test('options of the wrong JavaScript type reject with TypeError', async () => {
    for (const options of [{ historySize: {} }, { corsOrigins: [true] }, 'historySize=1', [['historySize', 1]]]) {
      const err = await rejection(Server.start(options))
      assert.ok(err instanceof TypeError, `${JSON.stringify(options)}: ${err}`)
    }
  })

  test('an address in use rejects with InvalidConfigError', async () => {
    const first = await Server.start()
    try {
      const err = await rejection(Server.start({ bind: `127.0.0.1:${first.port}` }))
      assert.ok(err instanceof InvalidConfigError, String(err))
      assert.match(err.message, /cannot listen on 127\.0\.0\.1:\d+/)
      assert.equal((await fetch(`${first.url}/_push/health`)).status, 200, 'the first one still serves')
    } finally {
      await first.stop()
    }
  })

  test('a long-poll on it receives what a Producer publishes', async () => {
    const server = await Server.start()
    try {
      const waiting = longPoll(server.url, '/greetings')
      await heldLongPolls(server.url, 1)
      const id = await new Producer({ url: server.url }).publish('hi there!').to('/greetings')
      const got = await waiting
      assert.deepEqual([got.status, got.body, got.id], [200, 'hi there!', id])
    } finally {
      await server.stop()
    }
  })

  test('with dataDir, what was published is read back after a stop and a new start', async () => {
    const dataDir = await mkdtemp(path.join(os.tmpdir(), 'push-node-data-'))
    try {
      let server = await Server.start({ dataDir, fsync: 'always' })
      const ids = []
      for (const n of [1, 2, 3]) ids.push(await new Producer({ url: server.url }).publish(`m${n}`).to('/kept'))
      await server.stop()
      server = await Server.start({ dataDir })
      try {
        const read = await readAll(server.url, '/kept', BigInt(ids[0]) - 1n)
        assert.deepEqual(read.map((m) => [m.id, m.data]), [[ids[0], 'm1'], [ids[1], 'm2'], [ids[2], 'm3']])
      } finally {
        await server.stop()
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  })

  test('ServerOptions in index.d.ts names every push-server flag', async () => {
    const run = await runNode([serverCli, '--help'])
    assert.equal(run.code, 0, run.stderr)
    const camel = (flag) => flag.replace(/-([a-z0-9])/g, (_, c) => c.toUpperCase())
    const flags = new Set([...run.stdout.matchAll(/^\s+(?:-\w, )?--([a-z0-9-]+)/gm)].map((m) => camel(m[1])))
    flags.delete('help')
    flags.delete('version')
    const types = await readFile(path.join(packageDir, 'index.d.ts'), 'utf8')
    const block = types.slice(types.indexOf('export interface ServerOptions'), types.indexOf('\n}\n', types.indexOf('export interface ServerOptions')))
    const typed = new Set([...block.matchAll(/^\s+(\w+)\?:/gm)].map((m) => m[1]))
    assert.deepEqual([...flags].filter((f) => !typed.has(f)), [], 'flags missing from ServerOptions')
    assert.deepEqual([...typed].filter((f) => !flags.has(f)), [], 'ServerOptions keys that are not flags')
  })

  test('stop() with a long-poll open ends it and resolves promptly', async () => {
    const server = await Server.start({ shutdownTimeout: '10s' })
    const waiting = longPoll(server.url, '/stopping').catch((err) => err)
    await heldLongPolls(server.url, 1)
    const started = performance.now()
    await server.stop()
    const ms = performance.now() - started
    assert.ok(ms < 3000, `stop() took ${ms} ms with a long-poll open (the shutdown timeout is 10 s)`)
    await waiting // settled, one way or the other: the server ended it
  })

  test('the event loop keeps running while start() waits for a broker', async () => {
    // A fake RabbitMQ that accepts and then says nothing: start() waits in the AMQP handshake
    // until a timer of this event loop closes the connection. Were start() blocking the event
    // loop, that timer could never fire.
    let closer
    const fake = net.createServer((socket) => {
      // The delay is the point: a broker that stays silent for 300 ms of this event loop.
      closer = setTimeout(() => socket.destroy(), 300)
    })
    await new Promise((resolve) => fake.listen(0, '127.0.0.1', resolve))
    try {
      const broker = `amqp://guest:guest@127.0.0.1:${fake.address().port}/%2f`
      const { result: err, ticks, longest } = await ticksDuring(() => rejection(Server.start({ broker })))
      assert.ok(err instanceof ConnectionFailedError, String(err))
      assert.ok(ticks >= 20, `only ${ticks} timer ticks while start() ran`)
      assert.ok(longest < 200, `the event loop stalled for ${longest} ms during start()`)
    } finally {
      clearTimeout(closer)
      await new Promise((resolve) => fake.close(resolve))
    }
  })

  test('the event loop keeps running while stop() waits for a request in flight', async () => {
    const server = await Server.start({ shutdownTimeout: '1s' })
    // A publish whose body never comes: the graceful stop waits for it until the shutdown timeout.
    const socket = net.connect(server.port, '127.0.0.1')
    await new Promise((resolve) => socket.once('connect', resolve))
    socket.on('error', () => {})
    socket.write('POST /stalled HTTP/1.1\r\nhost: x\r\ncontent-length: 10\r\n\r\nabc')
    // The request has reached the server once a second connection sees the server answer.
    assert.equal((await fetch(`${server.url}/_push/health`)).status, 200)
    const { ticks, longest, ms } = await ticksDuring(() => server.stop())
    socket.destroy()
    assert.ok(ms < 5000, `stop() took ${ms} ms`)
    assert.ok(ticks >= Math.min(20, ms / 20), `only ${ticks} timer ticks in ${ms} ms of stop()`)
    assert.ok(longest < 200, `the event loop stalled for ${longest} ms during stop()`)
  })

  test('a worker can run one; terminating the worker stops it', async () => {
    const worker = new Worker(`
      const { parentPort, workerData } = require('node:worker_threads')
      require(workerData).Server.start().then((server) => parentPort.postMessage(server.url))`,
    { eval: true, workerData: path.join(packageDir, 'index.js') })
    const [url] = await once(worker, 'message')
    assert.equal((await fetch(`${url}/_push/health`)).status, 200)
    await worker.terminate()
    // The addon stops a server whose worker is gone (on a thread of its own): the port closes.
    await waitFor(() => fetch(`${url}/_push/health`).then(() => false, () => true), 'the server of a terminated worker to close its port')
  })

  describe('process lifetime', () => {
    test('a process exits on its own once its server is stopped', async () => {
      const run = await runNode(['-e', `
        const { Server } = require(${entry})
        Server.start().then(async (server) => {
          const res = await fetch(server.url + '/_push/health')
          await server.stop()
          console.log(res.status, Date.now())
        })`], { env: cleanEnv() })
      assert.equal(run.code, 0, run.stderr)
      const [status, done] = run.stdout.trim().split(' ').map(Number)
      assert.equal(status, 200)
      const lingered = Date.now() - done
      assert.ok(lingered < 3000, `the process lived ${lingered} ms after stop()`)
    })

    test('a running server keeps the process alive until stopped, unless unref()', async () => {
      // Ref'd (the default), like an http.Server: the script is done, the process still serves.
      const child = spawn(process.execPath, ['-e', `
        const { Server } = require(${entry})
        Server.start().then((server) => {
          process.on('SIGUSR2', () => server.stop())
          console.log(server.url)
        })`], { env: cleanEnv(), stdio: ['ignore', 'pipe', 'inherit'] })
      const exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)))
      try {
        const [line] = await once(child.stdout.setEncoding('utf8'), 'data')
        const url = line.trim()
        assert.equal((await fetch(`${url}/_push/health`)).status, 200)
        assert.equal(child.exitCode, null, 'still running')
        child.kill('SIGUSR2')
        assert.equal(await exited, 0, 'exits on its own once stopped')
      } finally {
        child.kill('SIGKILL')
      }

      const unref = await runNode(['-e', `
        const { Server } = require(${entry})
        Server.start().then((server) => { server.unref(); console.log(Date.now()) })`], { env: cleanEnv() })
      assert.equal(unref.code, 0, unref.stderr)
      const lingered = Date.now() - Number(unref.stdout.trim())
      assert.ok(lingered < 3000, `an unref()ed server kept the process ${lingered} ms`)
    })
  })
})
