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

# Waiting on observable state (a server's health or metrics, a listening port), never for a
# fixed time.
module Waiting
  # Calls the block until it returns true, and raises after +timeout+ seconds (with the
  # +message+ block's text, if given). Between two checks it sleeps 10 ms: that only spaces
  # the polls, it is not what the caller waits for.
  def self.until(what, timeout: 10, message: nil)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
    until yield
      if Process.clock_gettime(Process::CLOCK_MONOTONIC) > deadline
        raise(message ? message.call : "timed out after #{timeout} s waiting for #{what}")
      end

      sleep 0.01
    end
  end
end

# Helpers for the test classes (included in every Minitest::Test).
module PushTestHelpers
  # Sets environment variables (nil deletes one) for the block, then puts back the old values.
  def with_env(vars)
    old = vars.keys.to_h { |k| [k, ENV[k]] }
    vars.each { |k, v| ENV[k] = v }
    yield
  ensure
    old&.each { |k, v| ENV[k] = v }
  end

  # A command running Ruby with this library: from ../lib, or the installed gem when
  # PUSH_TEST_INSTALLED=1.
  def ruby_command(*args)
    lib = ENV["PUSH_TEST_INSTALLED"] == "1" ? [] : ["-I", File.expand_path("../lib", __dir__)]
    [RbConfig.ruby, *lib, *args]
  end

  # IO.popen for a child that a test sends SIGINT: the child starts with SIGINT at its default
  # action, as one started from a terminal does. A suite run as a background job of a
  # non-interactive shell (`scripts/test &`, nohup, some CI runners) inherits SIGINT *ignored*
  # (POSIX), and Ruby and Python keep an inherited ignored SIGINT ignored: the child would
  # never see the test's Ctrl-C. A signal this process handles is reset to its default by exec,
  # so Ruby's own handler is installed here while the child is spawned. Yields the IO, closes
  # it when the block ends ($? is then the child's status).
  def popen_interruptible(command, **options)
    previous = Signal.trap("INT", "DEFAULT")
    begin
      io = IO.popen(command, **options)
    ensure
      Signal.trap("INT", previous)
    end
    begin
      yield io
    ensure
      io.close
    end
  end

  # Sends +signal+ to a child process started by a test and reaps it; returns its
  # Process::Status (nil if it was gone already).
  def kill_child(pid, signal = "KILL")
    Process.kill(signal, pid)
    Process.wait2(pid).last
  rescue Errno::ESRCH, Errno::ECHILD
    nil
  end
end

Minitest::Test.include(PushTestHelpers)

# HTTP helpers for a push server listening on 127.0.0.1:@port (one in this process or another).
module ServerClient
  attr_reader :port, :url

  # Waits until /_push/health answers 200 (the block gives the failure message).
  def wait_until_ready(timeout: 15, &message)
    Waiting.until("a push server answering on port #{@port}", timeout: timeout, message: message) do
      get("/_push/health").code == "200"
    rescue SystemCallError, IOError
      false
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
    Waiting.until("#{count} long-polls held by the server", timeout: timeout,
                  message: -> { "the server holds #{long_poll_connections} long-polls, not #{count}" }) do
      long_poll_connections >= count || (block_given? && yield)
    end
  end

  # The push_connections{transport="long-poll"} gauge of /_push/metrics.
  def long_poll_connections
    line = get("/_push/metrics").body.lines.find { |l| l.start_with?('push_connections{transport="long-poll"}') }
    raise "/_push/metrics has no long-poll connections gauge" unless line

    line.split.last.to_i
  end
end

# An SSE subscriber over Net::HTTP in a thread: its events (Hashes of "id", "event", "data"),
# then :end when the server ends the stream.
class SseStream
  def initialize(port, path)
    @events = Queue.new
    @thread = Thread.new do
      Net::HTTP.start("127.0.0.1", port, read_timeout: 60) do |http|
        http.request(Net::HTTP::Get.new(path, "Accept" => "text/event-stream")) do |response|
          @events << { "status" => response.code }
          buffer = +""
          response.read_body do |chunk|
            buffer << chunk
            while (i = buffer.index("\n\n"))
              event = parse(buffer.slice!(0, i + 2))
              @events << event unless event.empty? # a heartbeat comment
            end
          end
        end
      end
      @events << :end
    rescue StandardError => e
      @events << e
    end
    status = next_event
    raise "the SSE request answered #{status.inspect}" unless status == { "status" => "200" }
  end

  # The next event, :end once the stream ended; raises if none comes within +timeout+ s.
  def next_event(timeout: 10)
    event = Timeout.timeout(timeout) { @events.pop }
    raise event if event.is_a?(Exception)

    event
  end

  def close
    @thread.kill
    @thread.join
  end

  private

  def parse(text)
    text.lines(chomp: true).each_with_object({}) do |line, event|
      next if line.start_with?(":")

      name, value = line.split(":", 2)
      value = value.to_s.delete_prefix(" ")
      event[name] = event.key?(name) ? "#{event[name]}\n#{value}" : value
    end
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

# A TCP listener that accepts connections and never answers: publishes to it time out. It
# counts the connections it accepted, so a test can wait until a publish is under way.
class SilentServer
  attr_reader :url

  def initialize
    @server = TCPServer.new("127.0.0.1", 0)
    @url = "http://127.0.0.1:#{@server.addr[1]}"
    @lock = Mutex.new
    @accepted = ConditionVariable.new
    @connections = []
    @acceptor = Thread.new do
      loop do
        connection = @server.accept
        @lock.synchronize do
          @connections << connection
          @accepted.broadcast
        end
      end
    rescue IOError, SystemCallError
      nil # closed
    end
  end

  # How many connections it has accepted so far.
  def accepted
    @lock.synchronize { @connections.size }
  end

  # Waits until it has accepted more than +count+ connections (a publish has connected).
  def wait_for_connection(count = 0, timeout: 10)
    deadline = Process.clock_gettime(Process::CLOCK_MONOTONIC) + timeout
    @lock.synchronize do
      while @connections.size <= count
        left = deadline - Process.clock_gettime(Process::CLOCK_MONOTONIC)
        raise "no connection to the silent server within #{timeout} s" if left <= 0

        @accepted.wait(@lock, left)
      end
    end
  end

  def close
    @server.close
    @acceptor.join
    @lock.synchronize { @connections.each(&:close) }
  end
end
