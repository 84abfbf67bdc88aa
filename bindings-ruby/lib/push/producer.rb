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
  # The native methods (`url`, `close`, the private `_configure` and `_publish`, and the private
  # class methods `_default` and `_reset_default` behind {Push.producer}) are defined by the
  # extension (push/push_ext).
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
    # @return [Push::Publish]
    # @raise [TypeError] if data or idempotency_key is not a String.
    def publish(data, content_type: nil, idempotency_key: nil)
      Publish.new(self, data, content_type: content_type, idempotency_key: idempotency_key)
    end

    def inspect
      "#<#{self.class} url=#{url.inspect}>"
    rescue Push::Error
      "#<#{self.class} (not initialized)>"
    end
  end

  # A publish waiting for its channel: `producer.publish(data).to(channel)`.
  class Publish
    attr_reader :producer, :data, :content_type, :idempotency_key

    def initialize(producer, data, content_type: nil, idempotency_key: nil)
      @producer = producer
      @data = String.try_convert(data) or
        raise TypeError, "data must be a String, got #{data.class} (serialize it first, e.g. data.to_json)"
      @content_type = content_type&.to_s
      @idempotency_key = idempotency_key.nil? ? nil : String.try_convert(idempotency_key) ||
        raise(TypeError, "idempotency_key must be a String, got #{idempotency_key.class}")
    end

    # Sends the message to +channel+ and waits until the server has accepted it.
    #
    # @param channel [String] e.g. "/greetings".
    # @return [String] the message's id, e.g. "42" (with an idempotency key already used for
    #   this channel: the first publish's id).
    # @raise [Push::Error] a subclass naming what went wrong (docs/ERRORS.md):
    #   InvalidChannelError, BadRequestError (an invalid idempotency key), PayloadTooLargeError,
    #   UnauthorizedError, ConnectionFailedError, TimeoutError, ServerError, ...
    def to(channel)
      name = String.try_convert(channel) or
        raise TypeError, "channel must be a String like \"/greetings\", got #{channel.class}"
      @producer.__send__(:_publish, name, @data, @content_type, @idempotency_key)
    end
  end
end
