#!/usr/bin/env node
'use strict'
// `push-server` from the npm package (`npx push-server`): the same command line as the Cargo
// binary (flags, PUSH_* variables, --help, subcommands, exit codes), run by the server linked
// into the addon. It blocks this thread until the server stops (SIGINT/SIGTERM) or the
// subcommand is done; the server restores the default signal handlers first, so Node's own
// do not interfere.
const { runServerCli } = require('../binding.js')

process.exit(runServerCli(['push-server', ...process.argv.slice(2)]))
