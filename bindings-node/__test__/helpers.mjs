// Test helpers: a real push server on a free port (in-process), and plain-HTTP reads of what it
// delivered.
import { spawn } from 'node:child_process'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

import { Server } from '../index.mjs'

export const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
/** The package's `push-server` command (bin/push-server.js): run it with `node`. */
export const serverCli = path.join(packageDir, 'bin', 'push-server.js')

/** The environment without PUSH_* variables, so neither server nor producer picks them up by accident. */
export function cleanEnv(extra = {}) {
  const env = {}
  for (const [k, v] of Object.entries(process.env)) if (!k.startsWith('PUSH_')) env[k] = v
  return { ...env, ...extra }
}

/** A TCP port nothing listens on (the OS picked it a moment ago). */
export async function freePort() {
  const server = net.createServer()
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  const { port } = server.address()
  await new Promise((resolve) => server.close(resolve))
  return port
}

/**
 * Starts a push server in this process (`Server.start`, the package's own API) on a free port,
 * with `options` (the flags by name, e.g. `{ historySize: 1000 }`); it has `url`, `port`, `stop()`.
 */
export async function startServer(options = {}) {
  return Server.start(options)
}

/** The server's `push_connections{transport="..."}` gauge (open subscriber connections). */
export async function connections(url, transport = 'long-poll') {
  const text = await (await fetch(`${url}/_push/metrics`)).text()
  const line = text.split('\n').find((l) => l.startsWith(`push_connections{transport="${transport}"}`))
  return line ? Number(line.split(' ').pop()) : 0
}

/**
 * Resolves with the first truthy result of `check()` (sync or async), polled every 10 ms: a wait
 * on observable state (a gauge, a port, a process), never a guess at how long something takes.
 */
export async function waitFor(check, what, timeoutMs = 10000) {
  const deadline = Date.now() + timeoutMs
  for (;;) {
    const result = await check()
    if (result) return result
    if (Date.now() > deadline) throw new Error(`still waiting after ${timeoutMs} ms for ${what}`)
    await new Promise((resolve) => setTimeout(resolve, 10)) // the poll interval
  }
}

/** Resolves once the server holds `count` long-polls (its gauge says so), so a publish reaches them. */
export async function heldLongPolls(url, count = 1, timeoutMs = 10000) {
  return waitFor(async () => {
    const held = await connections(url)
    return held >= count && held
  }, `${count} long-polls held by ${url}`, timeoutMs)
}

/**
 * Every message after `after` on `channel`, through the JSON batch read, page by page
 * (`more` says another page may follow; `timeout=0` answers at once instead of waiting).
 * Fails on a gap: the tests expect nothing lost.
 */
export async function readAll(url, channel, after) {
  const messages = []
  let cursor = after
  for (;;) {
    const res = await fetch(`${url}${channel}?after=${cursor}&timeout=0`, { headers: { accept: 'application/json' } })
    if (res.status !== 200) throw new Error(`batch read answered ${res.status}: ${await res.text()}`)
    const body = await res.json()
    if (body.gaps?.length) throw new Error(`gap in batch read: ${JSON.stringify(body.gaps)}`)
    messages.push(...body.messages)
    if (!body.more || !body.messages.length) return messages
    cursor = body.last_id
  }
}

/**
 * An SSE subscription read as it arrives: `text` grows with the stream, `ended` resolves with the
 * whole text once the server ends it; `close()` aborts it.
 */
export async function sse(url, path, headers = {}) {
  const controller = new AbortController()
  const res = await fetch(`${url}${path}`, { headers: { accept: 'text/event-stream', ...headers }, signal: controller.signal })
  const stream = { status: res.status, text: '' }
  const decoder = new TextDecoder()
  stream.ended = (async () => {
    try {
      for await (const chunk of res.body) stream.text += decoder.decode(chunk, { stream: true })
    } catch (err) {
      if (err.name !== 'AbortError') throw err
    }
    return stream.text
  })()
  stream.close = async () => {
    controller.abort()
    await stream.ended
  }
  return stream
}

/** A long-poll GET; resolves when the server answers. */
export async function longPoll(url, channel, query = '') {
  const res = await fetch(`${url}${channel}${query}`)
  return { status: res.status, id: res.headers.get('push-id'), body: await res.text(), contentType: res.headers.get('content-type') }
}

/** Runs `node` with `args`; resolves with its exit code, output and how long it ran. */
export function runNode(args, { env = cleanEnv(), cwd = packageDir, timeoutMs = 20000 } = {}) {
  return new Promise((resolve, reject) => {
    const started = Date.now()
    const child = spawn(process.execPath, args, { env, cwd, stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.on('data', (d) => { stdout += d })
    child.stderr.on('data', (d) => { stderr += d })
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`node ${args.join(' ')} still running after ${timeoutMs} ms; stderr: ${stderr}`))
    }, timeoutMs)
    child.on('error', reject)
    child.on('exit', (code, signal) => {
      clearTimeout(timer)
      resolve({ code, signal, stdout, stderr, ms: Date.now() - started })
    })
  })
}
