# frozen_string_literal: true

require_relative "push/version"
require "push/push_ext" # the native extension: Push.error_table, Push::Producer's, Push::Token's and Push::Server's native methods
require_relative "push/errors"
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

    # Publishes +data+ to the channel +to+ through {Push.producer}; see {Producer#publish}.
    # @return [String] the message's id.
    def publish(data, to:, content_type: nil, idempotency_key: nil)
      producer.publish(data, content_type: content_type, idempotency_key: idempotency_key).to(to)
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
