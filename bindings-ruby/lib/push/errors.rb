# frozen_string_literal: true

module Push
  # Base class of every error this library raises. Each error has a stable {#code}, the same
  # in every push-rs SDK and in the server's `Push-Error` response header, so callers can
  # rescue a class or compare codes, never message text.
  #
  #   begin
  #     producer.publish(data).to(channel)
  #   rescue Push::ConnectionError, Push::ServerError => e
  #     retry if (attempts += 1) < 3 # e.retryable? is true for these
  #   end
  class Error < StandardError
    # The code of errors raised as this class, when none more precise is known.
    CODE = "ERROR"

    # HTTP status the server answered with (Integer), or nil when the error did not come from
    # a server answer (invalid channel, connection refused, ...).
    attr_reader :status

    def initialize(message = nil, code: nil, status: nil)
      super(message)
      @code = code
      @status = status
    end

    # The stable error code, e.g. "INVALID_CHANNEL", "PAYLOAD_TOO_LARGE".
    # @return [String]
    def code
      @code || self.class::CODE
    end

    # Whether the same publish may succeed if tried again later.
    def retryable?
      false
    end
  end

  # The channel name is not valid: it must start with "/" and consist of segments of
  # letters, digits and . _ ~ - : @ (no empty or ".." segments). Also raised by
  # {Push::Token.sign} for a channel pattern that is not a channel followed by "/*".
  class InvalidChannel < Error
    CODE = "INVALID_CHANNEL"
  end

  # A cursor (message id) is malformed or ahead of the newest message.
  class InvalidCursor < Error
    CODE = "INVALID_CURSOR"
  end

  # The payload is larger than the server accepts (push-server --max-payload-bytes).
  class PayloadTooLarge < Error
    CODE = "PAYLOAD_TOO_LARGE"
  end

  # The publish key is missing or wrong (push-server --publish-key).
  class Unauthorized < Error
    CODE = "UNAUTHORIZED"
  end

  # The credentials are valid but do not cover this channel.
  class Forbidden < Error
    CODE = "FORBIDDEN"
  end

  # The server could not be reached, or the connection broke.
  class ConnectionError < Error
    CODE = "CONNECTION_FAILED"

    def retryable?
      true
    end
  end

  # No answer within the producer's timeout. A kind of ConnectionError.
  class TimeoutError < ConnectionError
    CODE = "TIMEOUT"
  end

  # The server failed in a way that is not the caller's fault (5xx).
  class ServerError < Error
    CODE = "SERVER_ERROR"

    def retryable?
      true
    end
  end

  # The server refuses more connections.
  class TooManyConnections < Error
    CODE = "TOO_MANY_CONNECTIONS"

    def retryable?
      true
    end
  end

  # The producer's options are not usable (bad URL, unsupported scheme, timeout <= 0),
  # {Push::Token.sign} has no secret (nor PUSH_SECRET), an empty or multi-line consumer id, or a
  # negative expiry, or {Push::Server.start} got an unknown option, a bad value or an address
  # it cannot listen on.
  class InvalidConfig < Error
    CODE = "INVALID_CONFIG"
  end

  # The server rejected the request as malformed in another way.
  class BadRequest < Error
    CODE = "BAD_REQUEST"
  end
end
