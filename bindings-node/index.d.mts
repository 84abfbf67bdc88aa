// Types of the ESM entry (index.mjs): the same names as the CommonJS entry.
export * from './index.js'
