# frozen_string_literal: true

require_relative "push/version"
# The native extension: Push.error_table, and the native methods of Push::Producer,
# Push::Channel, Push::Token, Push::Server and Push.verify_events.
require "push/push_ext"
require_relative "push/errors"
require_relative "push/producer"
require_relative "push/api"
require_relative "push/token"
require_relative "push/events"
require_relative "push/server"
require_relative "push/markup"
require_relative "push/subscribe_url"
require_relative "push/turbo"
require_relative "push/htmx"
# Rails (not a dependency): view helpers and partial rendering, when Rails is loaded first.
require_relative "push/railtie" if defined?(Rails::Railtie)

# Publish messages to push-rs channels:
#
#   require "push"
#   Push::Producer.new.publish("hi there!").to("/greetings")
#   Push.publish("hi there!", to: "/greetings") # through Push.producer
#
# ask the server about channels, and disconnect consumers (the server API):
#
#   Push.publish("hi", to: ["/rooms/1", "/rooms/2"])   # one message, one id, on both
#   Push.channel("/rooms/1").info.connections           # => 3
#   Push.channel("/rooms/1").history(last: 10).messages
#   Push.each_channel(prefix: "/rooms/") { |info| ... }
#   Push.disconnect(consumer: "alice", reason: "logged out", ban: 600)
#   Push.channel("/presence-lobby").presence.members    # who is there (docs/PRESENCE.md)
#
# verify the events the server posts to your app (`--events-url`):
#
#   Push.verify_events(request.raw_post, request.headers["Push-Signature"]) # => [Push::Event, ...]
#
# and sign subscriber tokens (push-server --auth token):
#
#   Push::Token.sign(channel: "/rooms/42", expires_in: 3600) # secret: ENV["PUSH_SECRET"]
#   Push::Token.sign(channel: "/presence-lobby", consumer: "alice", info: { name: "Alice" })
#
# and subscribe browsers with Turbo Streams (Hotwire) or htmx (README: "Turbo Streams and htmx"):
#
#   Push.subscribe_url("/rooms/42")                      # the SSE URL, with a signed token
#   Push::Turbo.stream_source_tag("/rooms/42")           # <turbo-stream-source src="...">
#   Push::Turbo.broadcast_append_to("/rooms/42", target: "messages", html: "<li>hi</li>")
#   Push::Htmx.publish("<li>hi</li>", to: "/rooms/42", event: "chat")
#
# and run push-server in-process (tests, development), or as the gem's `push-server` command:
#
#   Push::Server.start(publish_key: "k") { |server| server.url } # => "http://127.0.0.1:43121"
module Push
  @producer = nil

  class << self
    # The producer that {Push.publish} uses: the one set with {Push.producer=}, else the shared
    # default one, made by the push-rs core from ENV["PUSH_URL"] and ENV["PUSH_PUBLISH_KEY"] on
    # first use and made again whenever either variable has changed since (the same rule in
    # every push-rs SDK). Shared by every thread, and usable after fork.
    # @return [Push::Producer]
    def producer
      @producer || Producer.__send__(:_default)
    end

    # Replaces the default producer, e.g. `Push.producer = Push::Producer.new(url, publish_key: key)`;
    # nil goes back to the shared one of the environment.
    attr_writer :producer

    # Publishes +data+ to the channel +to+ (or to each of an Array of channels: one message,
    # one id) through {Push.producer}; see {Producer#publish} and {Publish#to}.
    # @return [String] the message's id.
    def publish(data, to:, content_type: nil, idempotency_key: nil, event: nil)
      producer.publish(data, content_type: content_type, idempotency_key: idempotency_key, event: event).to(to)
    end

    # A channel whose calls go through {Push.producer} (the one current at each call):
    # `Push.channel("/rooms/1").info`, `.history(last: 10)`; see {Push::Channel}.
    # @return [Push::Channel]
    # @raise [Push::InvalidChannelError] if +name+ is not a channel.
    def channel(name)
      Channel.new(name)
    end

    # One page of the active channels, through {Push.producer}; see {Producer#channels}.
    # @return [Push::ChannelPage]
    def channels(prefix: nil, after: nil, limit: nil)
      producer.channels(prefix: prefix, after: after, limit: limit)
    end

    # Every active channel's {Push::ChannelInfo}, page after page, through {Push.producer}; see
    # {Producer#each_channel}. Without a block, an Enumerator.
    # @return [nil, Enumerator<Push::ChannelInfo>]
    def each_channel(prefix: nil, limit: nil, &block)
      return enum_for(:each_channel, prefix: prefix, limit: limit) unless block

      producer.each_channel(prefix: prefix, limit: limit, &block)
    end

    # Ends a consumer's subscriptions (and bans it if asked), through {Push.producer}; see
    # {Producer#disconnect}.
    # @return [Push::Disconnected]
    def disconnect(consumer:, channel: nil, reason: nil, ban: nil)
      producer.disconnect(consumer: consumer, channel: channel, reason: reason, ban: ban)
    end

    # Closes the shared default producer's connections and forgets it (the next {Push.publish}
    # makes a new one); a producer set with {Push.producer=} is left alone.
    # @return [nil]
    def close_default
      Producer.__send__(:_reset_default)
      nil
    end
  end
end
