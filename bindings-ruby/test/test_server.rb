# frozen_string_literal: true

require_relative "test_helper"
require "open3"
require "pathname"
require "tmpdir"

# Push::Server (push-server inside this process) and the gem's push-server executable.
class TestServer < Minitest::Test
  def client(server)
    PushServer.remote(server.port)
  end

  def test_start_serves_on_a_free_port_and_stop_is_idempotent
    server = Push::Server.start
    assert server.running?
    refute_equal 0, server.port
    assert_equal "http://127.0.0.1:#{server.port}", server.url
    assert_equal "200", client(server).get("/_push/health").code
    assert_match(/running/, server.inspect)

    assert_nil server.stop
    refute server.running?
    assert_raises(Errno::ECONNREFUSED) { TCPSocket.new("127.0.0.1", server.port) }
    assert_nil server.stop
    assert_match(/stopped/, server.inspect)
  ensure
    server&.stop
  end

  def test_block_form_yields_the_server_stops_it_and_returns_the_block_value
    seen = nil
    value = Push::Server.start do |server|
      seen = server
      assert server.running?
      :the_value
    end
    assert_equal :the_value, value
    refute seen.running?

    assert_raises(RuntimeError) do
      Push::Server.start do |server|
        seen = server
        raise "boom"
      end
    end
    refute seen.running?, "an exception in the block still stops the server"
  end

  def test_options_are_the_flags_by_name
    Push::Server.start(publishKey: "k", max_payload_bytes: 16, history_size: 2, allow_open_publish: false,
                       cors_origins: ["https://a.example", "https://b.example"], log: nil) do |server|
      assert_raises(Push::UnauthorizedError) { Push::Producer.new(server.url).publish("x").to("/opts") }
      producer = Push::Producer.new(server.url, publish_key: "k")
      assert_raises(Push::PayloadTooLargeError) { producer.publish("x" * 17).to("/opts") }
      cursor = client(server).last_id
      %w[one two three].each { |m| producer.publish(m).to("/opts") }
      assert_equal %w[two three], client(server).messages("/opts", after: cursor).map { |m| m["data"] }, "history_size: 2"
      res = client(server).get("/_push/health", { "Origin" => "https://b.example" })
      assert_equal "https://b.example", res["Access-Control-Allow-Origin"]
    end
  end

  def test_bad_options_raise_invalid_config_with_the_reason
    error = assert_raises(Push::InvalidConfigError) { Push::Server.start(no_such_option: 1) }
    assert_equal "INVALID_CONFIG", error.code
    assert_includes error.message, "--no-such-option"

    error = assert_raises(Push::InvalidConfigError) { Push::Server.start(history_size: "lots") }
    assert_includes error.message, "lots"

    # Anyone could publish to a server on every interface without a key: refused.
    error = assert_raises(Push::InvalidConfigError) { Push::Server.start(bind: "0.0.0.0:0") }
    assert_includes error.message, "publish key"

    assert_raises(Push::InvalidConfigError) { Push::Server.start(help: true) }
    assert_raises(TypeError) { Push::Server.start(history_size: Object.new) }
    assert_raises(NoMethodError) { Push::Server.new }
  end

  def test_a_taken_port_raises_invalid_config
    Push::Server.start do |first|
      error = assert_raises(Push::InvalidConfigError) { Push::Server.start(bind: "127.0.0.1:#{first.port}") }
      assert_match(/cannot listen/, error.message)
      assert first.running?
    end
  end

  def test_publish_and_long_poll_through_it
    Push::Server.start do |server|
      poll = client(server).long_poll("/greetings")
      Push::Producer.new(server.url).publish("hi there!").to("/greetings")
      response = poll.value
      assert_equal "200", response.code
      assert_equal "hi there!", response.body
    end
  end

  def test_data_dir_keeps_messages_across_a_stop_and_a_new_start
    Dir.mktmpdir("push-ruby-data") do |dir|
      ids = Push::Server.start(data_dir: dir, fsync: :always) do |server|
        producer = Push::Producer.new(server.url)
        %w[m1 m2 m3].map { |body| producer.publish(body).to("/kept") }
      end
      Push::Server.start(data_dir: Pathname(dir)) do |server|
        read = client(server).messages("/kept", after: (Integer(ids.first) - 1).to_s)
        assert_equal ids.zip(%w[m1 m2 m3]), read.map { |m| [m["id"], m["data"]] }
      end
    end
  end

  def test_stop_while_a_long_poll_is_open_returns_promptly
    # With a 30 s grace period, only ending the open stream first makes stop quick.
    server = Push::Server.start(shutdown_timeout: "30s", long_poll_timeout: "60s")
    poll = client(server).long_poll("/waiting")
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    server.stop
    assert_operator Process.clock_gettime(Process::CLOCK_MONOTONIC) - started, :<, 5
    refute server.running?
    assert poll.join(5), "the long-poll did not end when the server stopped"
  ensure
    server&.stop
  end

  def test_the_gvl_is_released_while_start_blocks
    # A "broker" that accepts the server's AMQP connection and never answers: start blocks
    # until the connection is closed.
    broker = TCPServer.new("127.0.0.1", 0)
    starter = Thread.new do
      Thread.current.report_on_exception = false
      Push::Server.start(broker: "amqp://127.0.0.1:#{broker.addr[1]}")
    end
    connection = broker.accept
    assert_equal "AMQP\x00\x00\x09\x01".b, connection.read(8), "the server connects as AMQP 0.9.1"
    # The starting thread is inside Push::Server.start; this thread still runs Ruby code.
    ticks = 0
    Thread.new { 1000.times { ticks += 1 } }.join
    assert_equal 1000, ticks
    assert starter.alive?, "start returned without a broker handshake"
    connection.close
    error = assert_raises(Push::ConnectionFailedError) { starter.value }
    assert_match(/RabbitMQ/, error.message)
  ensure
    broker&.close
  end

  def test_a_forked_child_leaves_the_parents_server_alone
    skip "fork is not available" unless Process.respond_to?(:fork)

    Push::Server.start do |server|
      pid = fork do
        # The child has a copy of the object but none of the server's threads: not running,
        # and stop must return at once without touching the parent's server.
        code = server.running? ? 3 : 0
        server.stop
        exit!(code)
      end
      Timeout.timeout(10) { Process.wait(pid) }
      assert_equal 0, $?.exitstatus
      assert server.running?
      assert_equal "200", client(server).get("/_push/health").code
    end
  end

  def test_the_executable_has_the_servers_command_line
    out, status = Open3.capture2e(*PushServer.command, "--help")
    assert_equal 0, status.exitstatus, out
    assert_includes out, "Usage: push-server"
    out, status = Open3.capture2e(*PushServer.command, "--no-such-flag")
    assert_equal 2, status.exitstatus, out

    # The publish subcommand, to the in-process server.
    server = PushServer.shared
    cursor = server.last_id
    out, status = Open3.capture2e({ "PUSH_URL" => server.url }, *PushServer.command, "publish", "/cli", "from the cli")
    assert status.success?, out
    assert_equal [[out.chomp, "from the cli"]], server.messages("/cli", after: cursor).map { |m| [m["id"], m["data"]] }
  end

  def test_the_executable_serves_until_sigint
    port = PushServer.free_port
    reader, writer = IO.pipe
    pid = Process.spawn(*PushServer.command, "--bind", "127.0.0.1:#{port}", out: writer, err: writer)
    writer.close
    remote = PushServer.remote(port)
    remote.wait_until_ready { "push-server did not start: #{reader.read_nonblock(65_536, exception: false)}" }
    status = kill_child(pid, "INT")
    pid = nil
    assert_equal 0, status.exitstatus, "push-server after SIGINT: #{status} #{reader.read}"
  ensure
    reader&.close
    kill_child(pid) if pid
  end
end
