# frozen_string_literal: true

require_relative "test_helper"
require "cgi"
require "uri"
require "tempfile"

# The Turbo Streams and htmx examples, each run as a user would (`rackup`, a real process)
# against push-server --auth token started by the test: the pages carry tags whose URLs the
# server accepts, and a POST reaches their subscribers as Turbo Stream actions and as
# `event: chat` messages.
class TestHotwireExamples < Minitest::Test
  HERE = File.expand_path("..", __dir__)
  SECRET = "example-s3cret"

  def rails?
    system(RbConfig.ruby, "-e", 'require "action_controller/railtie"', out: File::NULL, err: File::NULL)
  end

  # Runs `rackup <config.ru> -p PORT` with the push server's URL and secret; yields an
  # HTTP client for it, and stops it after the block.
  def rackup(config_ru, server, timeout: 60)
    port = PushServer.free_port
    log = Tempfile.new("rackup")
    env = { "PUSH_URL" => server.url, "PUSH_SECRET" => SECRET, "PUSH_PUBLIC_URL" => nil, "RACK_ENV" => "development" }
    pid = Process.spawn(env, *ruby_command("-S", "rackup", File.join(HERE, config_ru), "-p", port.to_s, "-o", "127.0.0.1"),
                        out: log.path, err: log.path)
    Waiting.until("#{config_ru} answering on port #{port}", timeout: timeout, message: -> { "#{config_ru} did not start:\n#{File.read(log.path)}" }) do
      raise "#{config_ru} exited:\n#{File.read(log.path)}" if Process.wait(pid, Process::WNOHANG)

      Net::HTTP.get_response(URI("http://127.0.0.1:#{port}/")).code == "200"
    rescue SystemCallError
      false
    end
    yield Net::HTTP.new("127.0.0.1", port)
  rescue Minitest::Assertion
    $stderr.puts File.read(log.path)
    raise
  ensure
    kill_child(pid, "TERM") if pid
    log&.close!
  end

  # The attribute +name+'s URL in +html+ (unescaped), checked to be one the server accepts.
  def url_in(html, pattern)
    src = html[pattern, 1]
    refute_nil src, "no #{pattern.inspect} in:\n#{html}"
    CGI.unescapeHTML(src)
  end

  def next_message(sse)
    event = sse.next_event
    event = sse.next_event until event == :end || event.key?("data")
    event["data"] = event["data"].dup.force_encoding(Encoding::UTF_8) if event.is_a?(Hash)
    event.is_a?(Hash) ? event.slice("event", "data") : event
  end

  def subscribe(server, url, count)
    uri = URI(url)
    assert_equal server.url, "#{uri.scheme}://#{uri.host}:#{uri.port}"
    sse = SseStream.new(server.port, uri.request_uri)
    producer = Push::Producer.new(server.url)
    Waiting.until("#{count} subscribers of /chat") { producer.channel("/chat").info.connections >= count }
    sse
  end

  def test_rack_example
    server = PushServer.new(auth: "token", secret: SECRET) # its own: /chat starts empty
    rackup("examples/turbo_htmx/config.ru", server) do |http|
      page = http.get("/")
      assert_equal "text/html; charset=utf-8", page["content-type"]
      src = url_in(page.body, %r{<turbo-stream-source src="([^"]*)"></turbo-stream-source>})
      assert_match %r{\A#{Regexp.escape(server.url)}/chat\?gap=turbo-refresh&token=push1\.}, src
      htmx_page = http.get("/htmx").body
      connect = url_in(htmx_page, /<div hx-ext="sse" sse-connect="([^"]*)">/)
      assert_match %r{\A#{Regexp.escape(server.url)}/chat\?token=push1\.}, connect
      assert_includes htmx_page, '<ul id="messages" sse-swap="chat" hx-swap="beforeend"></ul>'
      turbo = subscribe(server, src, 1)
      htmx = subscribe(server, connect, 2)

      # Turbo submits the form asking for a Turbo Stream.
      res = http.post("/messages", URI.encode_www_form(text: "<hi> & bye"),
                      "Content-Type" => "application/x-www-form-urlencoded", "Accept" => "text/vnd.turbo-stream.html, text/html")
      assert_equal "200", res.code, res.body
      assert_equal "text/vnd.turbo-stream.html", res["content-type"]
      assert_match %r{\A<turbo-stream action="replace" target="new_message"><template><form id="new_message" }, res.body
      item = '<li id="message_1">&lt;hi&gt; &amp; bye</li>'
      expected = [
        { "data" => %(<turbo-stream action="append" target="messages"><template>#{item}</template></turbo-stream>) },
        { "data" => '<turbo-stream action="update" target="count"><template>1 messages</template></turbo-stream>' },
        { "event" => "chat", "data" => item }
      ]
      assert_equal expected, Array.new(3) { next_message(turbo) }
      assert_equal expected, Array.new(3) { next_message(htmx) }

      # htmx posts with HX-Request; a plain form post is redirected; an empty one refused.
      res = http.post("/messages", "text=two", "Content-Type" => "application/x-www-form-urlencoded", "HX-Request" => "true")
      assert_equal "204", res.code
      assert_equal({ "data" => %(<turbo-stream action="append" target="messages"><template><li id="message_2">two</li></template></turbo-stream>) },
                   next_message(turbo))
      res = http.post("/messages", "text=three", "Content-Type" => "application/x-www-form-urlencoded", "Referer" => "http://x/htmx")
      assert_equal ["303", "http://x/htmx"], [res.code, res["location"]]
      assert_equal "422", http.post("/messages", "text=+", "Content-Type" => "application/x-www-form-urlencoded").code

      # What a page shows when it loads, and what the htmx page reloads after a gap.
      items = '<li id="message_1">&lt;hi&gt; &amp; bye</li><li id="message_2">two</li><li id="message_3">three</li>'
      assert_equal items, http.get("/htmx/messages").body
      assert_includes http.get("/").body, %(<ul id="messages">#{items}</ul>)
      assert_equal "404", http.get("/nope").code
    ensure
      turbo&.close
      htmx&.close
    end
  ensure
    server&.stop
  end

  def test_rails_example
    skip "Rails is not installed (ci.sh installs Debian's ruby-railties)" unless rails?

    server = PushServer.new(auth: "token", secret: SECRET)
    rackup("examples/rails/config.ru", server, timeout: 120) do |http|
      page = http.get("/")
      assert_equal "200", page.code
      # push_turbo_stream_from's tag, not escaped by ERB (html_safe).
      src = url_in(page.body, %r{^<turbo-stream-source src="([^"]*)"></turbo-stream-source>$})
      assert_match %r{\A#{Regexp.escape(server.url)}/chat\?gap=turbo-refresh&token=push1\.}, src
      htmx_page = http.get("/htmx").body
      connect = url_in(htmx_page, /^<div hx-ext="sse" sse-connect="([^"]*)">$/)
      assert_match %r{\A#{Regexp.escape(server.url)}/chat\?token=push1\.}, connect
      turbo = subscribe(server, src, 1)
      htmx = subscribe(server, connect, 2)

      # Rails' CSRF protection: the session cookie and the form's token.
      cookie = page["set-cookie"].split(";").first
      token = page.body[/name="authenticity_token" value="([^"]*)"/, 1]
      res = http.post("/messages", URI.encode_www_form(authenticity_token: token, text: "<hi> & bye"),
                      "Content-Type" => "application/x-www-form-urlencoded", "Cookie" => cookie,
                      "Accept" => "text/vnd.turbo-stream.html, text/html")
      assert_equal "200", res.code, res.body
      assert_equal "text/vnd.turbo-stream.html; charset=utf-8", res["content-type"]
      assert_match %r{\A<turbo-stream action="replace" target="new_message"><template><form id="new_message" }, res.body

      # The partial, rendered by the Railtie's renderer (ApplicationController.render).
      item = %(<li id="message_1">&lt;hi&gt; &amp; bye</li>\n)
      expected = [
        { "data" => %(<turbo-stream action="append" target="messages"><template>#{item}</template></turbo-stream>) },
        { "event" => "chat", "data" => item }
      ]
      assert_equal expected, Array.new(2) { next_message(turbo) }
      assert_equal expected, Array.new(2) { next_message(htmx) }
      history = Push::Producer.new(server.url).channel("/chat").history.messages
      assert_equal ["text/vnd.turbo-stream.html", "text/html; charset=utf-8"], history.map(&:content_type)

      res = http.post("/messages", URI.encode_www_form(authenticity_token: token, text: "two"),
                      "Content-Type" => "application/x-www-form-urlencoded", "Cookie" => cookie, "HX-Request" => "true")
      assert_equal "204", res.code
      res = http.post("/messages", URI.encode_www_form(authenticity_token: token, text: "three"),
                      "Content-Type" => "application/x-www-form-urlencoded", "Cookie" => cookie)
      assert_equal "303", res.code
      assert_equal "422", http.post("/messages", "text=x", "Content-Type" => "application/x-www-form-urlencoded").code # no CSRF token
      assert_includes http.get("/").body,
                      %(<ul id="messages"><li id="message_1">&lt;hi&gt; &amp; bye</li>\n<li id="message_2">two</li>\n<li id="message_3">three</li>\n</ul>)
    ensure
      turbo&.close
      htmx&.close
    end
  ensure
    server&.stop
  end
end
