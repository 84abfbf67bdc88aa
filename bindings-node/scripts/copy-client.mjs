// Copies the browser client, ../client-js/push.js, into this package as client.js, which the
// package exports as `push-rs/client`. client.js is generated (gitignored): `npm run build` and
// `npm pack`/`npm publish` (prepack) run this, so the tarball always carries the current client.
// Quiet on success: `npm pack --json` prints its JSON on the same stdout.
import { copyFileSync, existsSync } from 'node:fs'
import path from 'node:path'
import { fileURLToPath } from 'node:url'

const packageDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..')
const source = path.resolve(packageDir, '..', 'client-js', 'push.js')
const target = path.join(packageDir, 'client.js')

if (existsSync(source)) {
  copyFileSync(source, target)
} else if (existsSync(target)) {
  // Outside the repository (an unpacked tarball), the copy that came with the package stays.
  console.error(`push-rs: ${path.relative(packageDir, source)} not found; keeping the existing client.js`)
} else {
  console.error(`push-rs: the browser client ${source} is missing, so push-rs/client cannot be built`)
  process.exit(1)
}
