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

# A real push-server process on a free loopback port, stopped when the tests end.
class PushServer
  ROOT = File.expand_path("../..", __dir__)

  def self.bin
    ENV.fetch("PUSH_SERVER_BIN") { File.join(ROOT, "target", "release", "push-server") }
  end

  # One server per distinct set of flags, shared by the tests that want the same flags.
  def self.shared(*flags)
    @shared ||= {}
    @shared[flags] ||= new(*flags)
  end

  def self.free_port
    server = TCPServer.new("127.0.0.1", 0)
    server.addr[1]
  ensure
    server&.close
  end

  attr_reader :port, :url

  def initialize(*flags)
    raise "push-server not found at #{self.class.bin} (set PUSH_SERVER_BIN)" unless File.executable?(self.class.bin)

    @port = self.class.free_port
    @url = "http://127.0.0.1:#{@port}"
    @log = File.join(Dir.tmpdir, "push-server-ruby-test-#{@port}.log")
    @pid = Process.spawn(self.class.bin, "--bind", "127.0.0.1:#{@port}", "--log", "warn", *flags,
                         out: File::NULL, err: @log)
    owner = Process.pid
    at_exit { stop if Process.pid == owner }
    wait_until_ready
  end

  def stop
    return unless @pid

    Process.kill("TERM", @pid)
    Process.wait(@pid)
  rescue Errno::ESRCH, Errno::ECHILD
    nil
  ensure
    @pid = nil
  end

  def wait_until_ready
    deadline = Time.now + 15
    loop do
      return if get("/_push/health").code == "200"
    rescue SystemCallError, IOError
      raise "push-server did not start on port #{@port}: #{File.read(@log) rescue ''}" if Time.now > deadline

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
    deadline = Time.now + 5
    if before
      sleep 0.01 until (long_poll_connections || 0) > before || Time.now > deadline || !thread.alive?
    else
      sleep 0.5 # the server exposes no such gauge: give the request time to arrive
    end
    thread
  end

  def long_poll_connections
    line = get("/_push/metrics").body.lines.find { |l| l.start_with?('push_connections{transport="long-poll"}') }
    line && line.split.last.to_i
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
