# frozen_string_literal: true

require_relative "test_helper"

class TestPublish < Minitest::Test
  def server
    PushServer.shared
  end

  # The seed, exactly: a long-poll waits, the README's line releases it.
  def test_seed_line_releases_a_waiting_long_poll
    poll = server.long_poll("/greetings")
    with_env("PUSH_URL" => server.url) do
      Push::Producer.new.publish('hi there!').to('/greetings')
    end
    response = poll.value
    assert_equal "200", response.code
    assert_equal "hi there!", response.body
    assert_match %r{\Atext/plain}, response["Content-Type"]
  end

  def test_publish_returns_the_id_as_a_string
    producer = Push::Producer.new(server.url)
    first = producer.publish("one").to("/ids")
    second = producer.publish("two").to("/ids")
    assert_kind_of String, first
    assert_match(/\A\d+\z/, first)
    assert_operator Integer(second), :>, Integer(first)
    assert_equal %w[two], server.messages("/ids", after: first).map { |m| m["data"] }
  end

  def test_module_publish_uses_the_default_producer
    with_env("PUSH_URL" => server.url) do
      Push.producer = nil
      cursor = server.last_id
      id = Push.publish("via Push.publish", to: "/default")
      assert_equal server.url, Push.producer.url
      msgs = server.messages("/default", after: cursor)
      assert_equal [[id, "via Push.publish"]], msgs.map { |m| [m["id"], m["data"]] }
    ensure
      Push.producer = nil
    end
  end

  # The rule of every push-rs SDK (sdk-core's DefaultProducer): the default producer is made
  # again when PUSH_URL or PUSH_PUBLISH_KEY has changed since it was made.
  def test_the_default_producer_follows_push_url_and_push_publish_key
    a = server
    b = PushServer.shared(publish_key: "k")
    Push.producer = nil
    cursors = { a => a.last_id, b => b.last_id }
    with_env("PUSH_URL" => a.url, "PUSH_PUBLISH_KEY" => nil) do
      assert_equal a.url, Push.producer.url
      Push.publish("to a", to: "/env-rule")
    end
    with_env("PUSH_URL" => b.url, "PUSH_PUBLISH_KEY" => nil) do
      assert_equal b.url, Push.producer.url
      assert_raises(Push::UnauthorizedError) { Push.publish("to b", to: "/env-rule") }
      ENV["PUSH_PUBLISH_KEY"] = "k"
      Push.publish("to b", to: "/env-rule")
    end
    assert_equal ["to a"], a.messages("/env-rule", after: cursors[a]).map { |m| m["data"] }
    assert_equal ["to b"], b.messages("/env-rule", after: cursors[b]).map { |m| m["data"] }
  ensure
    Push.producer = nil
  end

  def test_a_producer_set_with_producer_wins_over_the_environment
    other = Push::Producer.new(server.url)
    Push.producer = other
    with_env("PUSH_URL" => "http://127.0.0.1:1") do
      assert_same other, Push.producer
      assert_match(/\A\d+\z/, Push.publish("set", to: "/set"))
    end
  ensure
    Push.producer = nil
  end

  def test_close_default_forgets_the_default_producer
    with_env("PUSH_URL" => server.url) do
      Push.producer = nil
      Push.publish("before", to: "/close-default")
      assert_nil Push.close_default
      assert_match(/\A\d+\z/, Push.publish("after", to: "/close-default"))
    end
  end

  def test_url_may_be_a_uri_and_inspect_shows_it
    require "uri"
    producer = Push::Producer.new(URI(server.url))
    assert_equal server.url, producer.url
    assert_includes producer.inspect, server.url
    producer.publish("x").to("/uri")
  end

  def test_binary_data_goes_through_unchanged_as_octet_stream
    producer = Push::Producer.new(server.url)
    bytes = (0..255).map(&:chr).join.b * 3
    cursor = server.last_id
    producer.publish(bytes).to("/binary")
    # A BINARY string is octet-stream even when its bytes are valid UTF-8.
    producer.publish("plain ascii".b).to("/binary")
    msgs = server.messages("/binary", after: cursor)
    assert_equal 2, msgs.size
    assert_equal "base64", msgs[0]["encoding"]
    assert_equal bytes, msgs[0]["data"].unpack1("m0")
    assert_equal "application/octet-stream", msgs[0]["content_type"]
    assert_equal "application/octet-stream", msgs[1]["content_type"]
  end

  def test_strings_of_any_encoding_keep_their_bytes
    producer = Push::Producer.new(server.url)
    utf8 = "héllo wörld ✓"
    sjis = "こんにちは".encode("Shift_JIS")
    latin1 = "café".encode("ISO-8859-1")
    cursor = server.last_id
    [utf8, sjis, latin1].each { |s| producer.publish(s).to("/encodings") }

    msgs = server.messages("/encodings", after: cursor)
    assert_equal 3, msgs.size
    assert_equal utf8, msgs[0]["data"]
    assert_equal "text/plain; charset=utf-8", msgs[0]["content_type"]
    raw = msgs[1..].map { |m| m["encoding"] == "base64" ? m["data"].unpack1("m0") : m["data"] }
    assert_equal sjis.b, raw[0].b
    assert_equal latin1.b, raw[1].b
    assert_equal "text/plain; charset=Shift_JIS", msgs[1]["content_type"]
    assert_equal "text/plain; charset=ISO-8859-1", msgs[2]["content_type"]
  end

  def test_explicit_content_type_and_a_long_poll_body
    producer = Push::Producer.new(server.url)
    poll = server.long_poll("/json")
    producer.publish('{"a":1}', content_type: "application/json").to("/json")
    response = poll.value
    assert_equal '{"a":1}', response.body
    assert_equal "application/json", response["Content-Type"]
  end

  def test_one_publish_can_go_to_several_channels
    producer = Push::Producer.new(server.url)
    pending = producer.publish("fan")
    cursor = server.last_id
    a = pending.to("/fan/a")
    b = pending.to("/fan/b")
    refute_equal a, b
    assert_equal ["fan"], server.messages("/fan/a", after: cursor).map { |m| m["data"] }
    assert_equal ["fan"], server.messages("/fan/b", after: cursor).map { |m| m["data"] }
  end

  def test_non_strings_are_type_errors
    producer = Push::Producer.new(server.url)
    assert_raises(TypeError) { producer.publish(42) }
    assert_raises(TypeError) { producer.publish(nil) }
    assert_raises(TypeError) { producer.publish("x").to(:greetings) }
  end

  def test_close_then_publish_reconnects
    producer = Push::Producer.new(server.url)
    producer.publish("before").to("/close")
    producer.close
    assert_match(/\A\d+\z/, producer.publish("after").to("/close"))
  end

  def test_open_with_a_block_closes_the_producer_and_returns_the_value
    recording = Class.new(Push::Producer) do
      attr_reader :closed

      def close
        @closed = true
        super
      end
    end
    seen = nil
    id = recording.open(server.url, timeout: 5) do |producer|
      seen = producer
      producer.publish("opened").to("/open")
    end
    assert_match(/\A\d+\z/, id)
    assert seen.closed
    assert_raises(RuntimeError) { recording.open(server.url) { |producer| seen = producer; raise "boom" } }
    assert seen.closed, "closed on an exception too"
    without_block = recording.open(server.url)
    assert_kind_of Push::Producer, without_block
    refute without_block.closed
    assert_raises(Push::InvalidConfigError) { Push::Producer.open("ftp://x") { flunk "not yielded" } }
  end

  def test_subclasses_keep_working
    klass = Class.new(Push::Producer) do
      def initialize(server_url)
        super(server_url, timeout: 5)
      end
    end
    assert_match(/\A\d+\z/, klass.new(server.url).publish("sub").to("/subclass"))
  end

  def test_dup_shares_the_producer_and_initialize_runs_once
    producer = Push::Producer.new(server.url)
    copy = producer.dup
    assert_equal producer.url, copy.url
    assert_match(/\A\d+\z/, copy.publish("copy").to("/dup"))
    assert_raises(Push::Error) { producer.send(:initialize, server.url) }
  end

  def test_require_push_rs_loads_the_same_library
    assert require("push-rs") == false || defined?(Push::Producer)
    assert_equal "0.1.0", Push::VERSION
  end

end
