// https:// and amqps:// producers with a test CA, and certificate problems as TlsError.
// One RabbitMQ node with an amqps listener serves this file (scripts/rabbitmq-tls: its own node
// name, ports and data; the shared node on 5672 is not touched), stopped at the end. Its
// directory holds the test CA (certs/ca.pem), a server certificate it signed for 127.0.0.1 (the
// https push-server uses it too), and an unrelated CA (certs/other-ca.pem).
import assert from 'node:assert/strict'
import { execFileSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import os from 'node:os'
import path from 'node:path'
import { after, before, describe, test } from 'node:test'

import * as push from '../index.mjs'
import { packageDir, startServer } from './helpers.mjs'

const { Producer, PushError, TlsError } = push
const script = path.join(packageDir, '..', 'scripts', 'rabbitmq-tls')

describe('TLS: https:// and amqps://', () => {
  let dir, env, server, httpsUrl
  let streams = 0
  const streamUrl = (name) => `${env.AMQPS_URL}?stream=push.node.tls.${name}.${process.pid}.${++streams}`

  before(async () => {
    dir = mkdtempSync(path.join(os.tmpdir(), 'push-node-tls-'))
    execFileSync(script, ['start', dir], { stdio: ['ignore', 'pipe', 'inherit'] })
    env = Object.fromEntries(readFileSync(path.join(dir, 'env'), 'utf8').trim().split('\n').map((l) => l.split(/=(.*)/s).slice(0, 2)))
    const certs = path.join(dir, 'certs')
    server = await startServer({ tlsCert: path.join(certs, 'server.pem'), tlsKey: path.join(certs, 'server-key.pem') })
    httpsUrl = `https://127.0.0.1:${server.port}`
  })

  after(async () => {
    await server?.stop()
    if (dir) {
      execFileSync(script, ['stop', dir], { stdio: 'inherit' })
      rmSync(dir, { recursive: true, force: true })
    }
  })

  /** The rejection of `publish()`, checked to be a TlsError that came at once (no retries). */
  async function tlsError(publish) {
    const started = performance.now()
    const err = await publish().then(() => assert.fail('published despite the certificate'), (e) => e)
    assert.ok(err instanceof TlsError, `${err?.name}: ${err?.message}`)
    assert.equal(Object.getPrototypeOf(TlsError), PushError)
    assert.equal(err.code, 'TLS_ERROR')
    assert.equal(err.retryable, false)
    assert.equal(err.maybeStored, false)
    assert.equal(err.status, undefined)
    assert.match(err.message, /not signed by a trusted CA/)
    assert.ok(performance.now() - started < 5000, 'a certificate problem is not retried until the timeout')
    return err
  }

  test('https:// with caFile, and with PUSH_CA_FILE', async () => {
    const id = await new Producer({ url: httpsUrl, caFile: env.CA_FILE }).publish('over https').to('/tls/https')
    assert.match(id, /^\d+$/)
    process.env.PUSH_CA_FILE = env.CA_FILE
    try {
      assert.match(await new Producer({ url: httpsUrl }).publish('from PUSH_CA_FILE').to('/tls/https'), /^\d+$/)
    } finally {
      delete process.env.PUSH_CA_FILE
    }
  })

  test('https:// with another CA, or the system roots alone: TlsError', async () => {
    await tlsError(() => new Producer({ url: httpsUrl, caFile: env.OTHER_CA_FILE }).publish('x').to('/tls/https'))
    await tlsError(() => new Producer({ url: httpsUrl }).publish('x').to('/tls/https'))
  })

  test('amqps:// with caFile', async () => {
    const producer = new Producer({ url: streamUrl('ok'), caFile: env.CA_FILE })
    const first = await producer.publish('over amqps').to('/tls/amqps')
    const second = await producer.publish('again').to('/tls/amqps')
    assert.ok(BigInt(second) > BigInt(first))
    producer.close()
  })

  test('amqps:// with another CA: TlsError', async () => {
    await tlsError(() => new Producer({ url: streamUrl('wrong'), caFile: env.OTHER_CA_FILE }).publish('x').to('/tls/amqps'))
  })

  test('publish() reads PUSH_CA_FILE, and is remade when it changes', async () => {
    const saved = { url: process.env.PUSH_URL, ca: process.env.PUSH_CA_FILE }
    try {
      process.env.PUSH_URL = streamUrl('default')
      process.env.PUSH_CA_FILE = env.CA_FILE
      assert.match(await push.publish('default over amqps', { to: '/tls/default' }), /^\d+$/)
      process.env.PUSH_CA_FILE = env.OTHER_CA_FILE
      await tlsError(() => push.publish('x', { to: '/tls/default' }))
    } finally {
      for (const [name, value] of [['PUSH_URL', saved.url], ['PUSH_CA_FILE', saved.ca]]) {
        if (value === undefined) delete process.env[name]
        else process.env[name] = value
      }
    }
  })

  test('an unreadable CA file throws TlsError from the constructor', () => {
    assert.throws(() => new Producer({ url: 'https://127.0.0.1:1', caFile: '/nonexistent/ca.pem' }), (e) => e instanceof TlsError && /\/nonexistent\/ca\.pem/.test(e.message))
    const junk = path.join(dir, 'junk.pem')
    writeFileSync(junk, 'not a certificate\n')
    assert.throws(() => new Producer({ url: 'amqps://127.0.0.1/%2f', caFile: junk }), (e) => e instanceof TlsError && /no PEM certificate/.test(e.message))
    assert.throws(() => new Producer({ url: httpsUrl, caFile: 42 }), TypeError)
  })
})
