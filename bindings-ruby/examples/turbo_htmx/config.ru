# frozen_string_literal: true

# Turbo Streams (Hotwire) and htmx over push-rs, in a plain Rack app: a chat whose pages
# subscribe to the push server directly (no ActionCable, no Redis, nothing lost across reconnects).
#
#   GET  /          the Turbo page: <turbo-stream-source> applies the Turbo Streams of /chat
#   GET  /htmx      the htmx page: its list swaps in the `event: chat` messages of /chat
#   GET  /htmx/messages  the list's items (what the htmx page reloads after a gap)
#   POST /messages  (form field "text") publishes the message to /chat for both pages
#
# Run it (Debian: apt-get install ruby-rack ruby-webrick; or gem install rack webrick):
#
#   push-server --auth token --secret dev-secret &           # http://127.0.0.1:4000
#   PUSH_SECRET=dev-secret rackup -Ilib examples/turbo_htmx/config.ru -p 9292
#
# PUSH_URL is where this app publishes, PUSH_PUBLIC_URL where browsers subscribe (default:
# PUSH_URL). Without PUSH_SECRET the pages subscribe without a token (push-server without --auth).
require "cgi"
require "rack"
require "push"

# The chat application (a Rack app).
class HotwireChat
  CHANNEL = "/chat"
  TURBO = "https://cdn.jsdelivr.net/npm/@hotwired/turbo@8.0.23/dist/turbo.es2017-esm.js"
  HTMX = "https://cdn.jsdelivr.net/npm/htmx.org@2.0.11/dist/htmx.min.js"
  HTMX_SSE = "https://cdn.jsdelivr.net/npm/htmx-ext-sse@2.2.4/dist/sse.min.js"

  def initialize
    @items = [] # the newest 50 messages' <li>, what a page shows when it loads
    @count = 0
    @lock = Mutex.new
  end

  def call(env)
    request = Rack::Request.new(env)
    case [request.request_method, request.path_info]
    in ["GET", "/" | ""] then html(turbo_page)
    in ["GET", "/htmx"] then html(htmx_page)
    in ["GET", "/htmx/messages"] then [200, { "content-type" => "text/html; charset=utf-8" }, [items]]
    in ["POST", "/messages"] then post(request)
    else [404, { "content-type" => "text/plain" }, ["not found\n"]]
    end
  end

  private

  # A token only when this app has the server's secret (push-server --auth token).
  def subscribe_options
    { token: !ENV.fetch("PUSH_SECRET", "").empty? }
  end

  def post(request)
    text = request.POST["text"].to_s.strip
    return [422, { "content-type" => "text/plain" }, ["empty message\n"]] if text.empty?

    item = nil
    count = @lock.synchronize do
      @count += 1
      item = %(<li id="message_#{@count}">#{CGI.escapeHTML(text)}</li>)
      @items = [*@items, item].last(50)
      @count
    end
    # For the Turbo page: two actions (a Turbo Stream message may hold several; each publish
    # here is one message); for the htmx page: the item under the event name its list swaps.
    Push::Turbo.broadcast_append_to(CHANNEL, target: "messages", html: item)
    Push::Turbo.broadcast_update_to(CHANNEL, target: "count", text: "#{count} messages")
    Push::Htmx.publish(item, to: CHANNEL, event: "chat")

    if request.get_header("HTTP_ACCEPT").to_s.include?(Push::Turbo::CONTENT_TYPE)
      # Turbo submitted the form: answer with a Turbo Stream that empties it.
      [200, { "content-type" => Push::Turbo::CONTENT_TYPE }, [Push::Turbo.stream(:replace, target: "new_message", html: form)]]
    elsif request.get_header("HTTP_HX_REQUEST")
      [204, {}, []] # htmx: the form resets itself; the message arrives over SSE
    else
      [303, { "location" => request.referer || "/" }, []]
    end
  rescue Push::Error => e
    [e.retryable? ? 503 : 502, { "content-type" => "text/plain" }, ["#{e.code}: #{e.message}\n"]]
  end

  def form(htmx: false)
    attributes = htmx ? %( hx-post="/messages" hx-swap="none" hx-on::after-request="this.reset()") : ""
    %(<form id="new_message" action="/messages" method="post"#{attributes}>) +
      %(<input name="text" autocomplete="off" autofocus> <button>Send</button></form>)
  end

  def turbo_page
    <<~HTML
      <script type="module" src="#{TURBO}"></script>
      <title>push-rs chat (Turbo)</title>
      #{Push::Turbo.stream_source_tag(CHANNEL, **subscribe_options)}
      <h1>push-rs chat (Turbo) <small id="count"></small></h1>
      <ul id="messages">#{items}</ul>
      #{form}
    HTML
  end

  def htmx_page
    <<~HTML
      <script src="#{HTMX}"></script>
      <script src="#{HTMX_SSE}"></script>
      <title>push-rs chat (htmx)</title>
      <h1>push-rs chat (htmx)</h1>
      <div #{Push::Htmx.sse_attributes(CHANNEL, **subscribe_options)}>
        <ul id="messages" sse-swap="chat" hx-swap="beforeend">#{items}</ul>
        <!-- A gap (messages the server no longer has for this page): reload the list. -->
        <i hx-trigger="sse:gap" hx-get="/htmx/messages" hx-target="#messages" hx-swap="innerHTML"></i>
      </div>
      #{form(htmx: true)}
    HTML
  end

  def items
    @lock.synchronize { @items.join }
  end

  def html(body)
    [200, { "content-type" => "text/html; charset=utf-8" }, ["<!doctype html>\n<meta charset=\"utf-8\">\n", body]]
  end
end

run HotwireChat.new
