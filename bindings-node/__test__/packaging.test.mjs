// `npm pack` gives a tarball that installs offline and works where it is installed, with the
// browser client (../client-js/push.js, copied by prepack) as `push-rs/client`.
import assert from 'node:assert/strict'
import { execFile } from 'node:child_process'
import { mkdtemp, readFile, readdir, rm, writeFile } from 'node:fs/promises'
import os from 'node:os'
import path from 'node:path'
import { pathToFileURL } from 'node:url'
import { promisify } from 'node:util'
import { after, before, describe, test } from 'node:test'

import { cleanEnv, packageDir, readAll, runNode, startServer } from './helpers.mjs'

const run = promisify(execFile)
const npm = (args, cwd) => run('npm', ['--no-audit', '--no-fund', '--loglevel=error', ...args], { cwd, env: cleanEnv() })

describe('packaging', () => {
  let server
  let tmp
  let installed
  before(async () => {
    server = await startServer()
    tmp = await mkdtemp(path.join(os.tmpdir(), 'push-rs-pack-'))
  })
  after(async () => {
    await server?.stop()
    if (tmp) await rm(tmp, { recursive: true, force: true })
  })

  test('npm pack includes the loader, the types, the built addon and the browser client', async () => {
    const { stdout } = await npm(['pack', '--json', '--pack-destination', tmp], packageDir)
    const [info] = JSON.parse(stdout)
    const files = info.files.map((f) => f.path).sort()
    for (const f of ['index.js', 'index.mjs', 'index.d.ts', 'index.d.mts', 'binding.js', 'client.js', 'package.json', 'README.md']) {
      assert.ok(files.includes(f), `${f} is in the tarball: ${files}`)
    }
    const addon = `push-rs.${process.platform}-${process.arch}`
    assert.ok(files.some((f) => f.startsWith(addon) && f.endsWith('.node')), `${addon}*.node is in the tarball: ${files}`)
    const internal = ['src/', '__test__/', 'node_modules/', 'scripts/']
    assert.ok(!files.some((f) => internal.some((dir) => f.startsWith(dir))), `${files}`)
    installed = path.join(tmp, info.filename)
  })

  test('the tarball installs offline into an empty project and publishes from there', async () => {
    assert.ok(installed, 'npm pack ran')
    const project = path.join(tmp, 'app')
    await run('mkdir', ['-p', project])
    await writeFile(path.join(project, 'package.json'), JSON.stringify({ name: 'app', private: true }))
    await npm(['install', '--offline', installed], project)
    assert.ok((await readdir(path.join(project, 'node_modules', 'push-rs'))).some((f) => f.endsWith('.node')))

    const env = cleanEnv({ PUSH_URL: server.url })
    const cjs = await runNode(['-e', `
      const { Producer, PushError, Token } = require('push-rs')
      console.log(require.resolve('push-rs'))
      const token = Token.sign({ secret: 's3cret', channel: '/rooms/*', consumer: 'alice', expiresAt: 2000000000 })
      if (token !== 'push1.L3Jvb21zLyoKYWxpY2UKMjAwMDAwMDAwMA.uuwyPB4kr8XuuAm2aPVU1Hi7BBPL1FqUiPz0ibfoEMY') throw new Error(token)
      new Producer().publish('from cjs').to('/packed').then((id) => console.log(id))`], { cwd: project, env })
    assert.equal(cjs.code, 0, cjs.stderr)
    const [resolved, first] = cjs.stdout.trim().split('\n')
    assert.ok(resolved.startsWith(path.join(project, 'node_modules', 'push-rs')), resolved)

    const esm = await runNode(['--input-type=module', '-e', `
      import { Producer, InvalidChannelError } from 'push-rs'
      const err = await new Producer().publish('x').to('bad').catch((e) => e)
      if (!(err instanceof InvalidChannelError)) throw err
      console.log(await new Producer().publish('from esm').to('/packed'))`], { cwd: project, env })
    assert.equal(esm.code, 0, esm.stderr)

    const messages = await readAll(server.url, '/packed', first)
    assert.deepEqual(messages.map((m) => [m.id, m.data]), [[esm.stdout.trim(), 'from esm']])
  })

  test('the installed package exports the browser client as push-rs/client', async () => {
    assert.ok(installed, 'npm pack ran')
    const project = path.join(tmp, 'app')
    const installedClient = path.join(project, 'node_modules', 'push-rs', 'client.js')
    const cjs = await runNode(['-e', `
      console.log(require.resolve('push-rs/client'))
      const loaded = require('push-rs/client')
      // A browser script: it defines the global Push (or exports it, should it become UMD).
      const Push = globalThis.Push ?? loaded
      if (typeof Push.subscribe !== 'function') throw new Error('no Push.subscribe')`], { cwd: project })
    assert.equal(cjs.code, 0, cjs.stderr)
    assert.equal(cjs.stdout.trim(), installedClient)
    const esm = await runNode(['--input-type=module', '-e', `console.log(import.meta.resolve('push-rs/client'))`], { cwd: project })
    assert.equal(esm.code, 0, esm.stderr)
    assert.equal(esm.stdout.trim(), pathToFileURL(installedClient).href)
    // The tarball carries the client as it is in the repository (prepack copied it just now).
    const source = await readFile(path.join(packageDir, '..', 'client-js', 'push.js'))
    assert.ok((await readFile(installedClient)).equals(source), 'client.js is a copy of client-js/push.js')
  })
})
