# frozen_string_literal: true

# Tests load the library the way users do, `require "push"`: from ../lib (with the extension
# built into lib/push/ by ci.sh), or from an installed gem when PUSH_TEST_INSTALLED=1.
unless ENV["PUSH_TEST_INSTALLED"] == "1"
  $LOAD_PATH.unshift(File.expand_path("../lib", __dir__))
end
require "push"

require "minitest/autorun"
require "json"
require "net/http"
require "socket"
require "timeout"
require "rbconfig"

# HTTP helpers for a push server listening on 127.0.0.1:@port (one in this process or another).
module ServerClient
  attr_reader :port, :url

  # Polls /_push/health until it answers 200 (the block gives the failure message).
  def wait_until_ready(timeout: 15)
    deadline = Time.now + timeout
    loop do
      return if get("/_push/health").code == "200"
    rescue SystemCallError, IOError
      raise(block_given? ? yield : "no push server answered on port #{@port}") if Time.now > deadline

      sleep 0.05
    end
  end

  def get(path, headers = {}, read_timeout: 10)
    Net::HTTP.start("127.0.0.1", @port, read_timeout: read_timeout) do |http|
      http.get(path, headers)
    end
  end

  # The newest id the server has assigned (a cursor to read every later message from).
  def last_id
    JSON.parse(get("/_push/health").body).fetch("last_id")
  end

  # Every message of +channel+ after the cursor +after+, in order (JSON batch read).
  def messages(channel, after:)
    out = []
    loop do
      res = get("#{channel}?after=#{after}", { "Accept" => "application/json" })
      raise "batch read of #{channel} answered #{res.code}: #{res.body}" unless res.code == "200"

      batch = JSON.parse(res.body)
      out.concat(batch.fetch("messages").select { |m| m["type"].nil? || m["type"] == "message" })
      return out unless batch["more"] && batch["last_id"] && batch["last_id"] != after

      after = batch["last_id"]
    end
  end

  # Long-polls +channel+ in a thread (a plain GET, like `curl URL/channel`) and returns it once
  # the server holds the request. The thread's value is the Net::HTTPResponse.
  def long_poll(channel)
    before = long_poll_connections
    thread = Thread.new { get(channel, read_timeout: 40) }
    wait_for_long_polls(before + 1) { !thread.alive? }
    thread
  end

  # Waits until the server holds at least +count+ long-polls (or the block says to stop).
  def wait_for_long_polls(count, timeout: 10)
    deadline = Time.now + timeout
    until long_poll_connections >= count
      return if block_given? && yield
      raise "the server holds #{long_poll_connections} long-polls, not #{count}" if Time.now > deadline

      sleep 0.01
    end
  end

  # The push_connections{transport="long-poll"} gauge of /_push/metrics.
  def long_poll_connections
    line = get("/_push/metrics").body.lines.find { |l| l.start_with?('push_connections{transport="long-poll"}') }
    raise "/_push/metrics has no long-poll connections gauge" unless line

    line.split.last.to_i
  end
end

# The test server: push-server in this process (Push::Server) on a free loopback port, stopped
# when the tests end.
class PushServer
  include ServerClient

  # One server per distinct set of options, shared by the tests that want the same options.
  def self.shared(**options)
    @shared ||= {}
    @shared[options] ||= new(**options)
  end

  # Helpers for a server run by another process, on +port+.
  def self.remote(port)
    RemoteServer.new(port)
  end

  # The gem's push-server executable, as a command (argv prefix) for a child process: the
  # source tree's exe/push-server, or the installed one when PUSH_TEST_INSTALLED=1.
  def self.command
    return ["push-server"] if ENV["PUSH_TEST_INSTALLED"] == "1"

    [RbConfig.ruby, "-I", File.expand_path("../lib", __dir__), File.expand_path("../exe/push-server", __dir__)]
  end

  def self.free_port
    server = TCPServer.new("127.0.0.1", 0)
    server.addr[1]
  ensure
    server&.close
  end

  attr_reader :server

  def initialize(**options)
    @server = Push::Server.start(**options)
    @port = @server.port
    @url = @server.url
    owner = Process.pid
    at_exit { stop if Process.pid == owner }
  end

  def stop
    @server.stop
  end
end

class RemoteServer
  include ServerClient

  def initialize(port)
    @port = port
    @url = "http://127.0.0.1:#{port}"
  end
end

# A TCP port that accepts connections (the kernel's backlog does, without accept) and never
# answers: publishes to it time out.
class SilentServer
  attr_reader :url

  def initialize
    @server = TCPServer.new("127.0.0.1", 0)
    @url = "http://127.0.0.1:#{@server.addr[1]}"
  end

  def close
    @server.close
  end
end
