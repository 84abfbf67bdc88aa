# frozen_string_literal: true

module Push
  # Where a browser subscribes: the Server-Sent Events URL of a channel, with a signed token.
  # {Push.subscribe_url} builds it; {Push::Turbo.stream_source_tag} and
  # {Push::Htmx.sse_attributes} put it in a page.
  # @api private
  module SubscribeURL
    # The base URL when neither the +url:+ argument nor PUSH_PUBLIC_URL nor PUSH_URL gives one.
    DEFAULT_URL = "http://127.0.0.1:4000"
    # How a subscription is told about a gap (the server's `?gap=`).
    GAPS = %w[event turbo-refresh].freeze

    module_function

    # See {Push.subscribe_url}.
    def build(channel, consumer:, expires_in:, token:, secret:, url:, gap:)
      channel = channel.name if channel.is_a?(Channel)
      name = Channel.new(channel).name # InvalidChannelError, TypeError
      raise ArgumentError, "token: must be true or false, got #{token.inspect}" unless [true, false].include?(token)

      query = []
      query << ["gap", gap(gap)] unless gap.nil?
      query << ["consumer", consumer(consumer)] unless consumer.nil?
      if token
        query << ["token", Token.sign(channel: name, consumer: consumer, expires_in: expires_in, secret: signing_secret(secret))]
      end
      address = base(url) + name
      return address if query.empty?

      "#{address}?#{query.map { |key, value| "#{key}=#{escape(value)}" }.join('&')}"
    end

    # The base URL: +url+, else ENV["PUSH_PUBLIC_URL"], else ENV["PUSH_URL"], else the default
    # (trimmed; a blank value counts as none, as the push-rs core reads PUSH_URL), without
    # trailing "/".
    def base(url)
      url = url.to_s unless url.nil? || url.is_a?(String)
      from, value = [["url:", url], ["PUSH_PUBLIC_URL", ENV["PUSH_PUBLIC_URL"]], ["PUSH_URL", ENV["PUSH_URL"]]]
                    .map { |source, candidate| [source, candidate&.strip] }
                    .find { |_, candidate| !candidate.nil? && !candidate.empty? }
      return DEFAULT_URL if value.nil?

      unless value.match?(%r{\Ahttps?://[^/?#\s]+(/[^?#\s]*)?\z}i)
        raise InvalidConfigError, "the subscribe URL's base (#{from} #{value.inspect}) is not an http:// or https:// " \
                                  "URL without query: browsers subscribe over HTTP (set PUSH_PUBLIC_URL to the " \
                                  "address browsers use, or pass url:)"
      end
      value.sub(%r{/+\z}, "")
    end

    def gap(gap)
      value = gap.is_a?(Symbol) ? gap.to_s : gap
      return value if GAPS.include?(value)

      raise ArgumentError, "gap: must be one of #{GAPS.join(', ')} (or nil: the server's default, event), got #{gap.inspect}"
    end

    # The checks the push-rs core makes of a token's consumer id, also made when there is no
    # token (a `?consumer=` the server would refuse or ignore is a bug to report early).
    def consumer(consumer)
      consumer = String.try_convert(consumer) or raise TypeError, "consumer must be a String, got #{consumer.class}"
      raise InvalidConfigError, "the consumer id is empty" if consumer.empty?
      raise InvalidConfigError, "the consumer id has a line break" if consumer.include?("\n")

      consumer
    end

    # The secret to sign with: +secret+, else ENV["PUSH_SECRET"]; InvalidConfigError without one.
    def signing_secret(secret)
      secret = String.try_convert(secret) || raise(TypeError, "secret must be a String, got #{secret.class}") unless secret.nil?
      secret = ENV["PUSH_SECRET"] if secret.nil?
      return secret unless secret.nil? || secret.empty?

      raise InvalidConfigError, "no secret to sign the subscriber token with: set PUSH_SECRET (or pass secret:), " \
                                "or pass token: false for a push server without --auth token"
    end

    # Percent-encoding of a query value: every byte but A-Z a-z 0-9 - . _ ~ (RFC 3986's unreserved).
    def escape(value)
      value.b.gsub(/[^A-Za-z0-9\-._~]/n) { |byte| format("%%%02X", byte.ord) }.force_encoding(Encoding::UTF_8)
    end
  end

  class << self
    # The Server-Sent Events URL a browser subscribes to +channel+ with, for an `EventSource`,
    # Turbo's `<turbo-stream-source>` ({Push::Turbo.stream_source_tag}) or htmx's SSE extension
    # ({Push::Htmx.sse_attributes}):
    #
    #   Push.subscribe_url("/rooms/42")                      # secret: ENV["PUSH_SECRET"]
    #   # => "https://push.example.com/rooms/42?token=push1...."
    #   Push.subscribe_url("/rooms/42", consumer: current_user.id.to_s, expires_in: 600)
    #   Push.subscribe_url("/news", token: false)            # a server without --auth token
    #
    # The query holds, in this order, `gap=` (when given), `consumer=` (when given) and `token=`
    # (unless +token+ is false), percent-encoded. The token is signed with {Push::Token.sign}
    # for exactly this channel, consumer and expiry.
    #
    # @param channel [String, Push::Channel] e.g. "/rooms/42"; the URL's path.
    # @param consumer [String, nil] the subscriber's consumer id (`?consumer=`), signed into the token.
    # @param expires_in [Numeric, nil] seconds until the token expires; nil: one hour.
    # @param token [Boolean] false: no token (a server without `--auth token`).
    # @param secret [String, nil] the server's `--secret`; nil: ENV["PUSH_SECRET"].
    # @param url [String, URI, nil] the push server as browsers reach it; nil (or blank):
    #   ENV["PUSH_PUBLIC_URL"], else ENV["PUSH_URL"], else "http://127.0.0.1:4000". A trailing
    #   "/" is dropped; a path is kept ("https://example.com/push" + "/rooms/42").
    # @param gap [String, Symbol, nil] how the server announces a gap: "event" (an `event: gap`,
    #   the server's default) or "turbo-refresh" (a Turbo `refresh` action); nil: not in the URL.
    # @return [String]
    # @raise [Push::InvalidChannelError] if +channel+ is not a channel.
    # @raise [Push::InvalidConfigError] without a secret (set PUSH_SECRET or pass token: false),
    #   for an empty consumer id or one with a line break, a negative expiry, or a base URL that
    #   is not http:// or https://.
    # @raise [ArgumentError] for a +gap+ other than "event" or "turbo-refresh", a +token+ other
    #   than true or false.
    # @raise [TypeError] if channel, consumer or secret is not a String, expires_in not a number.
    def subscribe_url(channel, consumer: nil, expires_in: nil, token: true, secret: nil, url: nil, gap: nil)
      SubscribeURL.build(channel, consumer: consumer, expires_in: expires_in, token: token, secret: secret, url: url, gap: gap)
    end
  end
end
