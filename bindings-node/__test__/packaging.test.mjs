// scripts/package writes tarballs that install offline with no Rust toolchain (cargo and rustc
// off PATH, a fresh npm prefix, cache and HOME) and work where they are installed: the API,
// the browser client (`push-rs/client`) and the `push-server` command (`npx push-server`).
import assert from 'node:assert/strict'
import { execFile, spawn } from 'node:child_process'
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { after, before, describe, test } from 'node:test'

import { cleanEnv, freePort, heldLongPolls, packageDir, readAll, runNode, startServer, waitFor } from './helpers.mjs'

const run = promisify(execFile)
const { version } = JSON.parse(await readFile(path.join(packageDir, 'package.json'), 'utf8'))
const PLATFORM = 'linux-x64-gnu'

/** Files of a tarball, without npm's `package/` prefix. */
async function tarFiles(tarball) {
  const { stdout } = await run('tar', ['-tzf', tarball])
  return stdout.trim().split('\n').map((f) => f.replace(/^package\//, '')).sort()
}

async function tarJson(tarball, file) {
  const { stdout } = await run('tar', ['-xzOf', tarball, `package/${file}`])
  return JSON.parse(stdout)
}

describe('packaging', () => {
  let server
  let tmp
  let tarball
  let platformTarball
  let project
  let env // a user's machine: no cargo or rustc on PATH, a fresh HOME and npm prefix and cache

  const npm = (args, cwd) => run('npm', ['--no-audit', '--no-fund', '--loglevel=error', ...args], { cwd, env })

  before(async () => {
    server = await startServer()
    tmp = await mkdtemp(path.join(os.tmpdir(), 'push-rs-pack-'))
    const home = path.join(tmp, 'home')
    await mkdir(home)
    env = cleanEnv({
      PATH: process.env.PATH.split(path.delimiter).filter((dir) => !/cargo|rustc|rustup/.test(dir)).join(path.delimiter),
      HOME: home,
      npm_config_cache: path.join(home, 'npm-cache'),
      npm_config_prefix: path.join(home, 'npm-prefix'),
      npm_config_userconfig: path.join(home, '.npmrc'),
    })
    for (const name of Object.keys(env)) if (/^(CARGO|RUSTUP|RUSTC)/.test(name)) delete env[name]
  })
  after(async () => {
    await server?.stop()
    if (tmp) await rm(tmp, { recursive: true, force: true })
  })

  // The addon is built for glibc 2.17 (zig) apart from ci.sh's build: on a fresh checkout that
  // compiles the dependencies for it, longer than ci.sh's default test timeout.
  test('scripts/package writes the package with the addon and push-server, and the per-platform package', { timeout: 30 * 60 * 1000 }, async () => {
    const dist = path.join(tmp, 'dist')
    // scripts/package also checks the tarballs' addon (glibc <= 2.17, no debug info) and fails if not.
    const { stdout } = await run(path.join(packageDir, 'scripts', 'package'), [dist], { env: cleanEnv(), maxBuffer: 1 << 24 })
    const printed = stdout.trim().split('\n').slice(-2)
    assert.deepEqual(printed, [path.join(dist, `push-rs-${version}.tgz`), path.join(dist, `push-rs-${PLATFORM}-${version}.tgz`)])
    ;[tarball, platformTarball] = printed

    const files = await tarFiles(tarball)
    const expected = ['index.js', 'index.mjs', 'index.d.ts', 'index.d.mts', 'binding.js', 'client.js', 'bin/push-server.js',
      'package.json', 'README.md', `push-rs.${PLATFORM}.node`,
      'lib/check.js', 'lib/html.js', 'lib/htmx.js', 'lib/subscribe-url.js', 'lib/turbo.js']
    for (const f of expected) assert.ok(files.includes(f), `${f} is in the tarball: ${files}`)
    const internal = ['src/', '__test__/', 'node_modules/', 'scripts/', 'npm/', 'Cargo.toml']
    assert.ok(!files.some((f) => internal.some((dir) => f.startsWith(dir))), `${files}`)
    const manifest = await tarJson(tarball, 'package.json')
    assert.deepEqual(manifest.bin, { 'push-server': 'bin/push-server.js' })
    // Nothing npm would have to fetch: the tarball must install alone, offline.
    assert.equal(manifest.optionalDependencies, undefined)
    assert.equal(manifest.dependencies, undefined)

    const platformManifest = await tarJson(platformTarball, 'package.json')
    assert.equal(platformManifest.name, `push-rs-${PLATFORM}`)
    assert.equal(platformManifest.version, version)
    assert.deepEqual([platformManifest.os, platformManifest.cpu, platformManifest.libc], [['linux'], ['x64'], ['glibc']])
    assert.equal(platformManifest.main, `push-rs.${PLATFORM}.node`)
    assert.ok((await tarFiles(platformTarball)).includes(`push-rs.${PLATFORM}.node`))
  })

  test('the tarball installs offline, with no Rust toolchain, into an empty project and publishes from there', async () => {
    assert.ok(tarball, 'scripts/package ran')
    await assert.rejects(run('sh', ['-c', 'command -v cargo || command -v rustc'], { env }), 'cargo and rustc are off PATH')
    project = path.join(tmp, 'app')
    await mkdir(project)
    await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'app', private: true }))
    await npm(['install', '--offline', tarball], project)

    const publishEnv = { ...env, PUSH_URL: server.url }
    const cjs = await runNode(['-e', `
      const { Producer, PushError, Token } = require('push-rs')
      console.log(require.resolve('push-rs'))
      const token = Token.sign({ secret: 's3cret', channel: '/rooms/*', consumer: 'alice', expiresAt: 2000000000 })
      if (token !== 'push1.L3Jvb21zLyoKYWxpY2UKMjAwMDAwMDAwMA.uuwyPB4kr8XuuAm2aPVU1Hi7BBPL1FqUiPz0ibfoEMY') throw new Error(token)
      const { turbo } = require('push-rs') // lib/, which index.js loads
      const refresh = turbo.stream('refresh')
      if (refresh !== '<turbo-stream action="refresh"></turbo-stream>') throw new Error(refresh)
      new Producer().publish('from cjs').to('/packed').then((id) => console.log(id))`], { cwd: project, env: publishEnv })
    assert.equal(cjs.code, 0, cjs.stderr)
    const [resolved, first] = cjs.stdout.trim().split('\n')
    assert.ok(resolved.startsWith(path.join(project, 'node_modules', 'push-rs')), resolved)

    const esm = await runNode(['--input-type=module', '-e', `
      import { Producer, InvalidChannelError, htmx } from 'push-rs'
      const attrs = htmx.sseAttributes('/packed', { token: false, url: 'https://push.example.com' })
      if (attrs !== 'hx-ext="sse" sse-connect="https://push.example.com/packed"') throw new Error(attrs)
      const err = await new Producer().publish('x').to('bad').catch((e) => e)
      if (!(err instanceof InvalidChannelError)) throw err
      console.log(await new Producer().publish('from esm').to('/packed'))`], { cwd: project, env: publishEnv })
    assert.equal(esm.code, 0, esm.stderr)

    const messages = await readAll(server.url, '/packed', first)
    assert.deepEqual(messages.map((m) => [m.id, m.data]), [[esm.stdout.trim(), 'from esm']])
  })

  test('push-server from the installed package (npx push-server) serves the seed flow and stops on SIGTERM', async () => {
    assert.ok(project, 'the tarball was installed')
    const npx = (args) => run('npx', ['--no-install', 'push-server', ...args], { cwd: project, env }).then(
      (r) => ({ code: 0, ...r }), (e) => e)
    const help = await npx(['--help'])
    assert.equal(help.code, 0, help.stderr)
    assert.match(help.stdout, /Usage: push-server/)
    const bad = await npx(['--no-such-flag'])
    assert.equal(bad.code, 2, `a bad flag exits 2: ${bad.stderr}`)
    assert.match(bad.stderr, /--no-such-flag/)

    // The server runs as node_modules/.bin/push-server, which npx runs through `sh -c`: a
    // SIGTERM sent to npx alone would stop at that shell, so this one goes to the command itself.
    const port = await freePort()
    const url = `http://127.0.0.1:${port}`
    const bin = path.join(project, 'node_modules', '.bin', 'push-server')
    const pushServer = spawn(bin, ['--bind', `127.0.0.1:${port}`], { cwd: project, env, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    pushServer.stderr.on('data', (d) => { stderr += d })
    const exited = new Promise((resolve) => pushServer.once('exit', (code, signal) => resolve({ code, signal })))
    try {
      // Ready when /_push/health answers 200.
      await waitFor(() => {
        assert.equal(pushServer.exitCode, null, `push-server exited: ${stderr}`)
        return fetch(`${url}/_push/health`).then((r) => r.status === 200, () => false)
      }, 'push-server to answer /_push/health', 20000)
      const curl = spawn('curl', ['-s', `${url}/greetings`], { env, stdio: ['ignore', 'pipe', 'inherit'] })
      let received = ''
      curl.stdout.on('data', (d) => { received += d })
      const curlDone = new Promise((resolve) => curl.once('exit', resolve))
      await heldLongPolls(url, 1)
      const published = await runNode(['-e', `new (require('push-rs').Producer)().publish('hi there!').to('/greetings')`], {
        cwd: project, env: { ...env, PUSH_URL: url },
      })
      assert.equal(published.code, 0, published.stderr)
      assert.equal(await curlDone, 0)
      assert.equal(received, 'hi there!')

      pushServer.kill('SIGTERM')
      assert.deepEqual(await exited, { code: 0, signal: null }, stderr)
    } finally {
      pushServer.kill('SIGKILL')
    }
  })

  test('the installed package exports the browser client as push-rs/client', async () => {
    assert.ok(project, 'the tarball was installed')
    const installedClient = path.join(project, 'node_modules', 'push-rs', 'client.js')
    const cjs = await runNode(['-e', `
      console.log(require.resolve('push-rs/client'))
      const loaded = require('push-rs/client')
      // A browser script: it defines the global Push (or exports it, should it become UMD).
      const Push = globalThis.Push ?? loaded
      if (typeof Push.subscribe !== 'function') throw new Error('no Push.subscribe')`], { cwd: project, env })
    assert.equal(cjs.code, 0, cjs.stderr)
    assert.equal(cjs.stdout.trim(), installedClient)
    const esm = await runNode(['--input-type=module', '-e', `console.log(import.meta.resolve('push-rs/client'))`], { cwd: project, env })
    assert.equal(esm.code, 0, esm.stderr)
    assert.equal(esm.stdout.trim(), pathToFileURL(installedClient).href)
    // The tarball carries the client as it is in the repository (prepack copied it just now).
    const source = await readFile(path.join(packageDir, '..', 'client-js', 'push.js'))
    assert.ok((await readFile(installedClient)).equals(source), 'client.js is a copy of client-js/push.js')
  })

  test('with the per-platform package installed too, binding.js loads the addon from it', async () => {
    assert.ok(platformTarball, 'scripts/package ran')
    const both = path.join(tmp, 'app-both')
    await mkdir(both)
    await writeFile(path.join(both, 'package.json'), JSON.stringify({ name: 'app-both', private: true }))
    await npm(['install', '--offline', tarball, platformTarball], both)
    // Without its own copy of the addon, push-rs falls back to push-rs-linux-x64-gnu.
    await rm(path.join(both, 'node_modules', 'push-rs', `push-rs.${PLATFORM}.node`))
    const check = await runNode(['-e', `
      const { Server } = require('push-rs')
      Server.start().then(async (server) => {
        const status = (await fetch(server.url + '/_push/health')).status
        await server.stop()
        console.log(status)
      })`], { cwd: both, env })
    assert.equal(check.code, 0, check.stderr)
    assert.equal(check.stdout.trim(), '200')
  })
})
