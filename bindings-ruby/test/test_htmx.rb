# frozen_string_literal: true

require_relative "test_helper"
require "cgi"
require "uri"

# Push::Htmx: sse_attributes' exact text, and publish read back through a real push-server
# (history, and an SSE subscriber of the attributes' URL seeing `event: <name>`).
class TestHtmx < Minitest::Test
  SECRET = "htmx-s3cret"

  def setup
    @saved = %w[PUSH_PUBLIC_URL PUSH_URL PUSH_SECRET].to_h { |name| [name, ENV.delete(name)] }
  end

  def teardown
    @saved.each { |name, value| ENV[name] = value }
  end

  # The next event of an SseStream that carries data (not the opening `id:`/`retry:` one), its
  # data as UTF-8 text.
  def next_message(sse)
    event = sse.next_event
    event = sse.next_event until event == :end || event.key?("data")
    event["data"] = event["data"].dup.force_encoding(Encoding::UTF_8) if event.is_a?(Hash)
    event
  end

  def test_sse_attributes
    assert_equal 'hx-ext="sse" sse-connect="http://127.0.0.1:4000/rooms/1"', Push::Htmx.sse_attributes("/rooms/1", token: false)
    with_env("PUSH_PUBLIC_URL" => "https://push.example.com/", "PUSH_SECRET" => SECRET) do
      attributes = Push::Htmx.sse_attributes("/rooms/1", consumer: "a b")
      url = attributes[/\Ahx-ext="sse" sse-connect="([^"]*)"\z/, 1]
      refute_nil url, attributes
      assert_match %r{\Ahttps://push\.example\.com/rooms/1\?consumer=a%20b&amp;token=push1\.[A-Za-z0-9_.-]+\z}, url
      refute_includes url, "gap=" # the server's default: event: gap, for hx-trigger="sse:gap"
      assert_instance_of String, attributes
    end
    assert_equal 'hx-ext="sse" sse-connect="http://h/a?gap=turbo-refresh"',
                 Push::Htmx.sse_attributes("/a", token: false, url: "http://h", gap: "turbo-refresh")
    assert_raises(Push::InvalidConfigError) { Push::Htmx.sse_attributes("/a") }
    assert_raises(Push::InvalidChannelError) { Push::Htmx.sse_attributes("a", token: false) }
  end

  def test_publish_with_an_event_name_reaches_the_subscriber_as_that_event
    server = PushServer.shared(auth: "token", secret: SECRET)
    producer = Push::Producer.new(server.url)
    channel = "/htmx/room"
    url = CGI.unescapeHTML(Push::Htmx.sse_attributes(channel, consumer: "erin", secret: SECRET, url: server.url)[/sse-connect="([^"]*)"/, 1])
    sse = SseStream.new(server.port, URI(url).request_uri)
    Waiting.until("the subscriber counted") { producer.channel(channel).info.connections == 1 }

    chat = Push::Htmx.publish(%(<li>hi "erin" é</li>), to: channel, event: "chat", producer: producer)
    plain = Push::Htmx.publish("<p>plain</p>", to: channel, producer: producer)
    symbol = Push::Htmx.publish("<ul>\n<li>two lines</li>\n</ul>", to: channel, event: :"room.7:typing", producer: producer)

    assert_equal({ "id" => chat, "event" => "chat", "data" => %(<li>hi "erin" é</li>) }, next_message(sse).slice("id", "event", "data"))
    assert_equal({ "id" => plain, "data" => "<p>plain</p>" }, next_message(sse).slice("id", "event", "data"))
    assert_equal({ "id" => symbol, "event" => "room.7:typing", "data" => "<ul>\n<li>two lines</li>\n</ul>" },
                 next_message(sse).slice("id", "event", "data"))

    history = producer.channel(channel).history.messages.last(3)
    assert_equal [[chat, "chat"], [plain, nil], [symbol, "room.7:typing"]], history.map { |m| [m.id, m.event] }
    history.each { |m| assert_equal "text/html; charset=utf-8", m.content_type }
    assert_equal %(<li>hi "erin" é</li>), history.first.data
  ensure
    sse&.close
  end

  def test_publish_errors
    server = PushServer.shared
    producer = Push::Producer.new(server.url)
    ["gap", "disconnect", "error", "", "has space", "x" * 65, "é"].each do |event|
      error = assert_raises(Push::BadRequestError, event.inspect) { Push::Htmx.publish("<p>x</p>", to: "/htmx/e", event: event, producer: producer) }
      assert_equal "BAD_REQUEST", error.code
    end
    assert_empty producer.channel("/htmx/e").history.messages # nothing stored
    id = Push::Htmx.publish("<p>x</p>", to: "/htmx/e", event: "x" * 64, producer: producer) # the longest name
    assert_equal [[id, "x" * 64]], producer.channel("/htmx/e").history.messages.map { |m| [m.id, m.event] }
    assert_raises(ArgumentError) { Push::Htmx.publish(nil, to: "/htmx/e", producer: producer) }
    assert_raises(ArgumentError) { Push::Htmx.publish("\xFF".b, to: "/htmx/e", producer: producer) }
    assert_raises(ArgumentError) { Push::Htmx.publish("<p>x</p>", producer: producer) } # to: is required
    assert_raises(Push::InvalidChannelError) { Push::Htmx.publish("<p>x</p>", to: "htmx", producer: producer) }
    assert_raises(TypeError) { Push::Htmx.publish("<p>x</p>", to: "/htmx/e", event: 7, producer: producer) }
  end

  def test_publish_through_the_default_producer_to_several_channels
    server = PushServer.shared
    with_env("PUSH_URL" => server.url) do
      id = Push::Htmx.publish("<b>both</b>", to: ["/htmx/x", "/htmx/y"], event: "news", idempotency_key: "htmx-k1")
      assert_equal id, Push::Htmx.publish("<b>both</b>", to: ["/htmx/x", "/htmx/y"], event: "news", idempotency_key: "htmx-k1")
      %w[/htmx/x /htmx/y].each do |channel|
        message = Push.channel(channel).history(last: 1).messages.fetch(0)
        assert_equal [id, "<b>both</b>", "news", "text/html; charset=utf-8"], [message.id, message.data, message.event, message.content_type]
      end
    ensure
      Push.close_default
    end
  end
end
