# frozen_string_literal: true

require_relative "test_helper"
require "uri"

# Push.subscribe_url: the base URL's precedence, the query's order and encoding, errors, and a
# real push-server with --auth token accepting the URL for exactly its channel and consumer.
class TestSubscribeUrl < Minitest::Test
  SECRET = "hotwire-s3cret"
  ENV_NAMES = %w[PUSH_PUBLIC_URL PUSH_URL PUSH_SECRET].freeze

  def setup
    @saved = ENV_NAMES.to_h { |name| [name, ENV.delete(name)] }
  end

  def teardown
    @saved.each { |name, value| ENV[name] = value }
  end

  # [channel, consumer, expires_at] of a token, from its middle part.
  def claims(token)
    channel, consumer, expiry = token.split(".")[1].tr("-_", "+/").unpack1("m").split("\n", -1)
    [channel, consumer, Integer(expiry, 10)]
  end

  def query(url)
    URI.decode_www_form(URI(url).query.to_s)
  end

  # The HTTP status of an SSE subscription to +url+ (what a browser's EventSource opens); the
  # stream is closed as soon as the status is known.
  def sse_status(url)
    uri = URI(url)
    Net::HTTP.start(uri.host, uri.port, read_timeout: 10) do |http|
      http.request(Net::HTTP::Get.new(uri.request_uri, "Accept" => "text/event-stream")) do |response|
        return response.code
      end
    end
  end

  def test_base_url_precedence
    assert_equal "http://127.0.0.1:4000/rooms/1", Push.subscribe_url("/rooms/1", token: false)
    with_env("PUSH_URL" => "http://push.internal:4000") do
      assert_equal "http://push.internal:4000/rooms/1", Push.subscribe_url("/rooms/1", token: false)
      with_env("PUSH_PUBLIC_URL" => "https://push.example.com") do
        assert_equal "https://push.example.com/rooms/1", Push.subscribe_url("/rooms/1", token: false)
        assert_equal "http://localhost:9/rooms/1", Push.subscribe_url("/rooms/1", token: false, url: "http://localhost:9")
        assert_equal "http://localhost:9/rooms/1", Push.subscribe_url("/rooms/1", token: false, url: URI("http://localhost:9"))
        # An empty value counts as none: the next one in line.
        assert_equal "https://push.example.com/rooms/1", Push.subscribe_url("/rooms/1", token: false, url: "")
      end
      with_env("PUSH_PUBLIC_URL" => "") do
        assert_equal "http://push.internal:4000/rooms/1", Push.subscribe_url("/rooms/1", token: false)
      end
      # Values are trimmed (as the push-rs core reads PUSH_URL): a blank one counts as none too.
      with_env("PUSH_PUBLIC_URL" => " \t") do
        assert_equal "http://push.internal:4000/rooms/1", Push.subscribe_url("/rooms/1", token: false)
        assert_equal "http://localhost:9/rooms/1", Push.subscribe_url("/rooms/1", token: false, url: " http://localhost:9/ ")
      end
    end
    with_env("PUSH_URL" => "") do
      assert_equal "http://127.0.0.1:4000/rooms/1", Push.subscribe_url("/rooms/1", token: false)
    end
  end

  def test_trailing_slash_dropped_and_path_kept
    assert_equal "https://example.com/rooms/1", Push.subscribe_url("/rooms/1", token: false, url: "https://example.com/")
    assert_equal "https://example.com/rooms/1", Push.subscribe_url("/rooms/1", token: false, url: "https://example.com//")
    assert_equal "https://example.com/push/rooms/1", Push.subscribe_url("/rooms/1", token: false, url: "https://example.com/push/")
    with_env("PUSH_PUBLIC_URL" => "HTTPS://Example.com:8443/") do
      assert_equal "HTTPS://Example.com:8443/a", Push.subscribe_url("/a", token: false)
    end
  end

  def test_query_order_and_encoding
    url = Push.subscribe_url("/rooms/1", consumer: "alice", secret: SECRET, gap: "turbo-refresh", url: "http://h:1")
    assert_match %r{\Ahttp://h:1/rooms/1\?gap=turbo-refresh&consumer=alice&token=push1\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}\z}, url
    assert_equal %w[gap consumer token], query(url).map(&:first)
    assert_equal "/rooms/1?gap=event", Push.subscribe_url("/rooms/1", token: false, gap: :event, url: "http://h")[8..]
    assert_equal "http://h/a?consumer=bob", Push.subscribe_url("/a", token: false, consumer: "bob", url: "http://h")
    assert_match %r{\Ahttp://h/a\?token=push1\.}, Push.subscribe_url("/a", secret: SECRET, url: "http://h")

    # Every byte but A-Z a-z 0-9 - . _ ~ is percent-encoded.
    url = Push.subscribe_url("/a", token: false, consumer: "a b&c=d/é+~x.y_z-1", url: "http://h")
    assert_equal "http://h/a?consumer=a%20b%26c%3Dd%2F%C3%A9%2B~x.y_z-1", url
    assert_equal [["consumer", "a b&c=d/é+~x.y_z-1"]], query(url)
    # The token is signed for that consumer (its own characters are URL-safe: not encoded).
    url = Push.subscribe_url("/a", secret: SECRET, consumer: "a b&c", url: "http://h")
    token = query(url).to_h.fetch("token")
    assert_includes url, "token=#{token}"
    assert_equal ["/a", "a b&c"], claims(token).first(2)
    assert_equal Encoding::UTF_8, url.encoding
  end

  def test_channel_object_and_valid_channels
    assert_equal "http://h/user:17/inbox@x~y", Push.subscribe_url(Push.channel("/user:17/inbox@x~y"), token: false, url: "http://h")
  end

  def test_token_is_signed_for_the_channel_consumer_and_expiry
    before = Time.now.to_i
    url = Push.subscribe_url("/rooms/7", consumer: "carol", expires_in: 120, secret: SECRET)
    channel, consumer, expiry = claims(query(url).to_h.fetch("token"))
    assert_equal ["/rooms/7", "carol"], [channel, consumer]
    assert_includes (before + 120)..(Time.now.to_i + 120), expiry
    # The default expiry is the core's: one hour. The secret comes from PUSH_SECRET when not given.
    with_env("PUSH_SECRET" => SECRET) do
      token = query(Push.subscribe_url("/rooms/7")).to_h.fetch("token")
      assert_equal ["/rooms/7", ""], claims(token).first(2)
      assert_includes (before + 3600)..(Time.now.to_i + 3600), claims(token).last
      # The same signature as Push::Token.sign for the same claims.
      assert_equal Push::Token.sign(channel: "/rooms/7", expires_at: claims(token).last), token
    end
  end

  def test_errors
    error = assert_raises(Push::InvalidConfigError) { Push.subscribe_url("/a") }
    assert_includes error.message, "PUSH_SECRET"
    assert_includes error.message, "token: false"
    assert_raises(Push::InvalidConfigError) { Push.subscribe_url("/a", secret: "") }
    with_env("PUSH_SECRET" => "") { assert_raises(Push::InvalidConfigError) { Push.subscribe_url("/a") } }

    ["rooms", "", "/a//b", "/_push/x", "/sp ace", "/rooms/*"].each do |channel|
      assert_raises(Push::InvalidChannelError, channel.inspect) { Push.subscribe_url(channel, token: false) }
      assert_raises(Push::InvalidChannelError, channel.inspect) { Push.subscribe_url(channel, secret: SECRET) }
    end
    assert_raises(TypeError) { Push.subscribe_url(:"/a", token: false) }

    ["", "a\nb"].each do |consumer|
      assert_raises(Push::InvalidConfigError, consumer.inspect) { Push.subscribe_url("/a", consumer: consumer, secret: SECRET) }
      assert_raises(Push::InvalidConfigError, consumer.inspect) { Push.subscribe_url("/a", consumer: consumer, token: false) }
    end
    assert_raises(TypeError) { Push.subscribe_url("/a", consumer: 7, token: false) }
    assert_raises(TypeError) { Push.subscribe_url("/a", secret: 7) }
    assert_raises(Push::InvalidConfigError) { Push.subscribe_url("/a", secret: SECRET, expires_in: -1) }

    error = assert_raises(ArgumentError) { Push.subscribe_url("/a", token: false, gap: "reload") }
    assert_includes error.message, "turbo-refresh"
    assert_raises(ArgumentError) { Push.subscribe_url("/a", token: false, gap: "") }
    error = assert_raises(ArgumentError) { Push.subscribe_url("/a", token: nil) }
    assert_includes error.message, "true or false"
    assert_raises(ArgumentError) { Push.subscribe_url("/a", token: "push1.x.y") }
    assert_raises(ArgumentError) { Push.subscribe_url("/a", token: false, channel: "/b") } # unknown keyword

    ["amqp://broker:5672", "ws://h", "127.0.0.1:4000", "http://", "http://h/?x=1", "http://h/#f"].each do |url|
      error = assert_raises(Push::InvalidConfigError, url) { Push.subscribe_url("/a", token: false, url: url) }
      assert_includes error.message, "http://"
    end
    # A producer may publish over AMQP (PUSH_URL=amqp://...): browsers need PUSH_PUBLIC_URL then.
    with_env("PUSH_URL" => "amqp://broker:5672") do
      error = assert_raises(Push::InvalidConfigError) { Push.subscribe_url("/a", token: false) }
      assert_includes error.message, "PUSH_PUBLIC_URL"
      with_env("PUSH_PUBLIC_URL" => "https://push.example.com") do
        assert_equal "https://push.example.com/a", Push.subscribe_url("/a", token: false)
      end
    end
  end

  # The URL opened as a browser does, against push-server --auth token --secret SECRET: 200 for
  # the channel and consumer it was signed for, refused for another channel, another consumer,
  # or a token signed with another secret.
  def test_push_server_accepts_the_url_for_exactly_its_channel_and_consumer
    server = PushServer.shared(auth: "token", secret: SECRET)
    url = Push.subscribe_url("/private/1", secret: SECRET, url: server.url)
    assert_equal "200", sse_status(url)
    assert_equal "200", sse_status(Push.subscribe_url("/private/1", secret: SECRET, url: server.url, gap: "turbo-refresh"))
    assert_equal "403", sse_status(url.sub("/private/1?", "/private/2?"))
    assert_equal "401", sse_status(Push.subscribe_url("/private/1", secret: "wrong", url: server.url))
    assert_equal "401", sse_status(Push.subscribe_url("/private/1", token: false, url: server.url))

    with_consumer = Push.subscribe_url("/private/1", consumer: "alice", secret: SECRET, url: server.url)
    assert_equal "200", sse_status(with_consumer)
    assert_equal "403", sse_status(with_consumer.sub("consumer=alice", "consumer=bob"))
    assert_equal "200", sse_status(Push.subscribe_url("/private/1", consumer: "a b&c", secret: SECRET, url: server.url))

    with_env("PUSH_PUBLIC_URL" => server.url, "PUSH_SECRET" => SECRET) do
      assert_equal "200", sse_status(Push.subscribe_url("/private/1"))
    end
  end

  # What a subscriber of the URL receives: the messages published to the channel.
  def test_subscriber_of_the_url_receives_messages
    server = PushServer.shared(auth: "token", secret: SECRET)
    url = Push.subscribe_url("/rooms/url-test", consumer: "dave", secret: SECRET, url: server.url)
    stream = SseStream.new(server.port, URI(url).request_uri)
    Waiting.until("the subscriber counted") { Push::Producer.new(server.url).channel("/rooms/url-test").info.connections == 1 }
    id = Push::Producer.new(server.url).publish("hello dave").to("/rooms/url-test")
    event = stream.next_event
    event = stream.next_event until event["data"] == "hello dave" || event == :end
    assert_equal id, event["id"]
  ensure
    stream&.close
  end
end
