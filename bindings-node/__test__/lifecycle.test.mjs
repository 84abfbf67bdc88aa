// The addon never keeps a process alive once its publishes are done, and works in workers.
import assert from 'node:assert/strict'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'
import { once } from 'node:events'
import { Worker } from 'node:worker_threads'

import { Producer } from '../index.mjs'
import { cleanEnv, freePort, heldLongPolls, longPoll, packageDir, readAll, runNode, startServer } from './helpers.mjs'

const EXIT_WITHIN_MS = 3000
const entry = JSON.stringify(path.join(packageDir, 'index.js'))

describe('process lifetime', () => {
  let server
  before(async () => { server = await startServer() })
  after(async () => { await server?.stop() })

  // Each script publishes, records when it finished, then does nothing: the process must end.
  const scripts = {
    'after the last publish': `
      const { Producer } = require(${entry})
      const p = new Producer()
      Promise.all([p.publish('a').to('/life'), p.publish('b').to('/life')]).then(() => console.log(Date.now()))`,
    'after close()': `
      const { Producer } = require(${entry})
      const p = new Producer()
      p.publish('c').to('/life').then(() => { p.close(); console.log(Date.now()) })`,
    'after publish(data, { to })': `
      require(${entry}).publish('d', { to: '/life' }).then(() => console.log(Date.now()))`,
    'after a failed publish': `
      const { Producer } = require(${entry})
      new Producer({ url: 'http://127.0.0.1:DEAD_PORT' }).publish('e').to('/life')
        .catch((e) => console.log(Date.now(), e.code))`,
    'with a producer that never published': `
      const { Producer } = require(${entry})
      globalThis.keep = new Producer()
      console.log(Date.now())`,
  }

  for (const [name, script] of Object.entries(scripts)) {
    test(`a child process exits on its own ${name}`, async () => {
      const code = script.replace('DEAD_PORT', String(await freePort()))
      const run = await runNode(['-e', code], { env: cleanEnv({ PUSH_URL: server.url }) })
      assert.equal(run.code, 0, run.stderr)
      const done = Number(run.stdout.trim().split(/\s+/)[0])
      assert.ok(done > 0, `the script finished its work: ${run.stdout} ${run.stderr}`)
      const lingered = Date.now() - done
      assert.ok(lingered < EXIT_WITHIN_MS, `the process lived ${lingered} ms after its last publish`)
      if (name === 'after a failed publish') assert.match(run.stdout, /CONNECTION_FAILED/)
    })
  }

  test('a pending publish keeps the process alive until it settles', async () => {
    const waiting = longPoll(server.url, '/life/pending')
    await heldLongPolls(server.url, 1)
    // Nothing awaits the promise: the publish alone must hold the process open until it is done.
    const run = await runNode(['-e', `require(${entry}).publish('pending', { to: '/life/pending' })`], {
      env: cleanEnv({ PUSH_URL: server.url }),
    })
    assert.equal(run.code, 0, run.stderr)
    assert.equal((await waiting).body, 'pending')
  })

  test('process.exit() with publishes in flight exits cleanly', async () => {
    const run = await runNode(['-e', `
      const p = new (require(${entry}).Producer)()
      for (let i = 0; i < 100; i++) p.publish('x' + i).to('/life/exit').catch(() => {})
      setImmediate(() => process.exit(7)) // the 100 publishes are in flight`], { env: cleanEnv({ PUSH_URL: server.url }) })
    assert.equal(run.code, 7, run.stderr)
    assert.equal(run.signal, null)
  })

  test('close() (or [Symbol.dispose], as `using` calls it) then publish again reconnects', async () => {
    const producer = new Producer({ url: server.url })
    const first = await producer.publish('1').to('/life/reopen')
    producer.close()
    producer.close()
    await producer.publish('2').to('/life/reopen')
    producer[Symbol.dispose]()
    await producer.publish('3').to('/life/reopen')
    const messages = await readAll(server.url, '/life/reopen', first)
    assert.deepEqual(messages.map((m) => m.data), ['2', '3'])
  })
})

describe('worker_threads', () => {
  let server
  before(async () => { server = await startServer({ historySize: 1000 }) })
  after(async () => { await server?.stop() })

  const workerCode = `
    const { parentPort, workerData } = require('node:worker_threads')
    const { Producer, PushError } = require(workerData.entry)
    const producer = new Producer({ url: workerData.url })
    Promise.all(Array.from({ length: workerData.count }, (_, i) =>
      producer.publish(workerData.name + ' ' + i).to('/workers')))
      .then(async (ids) => {
        const err = await producer.publish('x').to('no-slash').catch((e) => e)
        parentPort.postMessage({ ids, errorIsPushError: err instanceof PushError, code: err.code })
      })`

  function runWorker(name, count) {
    const worker = new Worker(workerCode, {
      eval: true,
      workerData: { entry: path.join(packageDir, 'index.js'), url: server.url, name, count },
    })
    const result = new Promise((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
    })
    const exited = new Promise((resolve) => worker.once('exit', resolve))
    return { result, exited }
  }

  test('workers publish alongside the main thread; the main thread works after they exit', async () => {
    const main = new Producer({ url: server.url })
    const start = await main.publish('start').to('/workers')
    const workers = [runWorker('w1', 50), runWorker('w2', 50)]
    const mainIds = await Promise.all(Array.from({ length: 20 }, (_, i) => main.publish(`main ${i}`).to('/workers')))
    const results = await Promise.all(workers.map((w) => w.result))
    for (const r of results) {
      assert.equal(r.ids.length, 50)
      assert.equal(r.errorIsPushError, true, 'the worker sees its own PushError classes')
      assert.equal(r.code, 'INVALID_CHANNEL')
    }
    // The worker's event loop is empty once it posted: it must end by itself.
    const codes = await Promise.all(workers.map((w) => w.exited))
    assert.deepEqual(codes, [0, 0])

    // A worker's teardown must not stop the runtime the main thread (and later workers) use.
    const lastId = await main.publish('after workers').to('/workers')
    const again = runWorker('w3', 5)
    assert.equal((await again.result).ids.length, 5)
    assert.equal(await again.exited, 0)

    const all = await readAll(server.url, '/workers', start)
    const expected = new Set([...mainIds, ...results.flatMap((r) => r.ids), lastId])
    assert.equal(all.length, expected.size + 5)
    for (const id of expected) assert.ok(all.some((m) => m.id === id), `message ${id} arrived`)
  })

  test('workers one after another, in a process whose main thread never loads push-rs', async () => {
    // The last environment using the addon goes away between workers; the next one must still work.
    const script = `
      const { Worker } = require('node:worker_threads')
      const code = ${JSON.stringify(workerCode)}
      const one = (name) => new Promise((resolve, reject) => {
        const w = new Worker(code, { eval: true, workerData: { entry: ${entry}, url: process.env.PUSH_URL, name, count: 3 } })
        let result
        w.once('message', (m) => { result = m })
        w.once('error', reject)
        w.once('exit', (code) => (code === 0 && result ? resolve(result) : reject(new Error('worker exit ' + code))))
      })
      ;(async () => { for (const name of ['a', 'b', 'c']) console.log((await one(name)).ids.join(',')) })()
        .catch((e) => { console.error(e); process.exitCode = 1 })`
    const run = await runNode(['-e', script], { env: cleanEnv({ PUSH_URL: server.url }) })
    assert.equal(run.code, 0, run.stderr)
    const ids = run.stdout.trim().split(/[\n,]/)
    assert.equal(ids.length, 9)
    assert.ok(ids.every((id) => /^\d+$/.test(id)), run.stdout)
  })

  test('terminating a worker with a publish in flight leaves the process healthy', async () => {
    const worker = new Worker(
      `const { parentPort, workerData } = require('node:worker_threads')
       const { Producer } = require(workerData.entry)
       const p = new Producer({ url: workerData.url })
       for (let i = 0; i < 200; i++) p.publish('t' + i).to('/workers/terminated').catch(() => {})
       parentPort.postMessage('publishing')`,
      { eval: true, workerData: { entry: path.join(packageDir, 'index.js'), url: server.url } },
    )
    await once(worker, 'message') // 200 publishes are in flight now
    await worker.terminate()
    const id = await new Producer({ url: server.url }).publish('still fine').to('/workers/terminated')
    assert.match(id, /^\d+$/)
  })
})
