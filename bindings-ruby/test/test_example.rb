# frozen_string_literal: true

require_relative "test_helper"

# examples/webrick.rb, run as a user would, publishes what is POSTed to it.
class TestExample < Minitest::Test
  HERE = File.expand_path("..", __dir__)

  def test_webrick_example_publishes_posted_text
    server = PushServer.shared
    port = PushServer.free_port
    pid = Process.spawn({ "PUSH_URL" => server.url, "PORT" => port.to_s },
                        *ruby_command(File.join(HERE, "examples", "webrick.rb")), out: File::NULL, err: File::NULL)
    http = Net::HTTP.new("127.0.0.1", port)
    Waiting.until("the example listening on port #{port}") do
      TCPSocket.new("127.0.0.1", port).close || true
    rescue SystemCallError
      false
    end

    page = http.get("/")
    assert_equal "200", page.code
    assert_includes page.body, server.url

    cursor = server.last_id
    res = http.post("/say", URI.encode_www_form(text: "hello from rack"), "Content-Type" => "application/x-www-form-urlencoded")
    assert_equal "200", res.code, res.body
    id = JSON.parse(res.body).fetch("id")
    assert_equal [[id, "hello from rack"]], server.messages("/chat", after: cursor).map { |m| [m["id"], m["data"]] }
    assert_equal "400", http.post("/say", "", "Content-Type" => "text/plain").code
  ensure
    kill_child(pid, "TERM") if pid
  end
end
