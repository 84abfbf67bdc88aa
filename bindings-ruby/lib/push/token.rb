# frozen_string_literal: true

require "json"

module Push
  # Subscriber tokens, for a push server started with `--auth token --secret <secret>`: your
  # app signs a token for a channel (or a pattern like "/rooms/*") and hands it to the browser,
  # which subscribes with `?token=<token>` or `Authorization: Bearer <token>`.
  #
  #   token = Push::Token.sign(channel: "/rooms/42", consumer: current_user.id.to_s, expires_in: 3600)
  #   # => "push1.<base64url claims>.<base64url HMAC-SHA256>"
  #
  # Tokens are signed by the push-rs core (the native extension): the same inputs give the same
  # token as every other push-rs SDK and `push-server token`. The format is in docs/AUTH.md.
  #
  # The native method (the private `_sign`) is defined by the extension (push/push_ext).
  module Token
    # Signs a subscriber token.
    #
    # @param channel [String] a channel ("/rooms/42") or a prefix pattern: "/rooms/*" covers
    #   every channel below /rooms/ ("/rooms/1", "/rooms/1/chat") but not "/rooms"; "/*" covers all.
    # @param consumer [String, nil] when set, only a subscription with this consumer id
    #   (`Consumer-Id` header or `?consumer=`) may use the token.
    # @param expires_in [Integer, nil] seconds from now until the token expires; nil: the push-rs
    #   core's default, 3600 (one hour).
    #   Any number of seconds is taken (fractions are dropped), e.g. ActiveSupport's `1.hour`.
    # @param expires_at [Integer, Time, nil] absolute expiry (Unix seconds, or a Time); used
    #   instead of +expires_in+ when given.
    # @param secret [String, nil] the secret shared with the server (`--secret`); its bytes are
    #   used as they are. nil: ENV["PUSH_SECRET"], read by the push-rs core at each call.
    # @param info [Hash, nil] the consumer's public info, e.g. `{name: "Alice"}`: what the
    #   members of a presence channel see of it (docs/PRESENCE.md). Signed, not secret. Sent as
    #   compact JSON (JSON.generate), at most 1024 bytes; needs +consumer+.
    # @return [String] the token, URL-safe ("push1.<claims>.<signature>").
    # @raise [Push::InvalidConfigError] if the secret is missing or empty, the consumer id is empty
    #   or has a newline, an expiry is negative, or +info+ is over 1024 bytes of JSON, cannot be
    #   JSON, or comes without +consumer+.
    # @raise [Push::InvalidChannelError] if the channel (or the part before "/*") is not a channel.
    # @raise [TypeError] if channel, consumer or secret is not a String, an expiry not a number,
    #   or info not a Hash.
    def self.sign(channel:, consumer: nil, expires_in: nil, expires_at: nil, secret: nil, info: nil)
      _sign(
        string(secret, "secret", nil_ok: true),
        string(channel, "channel"),
        string(consumer, "consumer", nil_ok: true),
        expires_at.nil? ? nil : seconds(expires_at, "expires_at", time_ok: true),
        expires_in.nil? ? nil : seconds(expires_in, "expires_in"),
        info.nil? ? nil : json(info)
      )
    end

    class << self
      private

      def string(value, name, nil_ok: false)
        return nil if value.nil? && nil_ok

        String.try_convert(value) or raise TypeError, "#{name} must be a String, got #{value.class}"
      end

      # Compact JSON, the same text as JSON.stringify and Python's json.dumps(separators=(",", ":"))
      # give for the same object, so a token is the same string in every SDK.
      def json(info)
        hash = Hash.try_convert(info) or raise TypeError, "info must be a Hash, got #{info.class}"
        JSON.generate(hash)
      rescue JSON::GeneratorError => e
        raise InvalidConfigError, "a token's info is not JSON: #{e.message}"
      end

      # Whole seconds as an Integer; the native side refuses negative ones (InvalidConfigError).
      def seconds(value, name, time_ok: false)
        return value.to_i if time_ok && value.is_a?(Time)
        raise TypeError, "#{name} must be a number of seconds, got a String" if value.is_a?(String)

        Integer(value)
      rescue TypeError, FloatDomainError => e
        raise e.class, "#{name} must be a number of seconds#{' or a Time' if time_ok}, got #{value.inspect}"
      end
    end
  end
end
