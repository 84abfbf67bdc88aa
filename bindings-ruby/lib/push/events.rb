# frozen_string_literal: true

module Push
  # One event the server sent to the app's `--events-url` (docs/PRESENCE.md), from
  # {Push.verify_events}.
  #
  # @!attribute [r] id
  #   @return [String] unique per event and the same on every retry: act on an id once.
  # @!attribute [r] name
  #   @return [String] "channel_occupied", "channel_vacated", "member_joined", "member_left",
  #     "consumer_connected", "consumer_disconnected" or "undelivered".
  # @!attribute [r] channel
  #   @return [String, nil] nil for the consumer_* events.
  # @!attribute [r] consumer
  #   @return [String, nil] nil for the channel_* events.
  # @!attribute [r] info
  #   @return [Hash{String => Object}, nil] the member's public info (member_joined, member_left),
  #     String keys as JSON.parse gives them, frozen.
  # @!attribute [r] message_id
  #   @return [String, nil] the message the consumer did not get (undelivered).
  # @!attribute [r] time
  #   @return [Time] when it happened.
  Event = API.value(:id, :name, :channel, :consumer, :info, :message_id, :time)

  class << self
    # Checks that an events request comes from your push server, and returns its events, in the
    # order they happened:
    #
    #   events = Push.verify_events(request.raw_post, request.headers["Push-Signature"])
    #   events.each { |e| Presence.joined(e.channel, e.consumer) if e.name == "member_joined" }
    #
    # Verify the body exactly as received (not re-encoded JSON). The check is the push-rs core's
    # (the same in every SDK): an HMAC-SHA256 of the timestamp and the body, in constant time.
    #
    # @param body [String] the request's raw body; its bytes are used whatever its encoding.
    # @param signature [String, nil] the `Push-Signature` header; nil (no header) is refused.
    # @param secret [String, nil] the events secret (the server's `--events-secret`, else its
    #   `--secret`); nil: ENV["PUSH_EVENTS_SECRET"], then ENV["PUSH_SECRET"], read at each call.
    # @param tolerance [Integer] seconds the signature's time may be from now (a replayed
    #   request is refused after it).
    # @return [Array<Push::Event>] frozen.
    # @raise [Push::UnauthorizedError] for a missing, wrong or too old signature.
    # @raise [Push::BadRequestError] for a signed body that is not an events batch.
    # @raise [Push::InvalidConfigError] without a secret, or for a negative tolerance.
    # @raise [TypeError] if body, signature or secret is not a String, or tolerance not a number.
    def verify_events(body, signature, secret: nil, tolerance: 300)
      events = _verify_events(
        API.string(body, "body", nil_ok: false),
        API.string(signature, "signature"),
        API.string(secret, "secret"),
        tolerance_seconds(tolerance)
      )
      events.map { |e| Event.new(**e, info: API.json(e[:info]), time: API.time(e[:time])) }.freeze
    end

    private

    # Whole seconds (ActiveSupport's 5.minutes works too); a String is refused.
    def tolerance_seconds(value)
      raise TypeError, "tolerance must be a number of seconds, got a String" if value.is_a?(String)

      Integer(value)
    rescue TypeError, FloatDomainError => e
      raise e.class, "tolerance must be a number of seconds, got #{value.inspect}"
    end
  end
end
