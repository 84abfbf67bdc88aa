# frozen_string_literal: true

require "json"

module Push
  # Helpers of the server API's Ruby side: its answers (the native side's Hashes) made into
  # frozen Structs with keyword construction (Data would do, but the gem supports Ruby 3.0),
  # ids kept as Strings (they can pass 2**53, as publish returns them), times made Time; and
  # the type checks of its arguments (values are checked natively, before any request).
  # @api private
  module API
    # A frozen Struct class with keyword construction.
    def self.value(*members, &block)
      Struct.new(*members, keyword_init: true) do
        def initialize(**)
          super
          freeze
        end

        class_eval(&block) if block
      end
    end

    # Time from milliseconds since the Unix epoch (exact: no Float on the way).
    def self.time(ms)
      ms && Time.at(ms / 1000, ms % 1000, :millisecond)
    end

    # The payload with the encoding its content type implies (the inverse of what
    # {Producer#publish} sends): a charset Ruby knows ("text/plain; charset=Shift_JIS") names
    # it; "application/octet-stream" is BINARY; anything else is UTF-8 when its bytes are valid
    # UTF-8, else BINARY. The bytes are never changed.
    def self.payload(data, content_type)
      charset = content_type[/;\s*charset="?([^";\s]+)/i, 1]
      encoding = charset && known_encoding(charset)
      unless encoding
        mime = content_type.split(";", 2).first.to_s.strip.downcase
        encoding = mime == "application/octet-stream" ? Encoding::BINARY : Encoding::UTF_8
        encoding = Encoding::BINARY unless data.dup.force_encoding(encoding).valid_encoding?
      end
      data.force_encoding(encoding).freeze
    end

    def self.known_encoding(name)
      Encoding.find(name)
    rescue ArgumentError # a charset Ruby does not know
      nil
    end

    def self.channel_info(h)
      ChannelInfo.new(**h, as_of: time(h[:as_of]))
    end

    def self.presence(h)
      members = h[:members].map { |m| Member.new(consumer: m[:consumer], info: json(m[:info])) }
      Presence.new(**h, members: members.freeze, as_of: time(h[:as_of]))
    end

    # A JSON object from the native side (a member's or an event's info) as a frozen Hash with
    # String keys, as JSON.parse gives it; nil stays nil.
    def self.json(text)
      text && JSON.parse(text, freeze: true)
    end

    def self.channel_page(h)
      ChannelPage.new(**h, channels: h[:channels].map { |c| channel_info(c) }.freeze, as_of: time(h[:as_of]))
    end

    def self.history(h)
      messages = h[:messages].map do |m|
        HistoryMessage.new(**m, channels: m[:channels].freeze, data: payload(m[:data], m[:content_type]),
                                time: time(m[:time]))
      end
      History.new(**h, messages: messages.freeze, gaps: h[:gaps].map { |g| Gap.new(**g) }.freeze)
    end

    def self.disconnected(h)
      Disconnected.new(**h, ban_until: time(h[:ban_until]))
    end

    # A message id as the native side takes it: a String, or an Integer (written in decimal).
    def self.cursor(id)
      return id.to_s if id.is_a?(Integer)

      String.try_convert(id) or raise TypeError, "after: must be a message id (String or Integer), got #{id.class}"
    end

    def self.string(value, name, nil_ok: true)
      return nil if value.nil? && nil_ok

      String.try_convert(value) or raise TypeError, "#{name} must be a String, got #{value.class}"
    end

    def self.integer(value, name)
      return nil if value.nil?
      return value if value.is_a?(Integer)

      raise TypeError, "#{name} must be an Integer, got #{value.class}"
    end

    # Seconds as a Float (any Numeric, or ActiveSupport's 1.hour); a String is refused.
    def self.seconds(value, name)
      return nil if value.nil?
      raise TypeError, "#{name} must be a number of seconds, got a String" if value.is_a?(String)

      Float(value)
    rescue TypeError => e
      raise e.class, "#{name} must be a number of seconds, got #{value.inspect}"
    end

    # The channel names of a publish: `to("/a", "/b")`, `to(["/a", "/b"])`, Push::Channels.
    def self.targets(channels)
      channels.flat_map { |c| c.is_a?(Array) ? c : [c] }.map do |c|
        next c.name if c.is_a?(Channel)

        String.try_convert(c) or
          raise TypeError, "a channel must be a String like \"/greetings\" (or a Push::Channel), got #{c.class}"
      end
    end
  end
  private_constant :API

  # What a channel holds and who is connected to it ({Channel#info}), counted over every node.
  #
  # @!attribute [r] channel
  #   @return [String] the channel's name.
  # @!attribute [r] connections
  #   @return [Integer] subscriber connections open on it now (SSE, WebSocket, a waiting
  #     long-poll or JSON batch; a multiplexed connection counts on each of its channels).
  # @!attribute [r] consumers
  #   @return [Integer] distinct consumer ids among them, per node, summed over the nodes.
  # @!attribute [r] last_id
  #   @return [String, nil] the newest message it holds in history; nil when it holds none.
  # @!attribute [r] history
  #   @return [Integer] how many messages it holds in history.
  # @!attribute [r] nodes
  #   @return [Integer] how many nodes the counts come from (1 without RabbitMQ).
  # @!attribute [r] as_of
  #   @return [Time] when the oldest count included was taken.
  ChannelInfo = API.value(:channel, :connections, :consumers, :last_id, :history, :nodes, :as_of)

  # Who is present on a presence channel ({Channel#presence}): each consumer once, however many
  # connections and nodes it has (docs/PRESENCE.md).
  #
  # @!attribute [r] channel
  #   @return [String]
  # @!attribute [r] members
  #   @return [Array<Member>] in consumer id order, at most 1000 (see {#count}).
  # @!attribute [r] count
  #   @return [Integer] how many members there are (more than {#members} holds when cut).
  # @!attribute [r] nodes
  #   @return [Integer] how many nodes the list comes from (1 without RabbitMQ).
  # @!attribute [r] as_of
  #   @return [Time] when the oldest part of the list was taken.
  Presence = API.value(:channel, :members, :count, :nodes, :as_of)

  # A consumer present on a channel.
  #
  # @!attribute [r] consumer
  #   @return [String] its consumer id.
  # @!attribute [r] info
  #   @return [Hash{String => Object}, nil] the public info its token carried
  #     (`Push::Token.sign(..., info: {name: "Alice"})` gives `{"name" => "Alice"}`: String keys,
  #     as JSON.parse gives them), frozen; nil without one.
  Member = API.value(:consumer, :info)

  # One page of the active channels (channels with a connection or with history), in name
  # order ({Push.channels}).
  #
  # @!attribute [r] channels
  #   @return [Array<ChannelInfo>]
  # @!attribute [r] next
  #   @return [String, nil] the `after:` of the next page; nil on the last one.
  # @!attribute [r] nodes
  #   @return [Integer]
  # @!attribute [r] as_of
  #   @return [Time]
  ChannelPage = API.value(:channels, :next, :nodes, :as_of)

  # Messages of a channel's history, oldest first ({Channel#history}).
  #
  # @!attribute [r] messages
  #   @return [Array<HistoryMessage>]
  # @!attribute [r] gaps
  #   @return [Array<Gap>] ranges that are gone (only when read with `after:`).
  # @!attribute [r] last_id
  #   @return [String, nil] the cursor to read on from (`history(after: last_id)`); nil when
  #     the server named none.
  # @!attribute [r] more
  #   @return [Boolean] the limit cut the answer: read on from {#last_id} for the rest.
  History = API.value(:messages, :gaps, :last_id, :more) do
    alias_method :more?, :more
  end

  # One message of a channel's history.
  #
  # @!attribute [r] id
  #   @return [String]
  # @!attribute [r] channel
  #   @return [String] the channel asked about (for a message published to several: the first).
  # @!attribute [r] channels
  #   @return [Array<String>] for a message published to several channels, those of them the
  #     read covers (a history read: the channel asked about, as its subscribers see it); empty
  #     for a message published to one.
  # @!attribute [r] data
  #   @return [String] the payload, byte for byte as published, frozen. Its encoding is the one
  #     its content type names (charset=...), BINARY (ASCII-8BIT) for application/octet-stream
  #     or bytes that are not UTF-8, else UTF-8.
  # @!attribute [r] content_type
  #   @return [String]
  # @!attribute [r] event
  #   @return [String, nil] its Server-Sent Events name, if it was published with one.
  # @!attribute [r] time
  #   @return [Time] when it was published.
  HistoryMessage = API.value(:id, :channel, :channels, :data, :content_type, :event, :time)

  # Messages of +channel+ with ids from +from+ to +to+ (Strings, inclusive) may be gone.
  Gap = API.value(:channel, :from, :to)

  # What a disconnect did ({Push.disconnect}).
  #
  # @!attribute [r] consumer
  #   @return [String]
  # @!attribute [r] channel
  #   @return [String, nil] the channel it was limited to.
  # @!attribute [r] disconnected
  #   @return [Integer] connections ended on the node that answered (the other nodes end
  #     theirs as the command reaches them).
  # @!attribute [r] ban_until
  #   @return [Time, nil] when the ban ends; nil without a ban.
  Disconnected = API.value(:consumer, :channel, :disconnected, :ban_until)

  # A channel, to ask the server about it or publish to it:
  #
  #   room = Push.channel("/rooms/1")          # or producer.channel("/rooms/1")
  #   room.info.connections                    # => 3
  #   Push.channel("/presence-lobby").presence # => #<struct Push::Presence ...>
  #   room.history(last: 10).messages          # => [#<struct Push::HistoryMessage ...>, ...]
  #   room.publish("hi")                       # => "1795870127759001"
  #
  # The name is checked when the channel is made ({Push::InvalidChannelError}). A channel made
  # with Push.channel (no producer) calls through {Push.producer} at each call. The native
  # method (the private class method `_parse`) is defined by the extension (push/push_ext).
  class Channel
    # @return [String]
    attr_reader :name

    # @param name [String] e.g. "/rooms/1".
    # @param producer [Push::Producer, nil] nil: {Push.producer}, at each call.
    # @raise [Push::InvalidChannelError] if +name+ is not a channel.
    # @raise [TypeError] if +name+ is not a String.
    def initialize(name, producer: nil)
      @name = Channel.__send__(:_parse, API.string(name, "channel", nil_ok: false)).freeze
      @producer = producer
      freeze
    end

    # @return [Push::Producer] the producer its calls go through.
    def producer
      @producer || Push.producer
    end

    # What the channel holds and who is connected to it, counted over every node.
    # @return [Push::ChannelInfo]
    # @raise [Push::Error] e.g. UnauthorizedError (publish key), ConnectionFailedError.
    def info
      API.channel_info(producer.__send__(:_channel_info, @name))
    end

    # Who is present on the channel, a presence channel (its name starts with the server's
    # `--presence-prefix`, default "/presence-"), with the public info of their tokens.
    #
    #   Push.channel("/presence-lobby").presence.members.map(&:consumer) # => ["alice", "bob"]
    #
    # @return [Push::Presence]
    # @raise [Push::BadRequestError] if the channel is not a presence channel.
    # @raise [Push::Error] e.g. UnauthorizedError (publish key), ConnectionFailedError.
    def presence
      API.presence(producer.__send__(:_presence, @name))
    end

    # Messages of the channel's history, oldest first:
    #
    # - `history`: every message the answering node holds in memory (at most the server's
    #   `--history-size`, within `--history-age`);
    # - `history(last: 10)`: the newest 10 of them (1 to the server's `--max-batch`);
    # - `history(after: id, limit: 100)`: every message after the cursor, read as a resuming
    #   subscriber's would be (from the data dir or RabbitMQ too), with {History#gaps} for what
    #   is gone. Read on with `after: history.last_id` while `history.more?`.
    #
    # @param last [Integer, nil]
    # @param after [String, Integer, nil] a message id.
    # @param limit [Integer, nil] with +after+ only (default and cap: `--max-batch`).
    # @return [Push::History]
    # @raise [Push::BadRequestError] for `last:` with `after:`, `limit:` without `after:`, or
    #   a count below 1 (before any request).
    # @raise [Push::InvalidCursorError] if +after+ is not a message id, or is ahead of the newest.
    def history(last: nil, after: nil, limit: nil)
      API.history(producer.__send__(:_history, @name, API.integer(last, "last"),
                                    after.nil? ? nil : API.cursor(after), API.integer(limit, "limit")))
    end

    # Publishes +data+ to this channel; see {Producer#publish}.
    # @return [String] the message's id.
    def publish(data, content_type: nil, idempotency_key: nil, event: nil)
      producer.publish(data, content_type: content_type, idempotency_key: idempotency_key, event: event).to(@name)
    end

    def to_s
      @name
    end

    # The same name through the same producer (or both through {Push.producer}).
    def ==(other)
      other.is_a?(Channel) && other.name == @name && other.given_producer.equal?(@producer)
    end
    alias eql? ==

    def hash
      [Channel, @name].hash
    end

    def inspect
      "#<#{self.class} #{@name}>"
    end

    protected

    # The producer it was made with (nil: Push.producer).
    def given_producer
      @producer
    end
  end
end
