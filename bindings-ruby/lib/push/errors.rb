# frozen_string_literal: true

module Push
  # Base class of every error this library raises. Each error has a stable {#code}, the same
  # in every push-rs SDK and in the server's `Push-Error` response header, so callers can
  # rescue a class or compare codes, never message text.
  #
  #   begin
  #     producer.publish(data).to(channel)
  #   rescue Push::Error => e
  #     retry if e.retryable? && (attempts += 1) < 3
  #     raise
  #   end
  #
  # Its subclasses, one per code, each derived directly from it, are made below from the
  # push-rs core's error table ({Push.error_table}); docs/ERRORS.md lists them: e.g.
  # InvalidChannelError (INVALID_CHANNEL), UnauthorizedError, PayloadTooLargeError,
  # ConnectionFailedError, TimeoutError, InternalError.
  class Error < StandardError
    # The code of errors raised as this class, when none more precise is known.
    CODE = "PUSH_ERROR"
    # Whether errors of this class are worth retrying (see {#retryable?}).
    RETRYABLE = false
    # Whether a failed publish raising this class may still have stored its message.
    MAYBE_STORED = false

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

    # Whether the same call may succeed if tried again later (from the core's error table).
    def retryable?
      @retryable.nil? ? self.class::RETRYABLE : @retryable
    end

    # Whether a failed publish may still have stored its message: the producer already retried
    # it with the call's idempotency key until its timeout; publish again with the same
    # `idempotency_key:` to have it stored once either way.
    def maybe_stored?
      @maybe_stored.nil? ? self.class::MAYBE_STORED : @maybe_stored
    end
  end

  # One subclass of Push::Error per row of the core's table: Push::InvalidChannelError, ...
  error_table.each do |row|
    klass = Class.new(Error)
    klass.const_set(:CODE, row.fetch(:code))
    klass.const_set(:RETRYABLE, row.fetch(:retryable))
    klass.const_set(:MAYBE_STORED, row.fetch(:maybe_stored))
    const_set(row.fetch(:class_name), klass)
  end
end
