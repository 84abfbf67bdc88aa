// ESM entry of push-rs: the same objects as the CommonJS entry (index.js), as named exports.
import push from './index.js'

export const {
  Producer,
  Server,
  Publication,
  publish,
  Token,
  PushError,
  InvalidChannelError,
  InvalidCursorError,
  PayloadTooLargeError,
  UnauthorizedError,
  ForbiddenError,
  ConnectionFailedError,
  TimeoutError,
  ServerError,
  TooManyConnectionsError,
  InvalidConfigError,
  BadRequestError,
} = push
