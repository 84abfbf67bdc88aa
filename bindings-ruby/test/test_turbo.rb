# frozen_string_literal: true

require_relative "test_helper"
require "uri"

# Push::Turbo: the exact <turbo-stream> fragment of every action, escaping, every error, the
# <turbo-stream-source> tag, and broadcasts read back through a real push-server (history and
# an SSE subscriber of the tag's URL).
class TestTurbo < Minitest::Test
  SECRET = "turbo-s3cret"

  def setup
    @saved = %w[PUSH_PUBLIC_URL PUSH_URL PUSH_SECRET].to_h { |name| [name, ENV.delete(name)] }
  end

  def teardown
    @saved.each { |name, value| ENV[name] = value }
    Push::Turbo.renderer = nil
  end

  def stream(...)
    Push::Turbo.stream(...)
  end

  # The next event of an SseStream that carries data (not the opening `id:`/`retry:` one).
  def next_message(sse)
    event = sse.next_event
    event = sse.next_event until event == :end || event.key?("data")
    event
  end

  def test_content_actions_exact_fragments
    %w[append prepend replace update before after].each do |action|
      assert_equal %(<turbo-stream action="#{action}" target="messages"><template><li>hi</li></template></turbo-stream>),
                   stream(action, target: "messages", html: "<li>hi</li>")
      assert_equal %(<turbo-stream action="#{action}" target="messages"><template><li>hi</li></template></turbo-stream>),
                   stream(action.to_sym, target: :messages, html: "<li>hi</li>")
      assert_equal %(<turbo-stream action="#{action}" targets=".msg:not(.old)"><template>&lt;b&gt;</template></turbo-stream>),
                   stream(action, targets: ".msg:not(.old)", text: "<b>")
      # Empty content is content.
      assert_equal %(<turbo-stream action="#{action}" target="m"><template></template></turbo-stream>), stream(action, target: "m", html: "")
      assert_equal %(<turbo-stream action="#{action}" target="m"><template></template></turbo-stream>), stream(action, target: "m", text: "")
    end
    assert_equal '<turbo-stream action="append" target="messages"><template><li>hi</li></template></turbo-stream>',
                 stream(:append, target: "messages", html: "<li>hi</li>")
  end

  def test_remove_and_refresh
    assert_equal '<turbo-stream action="remove" target="m1"></turbo-stream>', stream(:remove, target: "m1")
    assert_equal '<turbo-stream action="remove" targets="li.done"></turbo-stream>', stream("remove", targets: "li.done")
    assert_equal '<turbo-stream action="refresh"></turbo-stream>', stream(:refresh)
    assert_equal '<turbo-stream action="refresh" request-id="req-42"></turbo-stream>', stream(:refresh, request_id: "req-42")
  end

  def test_morph
    %w[replace update].each do |action|
      assert_equal %(<turbo-stream action="#{action}" target="card" method="morph"><template><p>x</p></template></turbo-stream>),
                   stream(action, target: "card", html: "<p>x</p>", method: "morph")
      assert_equal %(<turbo-stream action="#{action}" targets=".card" method="morph"><template>x</template></turbo-stream>),
                   stream(action, targets: ".card", text: "x", method: :morph)
    end
  end

  def test_escaping
    nasty = %(a&b<c>d"e'f)
    escaped = "a&amp;b&lt;c&gt;d&quot;e&#39;f"
    assert_equal %(<turbo-stream action="append" target="#{escaped}"><template>#{escaped}</template></turbo-stream>),
                 stream(:append, target: nasty, text: nasty)
    assert_equal %(<turbo-stream action="remove" targets="#{escaped}"></turbo-stream>), stream(:remove, targets: nasty)
    assert_equal %(<turbo-stream action="refresh" request-id="#{escaped}"></turbo-stream>), stream(:refresh, request_id: nasty)
    # html is inserted as it is, markup included; text is escaped once (an escaped entity is escaped again).
    assert_equal %(<turbo-stream action="update" target="t"><template>#{nasty}</template></turbo-stream>), stream(:update, target: "t", html: nasty)
    assert_equal '<turbo-stream action="update" target="t"><template>&amp;amp; é ✓</template></turbo-stream>',
                 stream(:update, target: "t", text: "&amp; é ✓")
    # A template inside html stays inside the outer one.
    assert_equal '<turbo-stream action="append" target="t"><template><template><b>x</b></template></template></turbo-stream>',
                 stream(:append, target: "t", html: "<template><b>x</b></template>")
  end

  def test_encodings
    fragment = stream(:append, target: "t", html: "<li>é</li>".encode("ISO-8859-1"))
    assert_equal Encoding::UTF_8, fragment.encoding
    assert_equal '<turbo-stream action="append" target="t"><template><li>é</li></template></turbo-stream>', fragment
    assert_equal fragment, stream(:append, target: "t", html: "<li>é</li>".b) # UTF-8 bytes in a BINARY String
    assert_equal Encoding::UTF_8, stream(:refresh).encoding
    error = assert_raises(ArgumentError) { stream(:append, target: "t", html: "\xFF".b) }
    assert_includes error.message, "UTF-8"
    assert_raises(ArgumentError) { stream(:append, target: "t", text: "\xFF") }
    assert_raises(ArgumentError) { stream(:append, target: "\xFF", text: "x") }
  end

  def test_errors
    cases = {
      -> { stream(:explode, target: "t", html: "") } => "append, prepend, replace, update, remove, before, after, refresh",
      -> { stream(nil, target: "t", html: "") } => "unknown Turbo Stream action",
      -> { stream("APPEND", target: "t", html: "") } => "unknown Turbo Stream action",
      -> { stream(:append, html: "x") } => "exactly one of target:",
      -> { stream(:remove) } => "exactly one of target:",
      -> { stream(:append, target: "a", targets: ".b", html: "x") } => "not both",
      -> { stream(:append, target: "", html: "x") } => "target: must not be empty",
      -> { stream(:append, targets: "", html: "x") } => "targets: must not be empty",
      -> { stream(:append, target: 7, html: "x") } => "target: must be a String",
      -> { stream(:refresh, target: "t") } => "refresh action takes no target",
      -> { stream(:refresh, targets: "body") } => "refresh action takes no target",
      -> { stream(:append, target: "t") } => "needs exactly one of html:",
      -> { stream(:append, target: "t", html: "a", text: "b") } => "not html: and text:",
      -> { stream(:append, target: "t", html: 5) } => "html: must be a String",
      -> { stream(:remove, target: "t", html: "x") } => "remove action takes no content (html:)",
      -> { stream(:remove, target: "t", text: "") } => "remove action takes no content (text:)",
      -> { stream(:refresh, html: "x") } => "refresh action takes no content",
      -> { stream(:append, target: "t", html: "x", method: "morph") } => "replace and update",
      -> { stream(:remove, target: "t", method: :morph) } => "replace and update",
      -> { stream(:replace, target: "t", html: "x", method: "replace") } => "method: must be \"morph\"",
      -> { stream(:replace, target: "t", html: "x", method: 1) } => "method: must be \"morph\"",
      -> { stream(:append, target: "t", html: "x", request_id: "r") } => "refresh action only",
      -> { stream(:refresh, request_id: "") } => "request_id: must not be empty",
      -> { stream(:refresh, request_id: 42) } => "request_id: must be a String",
      -> { stream(:append, target: "t", partial: "messages/message") } => "Push::Turbo.renderer",
      -> { stream(:append, target: "t", html: "x", locals: { a: 1 }) } => "locals: goes with partial:",
      -> { stream(:append, target: "t", html: "x", partial: "p") } => "not html: and partial:",
      -> { stream(:append, target: "t", html: "x", bogus: 1) } => "unknown keyword: :bogus"
    }
    cases.each do |call, text|
      error = assert_raises(ArgumentError, text) { call.call }
      assert_includes error.message, text
    end
    # Broadcasts check the same before publishing anything (no server at this address).
    producer = Push::Producer.new("http://127.0.0.1:1")
    assert_raises(ArgumentError) { Push::Turbo.broadcast(:append, to: "/a", target: "t", producer: producer) }
    assert_raises(ArgumentError) { Push::Turbo.broadcast_append_to("/a", target: "t", producer: producer) }
    assert_raises(ArgumentError) { Push::Turbo.broadcast_remove_to("/a", producer: producer) }
    assert_raises(ArgumentError) { Push::Turbo.broadcast_remove_to("/a", target: "t", html: "x", producer: producer) } # no html: keyword
    assert_raises(ArgumentError) { Push::Turbo.broadcast_refresh_to("/a", target: "t", producer: producer) }
    assert_raises(ArgumentError) { Push::Turbo.broadcast_append_to("/a", target: "t", html: "x", method: :morph, producer: producer) }
    assert_raises(ArgumentError) { Push::Turbo.broadcast(:append, target: "t", html: "x", producer: producer) } # to: is required
    assert_raises(Push::InvalidChannelError) { Push::Turbo.broadcast_append_to("nope", target: "t", html: "x", producer: producer) }
  end

  def test_renderer_renders_partials
    calls = []
    Push::Turbo.renderer = lambda do |partial:, locals:|
      calls << [partial, locals]
      "<li>#{locals.fetch(:message, '-')}</li>"
    end
    assert_equal '<turbo-stream action="append" target="m"><template><li>hi</li></template></turbo-stream>',
                 stream(:append, target: "m", partial: "messages/message", locals: { message: "hi" })
    assert_equal '<turbo-stream action="replace" target="m" method="morph"><template><li>-</li></template></turbo-stream>',
                 stream(:replace, target: "m", partial: :message, method: :morph)
    assert_equal [["messages/message", { message: "hi" }], ["message", {}]], calls
    assert_raises(ArgumentError) { stream(:append, target: "m", partial: 3) }
    assert_raises(ArgumentError) { stream(:append, target: "m", partial: "p", locals: [1]) }
    Push::Turbo.renderer = ->(**) { "\xFF".b }
    assert_raises(ArgumentError) { stream(:append, target: "m", partial: "p") }
  end

  def test_stream_source_tag
    url = "http://127.0.0.1:4000/rooms/1?gap=turbo-refresh"
    assert_equal %(<turbo-stream-source src="#{url}"></turbo-stream-source>), Push::Turbo.stream_source_tag("/rooms/1", token: false)
    tag = Push::Turbo.stream_source_tag("/rooms/1", consumer: "a&b", secret: SECRET, expires_in: 60, url: "https://push.example.com")
    src = tag[/\A<turbo-stream-source src="([^"]*)"><\/turbo-stream-source>\z/, 1]
    refute_nil src, tag
    refute_match(/&(?!amp;)/, src) # every & of the URL escaped for the attribute
    assert_match %r{\Ahttps://push\.example\.com/rooms/1\?gap=turbo-refresh&amp;consumer=a%26b&amp;token=push1\.}, src
    unescaped = CGI.unescapeHTML(src)
    token = URI.decode_www_form(URI(unescaped).query).to_h.fetch("token")
    assert_equal unescaped, "https://push.example.com/rooms/1?gap=turbo-refresh&consumer=a%26b&token=#{token}"
    # gap can be set back to the server's default.
    assert_equal '<turbo-stream-source src="http://h/a?gap=event"></turbo-stream-source>',
                 Push::Turbo.stream_source_tag("/a", token: false, url: "http://h", gap: "event")
    # No ActiveSupport in this process: a plain String (test_rails.rb checks html_safe).
    assert_instance_of String, tag
    assert_raises(Push::InvalidConfigError) { Push::Turbo.stream_source_tag("/a") }
    assert_raises(Push::InvalidChannelError) { Push::Turbo.stream_source_tag("a", token: false) }
    assert_raises(ArgumentError) { Push::Turbo.stream_source_tag("/a", token: false, gap: "x") }
  end

  # Each broadcast publishes the fragment with the Turbo Stream content type; the history and an
  # SSE subscriber of the tag's URL (a plain message event, what <turbo-stream-source> applies)
  # read it back.
  def test_broadcasts_through_a_server
    server = PushServer.shared(auth: "token", secret: SECRET)
    producer = Push::Producer.new(server.url)
    channel = "/turbo/broadcasts"
    src = CGI.unescapeHTML(Push::Turbo.stream_source_tag(channel, secret: SECRET, url: server.url)[/src="([^"]*)"/, 1])
    stream = SseStream.new(server.port, URI(src).request_uri)
    Waiting.until("the subscriber counted") { producer.channel(channel).info.connections == 1 }

    expected = [
      [Push::Turbo.broadcast(:append, to: channel, target: "messages", html: "<li>1</li>", producer: producer),
       '<turbo-stream action="append" target="messages"><template><li>1</li></template></turbo-stream>'],
      [Push::Turbo.broadcast_append_to(channel, target: "messages", text: "<2>", producer: producer),
       '<turbo-stream action="append" target="messages"><template>&lt;2&gt;</template></turbo-stream>'],
      [Push::Turbo.broadcast_prepend_to(channel, targets: "ul.log", html: "<li>3</li>", producer: producer),
       '<turbo-stream action="prepend" targets="ul.log"><template><li>3</li></template></turbo-stream>'],
      [Push::Turbo.broadcast_replace_to(channel, target: "m1", html: "<li id=\"m1\">4</li>", method: :morph, producer: producer),
       '<turbo-stream action="replace" target="m1" method="morph"><template><li id="m1">4</li></template></turbo-stream>'],
      [Push::Turbo.broadcast_update_to(channel, target: "count", text: "5", producer: producer),
       '<turbo-stream action="update" target="count"><template>5</template></turbo-stream>'],
      [Push::Turbo.broadcast_remove_to(channel, target: "m1", producer: producer),
       '<turbo-stream action="remove" target="m1"></turbo-stream>'],
      [Push::Turbo.broadcast_before_to(channel, target: "m2", html: "<li>7</li>", producer: producer),
       '<turbo-stream action="before" target="m2"><template><li>7</li></template></turbo-stream>'],
      [Push::Turbo.broadcast_after_to(channel, target: "m2", html: "<li>8</li>", producer: producer),
       '<turbo-stream action="after" target="m2"><template><li>8</li></template></turbo-stream>'],
      [Push::Turbo.broadcast_refresh_to(channel, request_id: "r9", producer: producer),
       '<turbo-stream action="refresh" request-id="r9"></turbo-stream>'],
      [Push::Turbo.broadcast_refresh_to(channel, producer: producer), '<turbo-stream action="refresh"></turbo-stream>']
    ]

    got = producer.channel(channel).history.messages.last(expected.size)
    assert_equal expected, got.map { |m| [m.id, m.data] }
    got.each do |message|
      assert_equal "text/vnd.turbo-stream.html", message.content_type
      assert_nil message.event
      assert_equal Encoding::UTF_8, message.data.encoding
    end

    events = expected.map { next_message(stream) }
    assert_equal expected, events.map { |e| [e["id"], e["data"]] }
    events.each { |e| assert_nil e["event"], e.inspect } # plain `message` events
  ensure
    stream&.close
  end

  def test_broadcast_uses_the_default_producer_and_takes_several_channels_and_idempotency_keys
    server = PushServer.shared
    with_env("PUSH_URL" => server.url) do
      id = Push::Turbo.broadcast_append_to(["/turbo/a", "/turbo/b"], target: "t", html: "x", idempotency_key: "turbo-k1")
      assert_equal id, Push::Turbo.broadcast_append_to(["/turbo/a", "/turbo/b"], target: "t", html: "x", idempotency_key: "turbo-k1")
      %w[/turbo/a /turbo/b].each do |channel|
        message = Push.channel(channel).history(last: 1).messages.fetch(0)
        assert_equal [id, '<turbo-stream action="append" target="t"><template>x</template></turbo-stream>', "text/vnd.turbo-stream.html"],
                     [message.id, message.data, message.content_type]
      end
      id = Push::Turbo.broadcast(:remove, to: Push.channel("/turbo/a"), target: "t")
      assert_equal id, Push.channel("/turbo/a").history(last: 1).messages.fetch(0).id
    ensure
      Push.close_default
    end
  end
end
