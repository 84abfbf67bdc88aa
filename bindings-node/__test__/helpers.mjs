// Test helpers: a real push-server on a free port, and plain-HTTP reads of what it delivered.
import { spawn } from 'node:child_process'
import { existsSync } from 'node:fs'
import net from 'node:net'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

export const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
export const serverBin = process.env.PUSH_SERVER_BIN || path.resolve(packageDir, '..', 'target', 'release', 'push-server')

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

/** Starts push-server with `args` on a free port; resolves when /_push/health answers 200. */
export async function startServer(args = []) {
  if (!existsSync(serverBin)) throw new Error(`push-server not found at ${serverBin}; set PUSH_SERVER_BIN`)
  for (let attempt = 0; ; attempt++) {
    const port = await freePort()
    const child = spawn(serverBin, ['--bind', `127.0.0.1:${port}`, '--log', 'warn', ...args], {
      env: cleanEnv(),
      stdio: ['ignore', 'ignore', 'pipe'],
    })
    let stderr = ''
    child.stderr.on('data', (d) => { stderr += d })
    const exited = new Promise((resolve) => child.once('exit', resolve))
    // Should the test process die first, its servers must not outlive it.
    const reap = () => child.kill('SIGKILL')
    process.once('exit', reap)
    exited.then(() => process.off('exit', reap))
    const url = `http://127.0.0.1:${port}`
    const deadline = Date.now() + 15000
    let ready = false
    while (Date.now() < deadline && child.exitCode === null) {
      try {
        const res = await fetch(`${url}/_push/health`)
        await res.arrayBuffer()
        if (res.status === 200) { ready = true; break }
      } catch {}
      await sleep(50)
    }
    if (ready) {
      return {
        url,
        port,
        async stop() {
          if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM')
          await exited
        },
      }
    }
    child.kill('SIGKILL')
    await exited
    // Another process may have taken the port between freePort() and the bind: try again.
    if (attempt >= 2) throw new Error(`push-server did not start on ${url}: ${stderr}`)
  }
}

export const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

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
