# frozen_string_literal: true

# A small Rack application that publishes with push-rs.
#
#   POST /say   (form field or raw body "text")  publishes it to /chat, answers {"id": "..."}
#   GET  /      a page that subscribes to /chat on the push server (long-poll from the browser)
#               and posts what you type to /say
#
# Run it with nothing but Debian's ruby: `ruby examples/webrick.rb` (see that file), or with any
# Rack server: `rackup examples/config.ru` / `puma examples/config.ru`. One producer serves all
# threads (Puma) and still works in forked workers.
require "json"
require "uri"
require "push"

module PushExample
  class App
    CHANNEL = "/chat"

    # +push_url+: where this app publishes (server side); +public_url+: where browsers subscribe.
    def initialize(push_url: ENV.fetch("PUSH_URL", "http://127.0.0.1:4000"), public_url: ENV["PUSH_PUBLIC_URL"])
      @producer = Push::Producer.new(push_url)
      @public_url = public_url || push_url
    end

    def call(env)
      case [env["REQUEST_METHOD"], env["PATH_INFO"]]
      in ["GET", "/" | ""] then page
      in ["POST", "/say"] then say(env)
      else [404, { "content-type" => "text/plain" }, ["not found\n"]]
      end
    end

    private

    def say(env)
      body = env["rack.input"]&.read.to_s
      text = env["CONTENT_TYPE"].to_s.start_with?("application/x-www-form-urlencoded") ? URI.decode_www_form(body).to_h["text"].to_s : body
      return json(400, error: "empty message") if text.strip.empty?

      id = @producer.publish(text).to(CHANNEL)
      json(200, id: id, channel: CHANNEL)
    rescue Push::Error => e
      # Each class names what went wrong; e.code is stable across SDKs. A retryable failure
      # (server down, timeout) is worth trying again later.
      status = e.retryable? ? 503 : 502
      json(status, error: e.message, code: e.code)
    end

    def json(status, payload)
      [status, { "content-type" => "application/json" }, [JSON.generate(payload)]]
    end

    def page
      html = <<~HTML
        <!doctype html>
        <meta charset="utf-8">
        <title>push-rs chat</title>
        <h1>push-rs chat</h1>
        <form id="f"><input id="t" autofocus autocomplete="off"> <button>Say</button></form>
        <ul id="log"></ul>
        <script>
          const push = #{JSON.generate(@public_url)} + #{JSON.generate(CHANNEL)};
          let cursor = null;
          async function poll() {
            for (;;) {
              try {
                const r = await fetch(cursor ? push + "?after=" + cursor : push);
                if (r.headers.get("Push-Id")) cursor = r.headers.get("Push-Id");
                if (r.status === 200) {
                  const li = document.createElement("li");
                  li.textContent = await r.text();
                  document.getElementById("log").prepend(li);
                }
              } catch (e) { await new Promise(res => setTimeout(res, 1000)); }
            }
          }
          document.getElementById("f").onsubmit = async (e) => {
            e.preventDefault();
            const t = document.getElementById("t");
            await fetch("/say", { method: "POST", body: new URLSearchParams({ text: t.value }) });
            t.value = "";
          };
          poll();
        </script>
      HTML
      [200, { "content-type" => "text/html; charset=utf-8" }, [html]]
    end
  end
end
