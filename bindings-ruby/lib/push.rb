# frozen_string_literal: true

require_relative "push/version"
require_relative "push/errors"
require "push/push_ext" # the native extension: Push::Producer's, Push::Token's and Push::Server's native methods
require_relative "push/producer"
require_relative "push/token"
require_relative "push/server"

# Publish messages to push-rs channels:
#
#   require "push"
#   Push::Producer.new.publish("hi there!").to("/greetings")
#   Push.publish("hi there!", to: "/greetings") # through Push.producer
#
# and sign subscriber tokens (push-server --auth token):
#
#   Push::Token.sign(channel: "/rooms/42", expires_in: 3600) # secret: ENV["PUSH_SECRET"]
#
# and run push-server in-process (tests, development), or as the gem's `push-server` command:
#
#   Push::Server.start(publish_key: "k") { |server| server.url } # => "http://127.0.0.1:43121"
module Push
  @producer = nil
  @producer_lock = Mutex.new

  class << self
    # The producer that {Push.publish} uses: made on first use from ENV["PUSH_URL"] and
    # ENV["PUSH_PUBLISH_KEY"], shared by every thread (and usable after fork).
    # @return [Push::Producer]
    def producer
      @producer || @producer_lock.synchronize { @producer ||= Producer.new }
    end

    # Replaces the default producer, e.g. `Push.producer = Push::Producer.new(url, publish_key: key)`.
    attr_writer :producer

    # Publishes +data+ to the channel +to+ through {Push.producer}; see {Producer#publish}.
    # @return [String] the message's id.
    def publish(data, to:, content_type: nil, idempotency_key: nil)
      producer.publish(data, content_type: content_type, idempotency_key: idempotency_key).to(to)
    end
  end
end
