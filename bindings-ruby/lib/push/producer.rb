# frozen_string_literal: true

module Push
  # Publishes messages to a push server.
  #
  #   producer = Push::Producer.new("http://127.0.0.1:4000")
  #   id = producer.publish("hi there!").to("/greetings") # => "42"
  #
  # Creating a producer only checks its options; it connects on the first publish and keeps
  # connections open for the next ones. One producer can be shared by all threads of a process
  # (Puma): a publish waits with the GVL released, so other threads run meanwhile. A producer
  # made before `fork` (Puma, Unicorn preloading the app) works in the child: the child opens
  # its own connections.
  #
  # Over an http(s):// URL it also asks the server about channels and disconnects consumers
  # (the server API, docs/PROTOCOL.md): {#channel} (`info`, `presence`, `history`),
  # {#presence}, {#channels}, {#each_channel}, {#disconnect}. These calls wait like a publish
  # (the GVL released, Ctrl-C interrupts them), need the publish key as publishing does, and
  # raise the same error classes.
  #
  # The native methods (`url`, `close`, the private `_configure`, `_publish`, `_channel_info`,
  # `_presence`, `_channels`, `_history` and `_disconnect`, and the private class methods
  # `_default` and `_reset_default` behind {Push.producer}) are defined by the extension
  # (push/push_ext).
  class Producer
    # @param url [String, URI, nil] the push server, e.g. "http://127.0.0.1:4000".
    #   nil or empty: ENV["PUSH_URL"], else "http://127.0.0.1:4000".
    # @param publish_key [String, nil] sent as "Authorization: Bearer <key>";
    #   nil: ENV["PUSH_PUBLISH_KEY"], else none.
    # @param timeout [Numeric, nil] seconds one publish may take, connecting included (default 10).
    # @param ca_file [String, Pathname, nil] a PEM file of CA certificates trusted for https://
    #   and amqps:// besides the system's roots; nil: ENV["PUSH_CA_FILE"], else system roots only.
    # @raise [Push::InvalidConfigError] if the URL or the timeout is not usable.
    # @raise [Push::TlsError] if the CA file cannot be read or holds no certificate.
    # @raise [ArgumentError] if the timeout is not a number.
    def initialize(url = nil, publish_key: nil, timeout: nil, ca_file: nil)
      _configure(
        url&.to_s,
        publish_key&.to_s,
        timeout.nil? ? nil : Float(timeout),
        ca_file.nil? ? nil : File.path(ca_file)
      )
    end

    # A producer for the block, closed when the block ends (also on an exception); returns the
    # block's value. Without a block, the same as {Producer.new}.
    #
    #   Push::Producer.open(url, publish_key: key) { |producer| producer.publish("hi").to("/greetings") }
    #
    # @return [Object, Push::Producer]
    def self.open(*args, **options)
      producer = new(*args, **options)
      return producer unless block_given?

      begin
        yield producer
      ensure
        producer.close
      end
    end

    # Starts a publish; {Publish#to} sends it.
    #
    # @param data [String] the payload, sent byte for byte whatever its encoding. Without a
    #   content type: a BINARY (ASCII-8BIT) string goes as "application/octet-stream", a UTF-8
    #   or US-ASCII string as "text/plain; charset=utf-8" (octet-stream if its bytes are not
    #   valid UTF-8), a string in another encoding as "text/plain; charset=<encoding>".
    # @param content_type [String, nil] the message's content type, e.g. "application/json".
    # @param idempotency_key [String, nil] makes retries store once: a publish with a key already
    #   used for the same channel (within the server's --idempotency-window) stores nothing and
    #   returns the first id. 1 to 255 visible ASCII characters, e.g. "order-9". nil: a fresh
    #   key per {Publish#to}, which still makes the producer's own retries safe.
    # @param event [String, Symbol, nil] the message's Server-Sent Events name (`event: chat`), what
    #   htmx's `sse-swap="chat"` and `addEventListener("chat")` select; 1 to 64 of
    #   `A-Z a-z 0-9 - _ . :`, not one the server sends itself (gap, disconnect, ...). nil: a
    #   plain `message` event.
    # @return [Push::Publish]
    # @raise [TypeError] if data, idempotency_key or event is not a String (or event a Symbol).
    def publish(data, content_type: nil, idempotency_key: nil, event: nil)
      Publish.new(self, data, content_type: content_type, idempotency_key: idempotency_key, event: event)
    end

    # A channel whose calls go through this producer: `producer.channel("/rooms/1").info`,
    # `.history(last: 10)`, `.publish(data)`; see {Push::Channel}.
    # @return [Push::Channel]
    # @raise [Push::InvalidChannelError] if +name+ is not a channel.
    def channel(name)
      Channel.new(name, producer: self)
    end

    # Who is present on a presence channel; see {Channel#presence}.
    # @param channel [String, Push::Channel]
    # @return [Push::Presence]
    # @raise [Push::BadRequestError] if it is not a presence channel.
    def presence(channel)
      channel = channel.name if channel.is_a?(Channel)
      API.presence(_presence(API.string(channel, "channel", nil_ok: false)))
    end

    # One page of the active channels: those with a connection or with history, in name
    # order, counted over every node. Ask for the next page with `after: page.next` while
    # `page.next` is not nil, or let {#each_channel} do it.
    #
    # @param prefix [String, nil] only names that start with it, e.g. "/rooms/".
    # @param after [String, nil] names after this one (the previous page's `next`).
    # @param limit [Integer, nil] channels per page, 1 to 1000 (the server's default: 100).
    # @return [Push::ChannelPage]
    # @raise [Push::BadRequestError] for a limit out of range or a prefix no channel can start
    #   with (before any request); [Push::InvalidChannelError] if +after+ is not a channel.
    def channels(prefix: nil, after: nil, limit: nil)
      API.channel_page(_channels(API.string(prefix, "prefix"), API.string(after, "after"), API.integer(limit, "limit")))
    end

    # Yields the {Push::ChannelInfo} of every active channel (see {#channels}), page after
    # page; without a block, an Enumerator.
    #
    #   producer.each_channel(prefix: "/rooms/") { |info| puts "#{info.channel}: #{info.connections}" }
    #   producer.each_channel.sum(&:connections)
    #
    # @return [nil, Enumerator<Push::ChannelInfo>]
    def each_channel(prefix: nil, limit: nil)
      return enum_for(:each_channel, prefix: prefix, limit: limit) unless block_given?

      after = nil
      loop do
        page = channels(prefix: prefix, after: after, limit: limit)
        page.channels.each { |info| yield info }
        after = page.next or break
      end
      nil
    end

    # Ends every subscription of a consumer id, on every node, and bans it for a while if
    # asked. Safe to repeat (the producer retries it like a publish).
    #
    #   producer.disconnect(consumer: "alice", reason: "logged out", ban: 600)
    #
    # @param consumer [String] the id its subscribers sent (`Consumer-Id`, `?consumer=`, or
    #   their token's).
    # @param channel [String, Push::Channel, nil] only the connections that include this channel.
    # @param reason [String, nil] shown to the client (at most 200 bytes).
    # @param ban [Numeric, nil] seconds (at most 86400, rounded up) during which the consumer's
    #   new subscriptions (to +channel+, or any) are refused with 403.
    # @return [Push::Disconnected]
    # @raise [Push::BadRequestError] for an empty consumer id, a reason over 200 bytes, a ban
    #   out of range (before any request); [Push::InvalidChannelError] for a bad channel.
    def disconnect(consumer:, channel: nil, reason: nil, ban: nil)
      channel = channel.name if channel.is_a?(Channel)
      API.disconnected(_disconnect(API.string(consumer, "consumer", nil_ok: false), API.string(channel, "channel"),
                                   API.string(reason, "reason"), API.seconds(ban, "ban")))
    end

    def inspect
      "#<#{self.class} url=#{url.inspect}>"
    rescue Push::Error
      "#<#{self.class} (not initialized)>"
    end
  end

  # A publish waiting for its channels: `producer.publish(data).to("/a")`, or
  # `.to("/a", "/b")` for one message to several channels.
  class Publish
    attr_reader :producer, :data, :content_type, :idempotency_key, :event

    def initialize(producer, data, content_type: nil, idempotency_key: nil, event: nil)
      @producer = producer
      @data = String.try_convert(data) or
        raise TypeError, "data must be a String, got #{data.class} (serialize it first, e.g. data.to_json)"
      @content_type = content_type&.to_s
      @idempotency_key = idempotency_key.nil? ? nil : String.try_convert(idempotency_key) ||
        raise(TypeError, "idempotency_key must be a String, got #{idempotency_key.class}")
      @event = event.is_a?(Symbol) ? event.to_s : event
      @event = String.try_convert(@event) || raise(TypeError, "event must be a String, got #{event.class}") unless @event.nil?
    end

    # Sends the message and waits until the server has accepted it. To several channels
    # (`to("/a", "/b")` or `to(["/a", "/b"])`) it is one message with one id, stored on each
    # channel and delivered once to a subscriber of more than one; duplicates are dropped.
    #
    # @param channels [String, Push::Channel, Array<String, Push::Channel>] e.g. "/greetings";
    #   1 to 100 channels.
    # @return [String] the message's id, e.g. "42" (with an idempotency key already used for
    #   these channels: the first publish's id).
    # @raise [Push::Error] a subclass naming what went wrong (docs/ERRORS.md):
    #   InvalidChannelError, BadRequestError (no channel, more than 100, an invalid idempotency
    #   key or event name), PayloadTooLargeError, UnauthorizedError, ConnectionFailedError, TimeoutError,
    #   ServerError, ...
    # @raise [TypeError] if a channel is not a String or Push::Channel.
    def to(*channels)
      @producer.__send__(:_publish, API.targets(channels), @data, @content_type, @idempotency_key, @event)
    end
  end
end
