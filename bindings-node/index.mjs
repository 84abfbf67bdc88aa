// ESM entry of push-rs: the CommonJS entry (index.js) re-exported, as named exports.
// (Node reads index.js's export names from its `module.exports = { ... }`.)
export * from './index.js'
