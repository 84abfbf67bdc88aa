# frozen_string_literal: true

module Push
  # htmx over push-rs: an element connects htmx's SSE extension to a channel
  # ({.sse_attributes}), its children swap in what arrives by event name
  # (`sse-swap="chat"`), and your app publishes HTML under that name ({.publish}). The
  # browser's EventSource resumes after a reconnect without losing a message; a gap (messages
  # the server no longer holds) arrives as `event: gap`, which `hx-trigger="sse:gap"` can act on.
  #
  #   <div <%= Push::Htmx.sse_attributes("/rooms/42") %>>   <!-- Rails: push_sse_attributes -->
  #     <ul sse-swap="chat" hx-swap="beforeend"></ul>
  #   </div>
  #
  #   Push::Htmx.publish("<li>hi</li>", to: "/rooms/42", event: "chat")
  module Htmx
    # The content type of an htmx message.
    CONTENT_TYPE = "text/html; charset=utf-8"

    class << self
      # Publishes +html+ to the channel(s) +to+ with the content type "text/html; charset=utf-8"
      # and the Server-Sent Events name +event+, through +producer+ (nil: {Push.producer}).
      #
      # @param html [String] the markup to swap in (UTF-8 text).
      # @param to [String, Push::Channel, Array<String, Push::Channel>] the channel, or an Array
      #   of channels (one message, one id, on each).
      # @param event [String, Symbol, nil] the SSE event name that `sse-swap` selects: 1 to 64 of
      #   `A-Z a-z 0-9 - _ . :`, not one the server sends itself (gap, disconnect, ...). nil: a
      #   plain `message` event (`sse-swap="message"`).
      # @param producer [Push::Producer, nil] nil: {Push.producer}.
      # @param idempotency_key [String, nil] see {Push::Producer#publish}.
      # @return [String] the message's id.
      # @raise [Push::BadRequestError] for an event name the server refuses.
      # @raise [Push::Error] what a publish raises: InvalidChannelError, UnauthorizedError, ...
      # @raise [ArgumentError] if +html+ is not UTF-8 text.
      def publish(html, to:, event: nil, producer: nil, idempotency_key: nil)
        html = Markup.utf8(html, "html")
        (producer || Push.producer).publish(html, content_type: CONTENT_TYPE, event: event, idempotency_key: idempotency_key).to(to)
      end

      # The attributes that connect htmx's SSE extension to +channel+, for an element of a page:
      #
      #   Push::Htmx.sse_attributes("/rooms/42", token: false)
      #   # => 'hx-ext="sse" sse-connect="http://127.0.0.1:4000/rooms/42"'
      #
      # @param channel [String, Push::Channel]
      # @param options the keywords of {Push.subscribe_url} (consumer:, expires_in:, token:,
      #   secret:, url:, gap:). The gap is left at the server's default, `event: gap`, unless
      #   given.
      # @return [String] the attributes, marked html_safe when ActiveSupport is loaded.
      # @raise what {Push.subscribe_url} raises.
      def sse_attributes(channel, **options)
        Markup.safe(%(hx-ext="sse" sse-connect="#{Markup.escape(Push.subscribe_url(channel, **options))}"))
      end
    end
  end
end
