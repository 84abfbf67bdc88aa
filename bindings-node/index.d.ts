// Type definitions for push-rs (written by hand; checked against the examples with `tsc --strict`).

/** What a message may be: text (sent as UTF-8) or bytes (a Buffer, Uint8Array, any other view, an ArrayBuffer). */
export type PublishData = string | ArrayBufferView | ArrayBuffer

export interface ProducerOptions {
  /** `http://host:port` of a push server. Default: `process.env.PUSH_URL`, else `http://127.0.0.1:4000`. */
  url?: string | null
  /** Sent as `Authorization: Bearer <key>`. Default: `process.env.PUSH_PUBLISH_KEY`. */
  publishKey?: string | null
  /** Time limit for one publish, connecting included, in milliseconds. Default: 10000. */
  timeoutMs?: number | null
}

export interface PublishOptions {
  /**
   * The message's content type. Default: `text/plain; charset=utf-8` for strings and bytes that
   * are valid UTF-8, `application/octet-stream` for other bytes.
   */
  contentType?: string | null
  /**
   * Makes retries safe: a publish with a key already used for the same channel (within the
   * server's `--idempotency-window`) stores nothing and resolves to the first id. 1 to 255
   * visible ASCII characters, e.g. `'order-9'`; others reject with `BadRequestError`. Default:
   * a fresh key per `.to()`, with which the producer retries failures that may have stored it.
   */
  idempotencyKey?: string | null
}

export interface PublishToOptions extends PublishOptions {
  /** The channel, a URL path such as `/greetings`. */
  to: string
}

/** A publish waiting for its channel, made by `producer.publish(data)`. */
export declare class Publication {
  private constructor()
  /**
   * Publishes to `channel` and resolves to the message id (a decimal string) once the server has
   * accepted it. Rejects with a `PushError` subclass (or a `TypeError` for wrong argument types).
   * Each call publishes once more, unless its `idempotencyKey` was already used for `channel`:
   * then it resolves to the first id.
   */
  to(channel: string): Promise<string>
}

/** Publishes messages to a push server. Connects on first use; one producer can be shared. */
export declare class Producer {
  /** Checks the options (throws `InvalidConfigError`); does not connect. */
  constructor(options?: ProducerOptions)
  /** The server URL in use, after `PUSH_URL` and the default applied. */
  readonly url: string
  /** `await producer.publish(data).to('/greetings')` */
  publish(data: PublishData, options?: PublishOptions): Publication
  /** Drops idle connections. The producer stays usable: the next publish reconnects. */
  close(): void
}

/** `await publish(data, { to: '/greetings' })` with a producer made from the environment. */
export declare function publish(data: PublishData, options: PublishToOptions): Promise<string>

export interface TokenOptions {
  /**
   * The channel the token lets a subscriber read (`/rooms/42`), or a pattern ending in `/*` that
   * covers every channel below a prefix (`/rooms/*` covers `/rooms/1` and `/rooms/1/chat`, not
   * `/rooms`; `/*` covers all). Throws `InvalidChannelError` when it is not valid.
   */
  channel: string
  /** When set, only a subscriber sending this consumer id (`Consumer-Id` or `?consumer=`) may use the token. */
  consumer?: string | null
  /** Seconds from now until the token expires. Default: 3600. Ignored when `expiresAt` is given. */
  expiresIn?: number | null
  /** When the token expires: Unix time in seconds (not milliseconds), or a `Date`. */
  expiresAt?: number | Date | null
  /**
   * The secret the server checks tokens with (`push-server --secret`). Default:
   * `process.env.PUSH_SECRET`, read at each call; missing or empty throws `InvalidConfigError`.
   */
  secret?: string | ArrayBufferView | ArrayBuffer | null
}

/** Subscriber tokens, for a server started with `--auth token --secret <secret>`. */
export declare namespace Token {
  /**
   * Signs a token (synchronously, in the Rust core: the same string as every other push-rs SDK
   * and `push-server token` for the same inputs). Hand it to the subscriber, which sends it as
   * `?token=` or `Authorization: Bearer`. Throws `InvalidConfigError` (no secret, bad consumer id
   * or expiry), `InvalidChannelError`, or `TypeError` for wrong argument types.
   */
  function sign(options: TokenOptions): string
}

/** Every code a `PushError` may carry; new codes may be added in later versions. */
export type PushErrorCode =
  | 'INVALID_CHANNEL'
  | 'INVALID_CURSOR'
  | 'PAYLOAD_TOO_LARGE'
  | 'UNAUTHORIZED'
  | 'FORBIDDEN'
  | 'CONNECTION_FAILED'
  | 'TIMEOUT'
  | 'SERVER_ERROR'
  | 'TOO_MANY_CONNECTIONS'
  | 'INVALID_CONFIG'
  | 'BAD_REQUEST'

export interface PushErrorOptions {
  code?: string
  status?: number
  retryable?: boolean
  cause?: unknown
}

/** Base class of every push-rs error. Match on the class or on `code`, never on the message. */
export declare class PushError extends Error {
  constructor(message?: string, options?: PushErrorOptions)
  /** The stable code, the same in every push-rs SDK and in the server's `Push-Error` header. */
  readonly code: PushErrorCode | (string & {})
  /** The HTTP status the server answered with, when the error came from one. */
  readonly status: number | undefined
  /** Whether the same publish may succeed if tried again later. */
  readonly retryable: boolean
}

/** The channel name is not valid (it must look like `/a/b`). */
export declare class InvalidChannelError extends PushError {
  static readonly code: 'INVALID_CHANNEL'
  readonly code: 'INVALID_CHANNEL'
}
/** A cursor is malformed, or ahead of the newest message. */
export declare class InvalidCursorError extends PushError {
  static readonly code: 'INVALID_CURSOR'
  readonly code: 'INVALID_CURSOR'
}
/** The payload is larger than the server accepts. */
export declare class PayloadTooLargeError extends PushError {
  static readonly code: 'PAYLOAD_TOO_LARGE'
  readonly code: 'PAYLOAD_TOO_LARGE'
}
/** Missing or wrong publish key. */
export declare class UnauthorizedError extends PushError {
  static readonly code: 'UNAUTHORIZED'
  readonly code: 'UNAUTHORIZED'
}
/** Valid credentials that do not cover the channel. */
export declare class ForbiddenError extends PushError {
  static readonly code: 'FORBIDDEN'
  readonly code: 'FORBIDDEN'
}
/** The server could not be reached, or the connection broke. */
export declare class ConnectionFailedError extends PushError {
  static readonly code: 'CONNECTION_FAILED'
  readonly code: 'CONNECTION_FAILED'
}
/** No answer within `timeoutMs`. */
export declare class TimeoutError extends PushError {
  static readonly code: 'TIMEOUT'
  readonly code: 'TIMEOUT'
}
/** The server answered with an error that is not the caller's fault. */
export declare class ServerError extends PushError {
  static readonly code: 'SERVER_ERROR'
  readonly code: 'SERVER_ERROR'
}
/** The server refuses more connections. */
export declare class TooManyConnectionsError extends PushError {
  static readonly code: 'TOO_MANY_CONNECTIONS'
  readonly code: 'TOO_MANY_CONNECTIONS'
}
/** The options (URL, key, timeout; a token's secret, consumer id or expiry) are not usable. */
export declare class InvalidConfigError extends PushError {
  static readonly code: 'INVALID_CONFIG'
  readonly code: 'INVALID_CONFIG'
}
/** An invalid `idempotencyKey`, or the request is malformed in another way. */
export declare class BadRequestError extends PushError {
  static readonly code: 'BAD_REQUEST'
  readonly code: 'BAD_REQUEST'
}
