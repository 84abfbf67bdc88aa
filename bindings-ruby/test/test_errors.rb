# frozen_string_literal: true

require_relative "test_helper"

# One case per error kind, each against a real server (or a real closed port).
class TestErrors < Minitest::Test
  def test_invalid_channel
    producer = Push::Producer.new(PushServer.shared.url)
    ["greetings", "/a//b", "/a/../b", "/", "/_push/health", "/sp ace", "/\xFF".b].each do |channel|
      error = assert_raises(Push::InvalidChannel, channel.inspect) { producer.publish("x").to(channel) }
      assert_equal "INVALID_CHANNEL", error.code
      refute_empty error.message
    end
  end

  def test_server_down_is_a_connection_error
    port = PushServer.free_port # nothing listens there
    producer = Push::Producer.new("http://127.0.0.1:#{port}")
    error = assert_raises(Push::ConnectionError) { producer.publish("x").to("/down") }
    assert_equal "CONNECTION_FAILED", error.code
    assert_includes error.message, "127.0.0.1:#{port}"
    assert error.retryable?
    assert_nil error.status
  end

  def test_wrong_or_missing_publish_key_is_unauthorized
    server = PushServer.shared(publish_key: "s3cret")
    [Push::Producer.new(server.url, publish_key: "wrong"), Push::Producer.new(server.url)].each do |producer|
      error = assert_raises(Push::Unauthorized) { producer.publish("x").to("/private") }
      assert_equal "UNAUTHORIZED", error.code
      assert_equal 401, error.status
      refute error.retryable?
    end
    assert_match(/\A\d+\z/, Push::Producer.new(server.url, publish_key: "s3cret").publish("x").to("/private"))
  end

  def test_publish_key_from_the_environment
    server = PushServer.shared(publish_key: "s3cret")
    old = ENV["PUSH_PUBLISH_KEY"]
    ENV["PUSH_PUBLISH_KEY"] = "s3cret"
    assert_match(/\A\d+\z/, Push::Producer.new(server.url).publish("x").to("/private"))
  ensure
    ENV["PUSH_PUBLISH_KEY"] = old
  end

  def test_oversized_payload
    server = PushServer.shared(max_payload_bytes: 1024)
    producer = Push::Producer.new(server.url)
    assert_match(/\A\d+\z/, producer.publish("x" * 1024).to("/big"))
    error = assert_raises(Push::PayloadTooLarge) { producer.publish("x" * 1025).to("/big") }
    assert_equal "PAYLOAD_TOO_LARGE", error.code
    assert_equal 413, error.status
  end

  def test_no_answer_in_time_is_a_timeout
    silent = SilentServer.new
    producer = Push::Producer.new(silent.url, timeout: 0.3)
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    error = assert_raises(Push::TimeoutError) { producer.publish("x").to("/slow") }
    elapsed = Process.clock_gettime(Process::CLOCK_MONOTONIC) - started
    assert_equal "TIMEOUT", error.code
    assert_kind_of Push::ConnectionError, error
    assert_operator elapsed, :<, 5
  ensure
    silent&.close
  end

  def test_invalid_config
    [
      -> { Push::Producer.new("ftp://example") },
      -> { Push::Producer.new("localhost:4000") },
      -> { Push::Producer.new("http://127.0.0.1:4000", timeout: 0) },
      -> { Push::Producer.new("http://127.0.0.1:4000", timeout: -1) }
    ].each do |make|
      error = assert_raises(Push::InvalidConfig) { make.call }
      assert_equal "INVALID_CONFIG", error.code
    end
    assert_raises(ArgumentError) { Push::Producer.new("http://127.0.0.1:4000", timeout: "soon") }
    assert_raises(ArgumentError) { Push::Producer.new("http://127.0.0.1:4000", nope: 1) }
  end

  def test_every_error_is_a_push_error_with_a_code
    classes = [Push::InvalidChannel, Push::InvalidCursor, Push::PayloadTooLarge, Push::Unauthorized,
               Push::Forbidden, Push::ConnectionError, Push::TimeoutError, Push::ServerError,
               Push::TooManyConnections, Push::InvalidConfig, Push::BadRequest]
    classes.each do |klass|
      assert_operator klass, :<, Push::Error
      assert_operator klass, :<, StandardError
      assert_match(/\A[A-Z_]+\z/, klass.new("m").code)
    end
    assert_equal classes.size, classes.map { |k| k::CODE }.uniq.size
    assert_equal "X", Push::Error.new("m", code: "X").code
  end

  def test_uninitialized_producer_raises_push_error
    producer = Push::Producer.allocate
    assert_raises(Push::Error) { producer.publish("x").to("/a") }
  end
end
