'use strict'
// Argument checks shared by index.js and the helpers in lib/: wrong JavaScript types and helper
// input throw TypeErrors that say what was given and what is allowed (sdk-core checks the values
// it owns, such as channel names, and throws the PushError subclasses).

/** What `value` is, for a message: `null`, `an array`, `"text"` for a string, else its typeof. */
function described(value) {
  if (value === null) return 'null'
  if (Array.isArray(value)) return 'an array'
  if (typeof value === 'string') return JSON.stringify(value)
  return typeof value
}

/** `TypeError: <what> must be <expected>, got <what it is>`. */
function argError(what, expected, value) {
  const got = value === null ? 'null' : Array.isArray(value) ? 'an array' : typeof value
  return new TypeError(`${what} must be ${expected}, got ${got}`)
}

/** `null` and `undefined` both mean "not given". */
const given = (value) => value !== undefined && value !== null

/**
 * The options object of helper `where` (`{}` when omitted), refusing keys it does not know:
 * a misspelled option (`traget`) would otherwise be dropped without a word.
 */
function knownOptions(options, allowed, where) {
  if (!given(options)) return {}
  if (typeof options !== 'object' || Array.isArray(options)) throw argError(`${where} options`, 'an object', options)
  for (const key of Object.keys(options)) {
    if (!allowed.includes(key)) {
      throw new TypeError(`${where}: unknown option ${JSON.stringify(key)}; the options are ${allowed.join(', ')}`)
    }
  }
  return options
}

/** `value` when it is a string (or not given: `undefined`); a TypeError otherwise. */
function optionalText(value, what, { nonEmpty = false } = {}) {
  if (!given(value)) return undefined
  if (typeof value !== 'string' || (nonEmpty && value === '')) {
    throw new TypeError(`${what} must be a ${nonEmpty ? 'non-empty ' : ''}string, got ${described(value)}`)
  }
  return value
}

module.exports = { argError, described, given, knownOptions, optionalText }
