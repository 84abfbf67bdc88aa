# frozen_string_literal: true

require_relative "test_helper"

# The server API (docs/PROTOCOL.md, "Server API") against a real server with a publish key:
# channel info with subscribers connected, channel listings, history with gaps, one message to
# many channels, disconnects and bans, and their errors. Waits on channel info, never on time.
class TestApi < Minitest::Test
  KEY = "api-key"

  def server
    PushServer.shared(publish_key: KEY, history_size: 2, long_poll_timeout: "60s")
  end

  def producer
    @producer ||= Push::Producer.new(server.url, publish_key: KEY)
  end

  def teardown
    @streams&.each(&:close)
    Push.producer = nil
  end

  # An SSE subscriber of +path+ that has read the stream's opening event.
  def sse(path)
    stream = SseStream.new(server.port, path)
    (@streams ||= []) << stream
    first = stream.next_event
    assert first.key?("id") && !first.key?("event"), "the stream opens with an id-only event: #{first}"
    stream
  end

  # Channel info, asked again until the block accepts it.
  def wait_info(channel)
    info = nil
    Waiting.until("info of #{channel.name}", message: -> { "info of #{channel.name} never got ready: #{info.inspect}" }) do
      yield(info = channel.info)
    end
    info
  end

  def near_now?(time)
    time.is_a?(Time) && (time - Time.now).abs < 60
  end

  def test_channel_info_counts_subscribers_and_history
    room = producer.channel("/api-info/room")
    id = room.publish("hello")
    sse("/api-info/room?consumer=alice")
    sse("/api-info/room?consumer=alice")
    sse("/_push/subscribe?channel=/api-info/room&channel=/api-info/other&consumer=bob")
    poll = Thread.new { server.get("/api-info/room?after=#{id}", read_timeout: 60) } # no consumer id

    info = wait_info(room) { |i| i.connections == 4 }
    assert_instance_of Push::ChannelInfo, info
    assert_equal ["/api-info/room", 2, id, 1, 1], [info.channel, info.consumers, info.last_id, info.history, info.nodes]
    assert near_now?(info.as_of), info.as_of.inspect
    assert info.frozen?
    other = Push.channel("/api-info/other")
    Push.producer = producer
    assert_equal [1, 1, 0, nil], other.info.to_h.values_at(:connections, :consumers, :history, :last_id)

    # The long-poll leaves with the next message.
    woke = room.publish("wake")
    assert_equal woke, poll.value["Push-Id"]
    wait_info(room) { |i| i.connections == 3 && i.last_id == woke && i.history == 2 }

    unknown = producer.channel("/api-info/nobody").info
    assert_equal [0, 0, 0, nil], [unknown.connections, unknown.consumers, unknown.history, unknown.last_id]
  end

  def test_channels_are_listed_page_by_page_with_a_prefix
    %w[c a b].each { |n| producer.publish("x").to("/api-list/#{n}") }
    producer.publish("x").to("/api-listless")
    sse("/api-list/d?consumer=dora") # a connection and no history is active too
    wait_info(producer.channel("/api-list/d")) { |i| i.connections == 1 }

    first = producer.channels(prefix: "/api-list/", limit: 2)
    assert_instance_of Push::ChannelPage, first
    assert_equal %w[/api-list/a /api-list/b], first.channels.map(&:channel)
    assert_equal "/api-list/b", first.next
    assert_equal [1, 1, first.as_of], [first.nodes, first.channels[0].nodes, first.channels[0].as_of]
    assert near_now?(first.as_of)
    second = producer.channels(prefix: "/api-list/", after: first.next, limit: 2)
    assert_equal %w[/api-list/c /api-list/d], second.channels.map(&:channel)
    d = second.channels.last
    assert_equal [1, 1, 0, nil], [d.connections, d.consumers, d.history, d.last_id]

    # each_channel follows next, with a block or as an Enumerator.
    seen = []
    assert_nil producer.each_channel(prefix: "/api-list/", limit: 1) { |info| seen << info.channel }
    assert_equal %w[/api-list/a /api-list/b /api-list/c /api-list/d], seen
    enum = producer.each_channel(prefix: "/api-list/")
    assert_instance_of Enumerator, enum
    assert_equal 1, enum.sum(&:connections)
    Push.producer = producer
    assert_equal seen, Push.each_channel(prefix: "/api-list/", limit: 3).map(&:channel)
    assert_equal seen.first(2), Push.channels(prefix: "/api-list/", limit: 2).channels.map(&:channel)
    assert_empty producer.channels(prefix: "/api-nothing/").channels
    assert_nil producer.channels(prefix: "/api-nothing/").next
  end

  def test_history_last_and_after_with_a_gap
    ch = producer.channel("/api-history/h")
    ids = %w[m0 m1 m2].map { |text| ch.publish(text) }
    ids << ch.publish([0, 159, 146, 150].pack("C*"))
    ids << ch.publish("café".encode("ISO-8859-1"))

    # In memory: the newest two (history_size: 2).
    held = ch.history
    assert_instance_of Push::History, held
    assert_equal ids[3..], held.messages.map(&:id)
    assert_equal [ids[4], false, []], [held.last_id, held.more?, held.gaps]
    binary, latin1 = held.messages
    assert_instance_of Push::HistoryMessage, binary
    assert_equal ["/api-history/h", [], "application/octet-stream"], [binary.channel, binary.channels, binary.content_type]
    assert_equal [[0, 159, 146, 150], Encoding::BINARY], [binary.data.bytes, binary.data.encoding]
    assert_equal "café".encode("ISO-8859-1"), latin1.data
    assert_equal Encoding::ISO_8859_1, latin1.data.encoding
    assert near_now?(binary.time), binary.time.inspect
    assert binary.data.frozen? && held.messages.frozen? && held.frozen?

    last = ch.history(last: 1)
    assert_equal [[ids[4]], ids[4]], [last.messages.map(&:id), last.last_id]

    # After the first: what history no longer holds is a gap, then the rest.
    after = ch.history(after: ids[0])
    assert_equal 1, after.gaps.size, after.inspect
    gap = after.gaps.first
    assert_instance_of Push::Gap, gap
    assert_equal ["/api-history/h", ids[2]], [gap.channel, gap.to]
    assert_operator Integer(gap.from), :>, Integer(ids[0])
    assert_equal ids[3..], after.messages.map(&:id)

    # Paging with a limit; an Integer id works too.
    page = ch.history(after: Integer(ids[2]), limit: 1)
    assert_equal [[ids[3]], ids[3], true], [page.messages.map(&:id), page.last_id, page.more?]
    page = ch.history(after: page.last_id, limit: 1)
    assert_equal [[ids[4]], false], [page.messages.map(&:id), page.more?]
    rest = ch.history(after: ids[4])
    assert_equal [[], [], ids[4], false], [rest.messages, rest.gaps, rest.last_id, rest.more?]

    nothing = producer.channel("/api-history/never").history
    assert_equal [[], [], false], [nothing.messages, nothing.gaps, nothing.more?]

    # The server's check: a cursor ahead of the newest message.
    error = assert_raises(Push::InvalidCursorError) { ch.history(after: Integer(ids[4]) + 10**9) }
    assert_equal 400, error.status
  end

  def test_one_message_to_many_channels_reaches_a_multiplexed_subscriber_once
    a, b = "/api-many/a", "/api-many/b"
    cursor = server.last_id
    batch = Thread.new do
      server.get("/_push/subscribe?channel=#{a}&channel=#{b}&after=#{cursor}", { "Accept" => "application/json" },
                 read_timeout: 60)
    end
    wait_info(producer.channel(a)) { |i| i.connections == 1 }
    wait_info(producer.channel(b)) { |i| i.connections == 1 }

    id = producer.publish("to both").to(a, b)
    response = batch.value
    assert_equal "200", response.code
    messages = JSON.parse(response.body).fetch("messages")
    assert_equal 1, messages.size, messages.inspect
    assert_equal [id, a, [a, b], "to both"], messages[0].values_at("id", "channel", "channels", "data")
    # Once: nothing more after it.
    later = server.get("/_push/subscribe?channel=#{a}&channel=#{b}&after=#{id}&timeout=0", { "Accept" => "application/json" })
    assert_empty JSON.parse(later.body).fetch("messages")

    # An Array, Push::Channels, duplicates, and Push.publish(to: [...]) alike: one message with
    # one id on both channels each time.
    Push.producer = producer
    publishes = {
      "array" => -> { producer.publish("array").to([a, b]) },
      "channels" => -> { producer.publish("channels").to(producer.channel(a), Push.channel(b)) },
      "module" => -> { Push.publish("module", to: [a, b, a]) }
    }
    ids = publishes.map do |text, publish|
      id = publish.call
      [a, b].each do |channel|
        newest = producer.channel(channel).history(last: 1).messages.first
        # A history read names the channel it asks about, as a subscriber of it would see.
        assert_equal [id, text, [channel]], [newest.id, newest.data, newest.channels], "#{text} on #{channel}"
      end
      id
    end
    assert_equal 3, ids.uniq.size

    # An idempotency key covers the list of channels, in its order.
    first = producer.publish("keyed", idempotency_key: "api-order-1").to(a, b)
    assert_equal first, producer.publish("keyed", idempotency_key: "api-order-1").to([a, b])
    refute_equal first, producer.publish("keyed", idempotency_key: "api-order-1").to(b, a)
    single = Push.publish("one", to: a)
    assert_equal [single], producer.channel(a).history(last: 1).messages.map(&:id)
  end

  def test_disconnect_ends_an_sse_stream_and_a_ban_refuses_a_resubscribe
    room = producer.channel("/api-dc/room")
    carol = sse("/api-dc/room?consumer=carol")
    wait_info(room) { |i| i.consumers == 1 }

    done = producer.disconnect(consumer: "carol", reason: "logged out")
    assert_instance_of Push::Disconnected, done
    assert_equal ["carol", nil, 1, nil], [done.consumer, done.channel, done.disconnected, done.ban_until]
    event = carol.next_event
    assert_equal "disconnect", event["event"], event.inspect
    assert_equal({ "type" => "disconnect", "reason" => "logged out" }, JSON.parse(event["data"]))
    assert_equal :end, carol.next_event
    # Without a ban Carol may come back; repeating is harmless.
    assert_equal "204", server.get("/api-dc/room?consumer=carol&timeout=0").code
    assert_equal 0, producer.disconnect(consumer: "carol").disconnected

    dave = sse("/api-dc/room?consumer=dave")
    wait_info(room) { |i| i.consumers == 1 }
    before = Time.now
    Push.producer = producer
    done = Push.disconnect(consumer: "dave", channel: room, ban: 60)
    assert_equal ["/api-dc/room", 1], [done.channel, done.disconnected]
    assert_instance_of Time, done.ban_until
    assert_operator done.ban_until, :>=, before + 59
    assert_operator done.ban_until, :<=, Time.now + 61
    assert_equal "disconnect", dave.next_event["event"]
    refused = server.get("/api-dc/room?consumer=dave&timeout=0")
    assert_equal %w[403 FORBIDDEN], [refused.code, refused["Push-Error"]]
    assert_equal "204", server.get("/api-dc/elsewhere?consumer=dave&timeout=0").code, "the ban covers /api-dc/room only"
  end

  def test_every_call_needs_the_publish_key
    [Push::Producer.new(server.url), Push::Producer.new(server.url, publish_key: "wrong")].each do |p|
      calls = {
        info: -> { p.channel("/a").info },
        channels: -> { p.channels },
        history: -> { p.channel("/a").history(last: 1) },
        disconnect: -> { p.disconnect(consumer: "a") },
        publish_to_many: -> { p.publish("x").to("/a", "/b") }
      }
      calls.each do |name, call|
        error = assert_raises(Push::UnauthorizedError, name.to_s, &call)
        assert_equal ["UNAUTHORIZED", 401], [error.code, error.status]
      end
    end
  end

  # Bad arguments raise their class before any request: the same against a closed port.
  def test_bad_arguments_raise_before_any_request
    down = Push::Producer.new("http://127.0.0.1:#{PushServer.free_port}")
    [producer, down].each do |p|
      assert_raises(Push::InvalidChannelError) { p.channel("rooms") }
      assert_raises(Push::InvalidChannelError) { Push.channel("/a//b") }
      assert_raises(Push::InvalidChannelError) { p.publish("x").to("/a", "/_push/x") }
      assert_raises(Push::BadRequestError) { p.publish("x").to((0..100).map { |i| "/c#{i}" }) }
      assert_raises(Push::BadRequestError) { p.publish("x").to }
      ch = p.channel("/a")
      assert_raises(Push::BadRequestError) { ch.history(last: 0) }
      assert_raises(Push::BadRequestError) { ch.history(last: -1) }
      assert_raises(Push::BadRequestError) { ch.history(last: 1, after: "5") }
      assert_raises(Push::BadRequestError) { ch.history(limit: 5) }
      assert_raises(Push::BadRequestError) { ch.history(after: "5", limit: 0) }
      assert_raises(Push::InvalidCursorError) { ch.history(after: "five") }
      assert_raises(Push::InvalidCursorError) { ch.history(after: -5) }
      assert_raises(Push::BadRequestError) { p.channels(limit: 0) }
      assert_raises(Push::BadRequestError) { p.channels(limit: 1001) }
      assert_raises(Push::BadRequestError) { p.channels(prefix: "rooms") }
      assert_raises(Push::InvalidChannelError) { p.channels(after: "nope") }
      assert_raises(Push::BadRequestError) { p.disconnect(consumer: "") }
      assert_raises(Push::BadRequestError) { p.disconnect(consumer: "a", reason: "r" * 201) }
      assert_raises(Push::BadRequestError) { p.disconnect(consumer: "a", ban: 86_401) }
      assert_raises(Push::BadRequestError) { p.disconnect(consumer: "a", ban: -1) }
      assert_raises(Push::InvalidChannelError) { p.disconnect(consumer: "a", channel: "bad") }
      # Not Strings or numbers at all: TypeError, as for publish.
      assert_raises(TypeError) { p.channel(:a) }
      assert_raises(TypeError) { p.publish("x").to("/a", :b) }
      assert_raises(TypeError) { ch.history(last: "10") }
      assert_raises(TypeError) { ch.history(after: 1.5) }
      assert_raises(TypeError) { p.disconnect(consumer: "a", ban: "60") }
      assert_raises(TypeError) { p.channels(prefix: 1) }
    end
    # An amqp:// producer publishes, but asks no server.
    rabbit = Push::Producer.new("amqp://guest:secret@127.0.0.1:#{PushServer.free_port}/%2f")
    error = assert_raises(Push::InvalidConfigError) { rabbit.channel("/a").info }
    assert_match(%r{http\(s\)://}, error.message)
    refute_includes error.message, "secret"
    assert_raises(Push::InvalidConfigError) { rabbit.disconnect(consumer: "a") }
    # The same calls with valid arguments reach the (absent) server.
    assert_raises(Push::ConnectionFailedError) { down.channel("/a").info }
    assert_raises(Push::ConnectionFailedError) { down.publish("x").to("/a", "/b") }
  end

  def test_channels_are_values
    assert_equal Push.channel("/v"), Push.channel("/v")
    assert_equal producer.channel("/v"), producer.channel("/v")
    refute_equal Push.channel("/v"), producer.channel("/v"), "another producer"
    refute_equal producer.channel("/v"), producer.channel("/w")
    assert_equal 1, [Push.channel("/v"), Push.channel("/v")].uniq.size
    assert_equal "/v", Push.channel("/v").to_s
    assert_equal "#<Push::Channel /v>", Push.channel("/v").inspect
    assert Push.channel("/v").frozen?
    # A channel made by Push.channel goes through Push.producer at each call.
    with_env("PUSH_URL" => server.url, "PUSH_PUBLISH_KEY" => KEY) do
      room = Push.channel("/api-values/room")
      id = room.publish("via Push.producer")
      assert_equal id, room.info.last_id
      assert_equal server.url, room.producer.url
    end
  end

  # Server API calls wait like a publish: the GVL released, and interruptible.
  def test_calls_release_the_gvl_and_can_be_interrupted
    silent = SilentServer.new
    slow = Push::Producer.new(silent.url, timeout: 1)
    ticks = 0
    running = true
    counter = Thread.new { (ticks += 1; Thread.pass) while running }
    Thread.pass until ticks.positive?
    before = ticks
    assert_raises(Push::TimeoutError) { slow.channel("/gvl").info }
    during = ticks - before
    running = false
    counter.join
    assert_operator during, :>, 100, "counter ticked #{during} times during a 1 s call"

    stuck = Push::Producer.new(silent.url, timeout: 30)
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    assert_raises(Timeout::Error) { Timeout.timeout(0.3) { stuck.channel("/stuck").history(last: 1) } }
    assert_raises(Timeout::Error) { Timeout.timeout(0.3) { stuck.disconnect(consumer: "a") } }
    assert_operator Process.clock_gettime(Process::CLOCK_MONOTONIC) - started, :<, 5
  ensure
    silent&.close
  end

  def test_ctrl_c_interrupts_a_waiting_call_on_the_main_thread
    silent = SilentServer.new
    script = <<~RUBY
      require "push"
      producer = Push::Producer.new(#{silent.url.dump}, timeout: 30)
      puts "waiting"
      $stdout.flush
      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      begin
        producer.channel("/ctrl-c").info
      rescue Interrupt
        puts "interrupted after %.2f s" % (Process.clock_gettime(Process::CLOCK_MONOTONIC) - started)
      end
    RUBY
    popen_interruptible(ruby_command("-e", script), err: %i[child out]) do |child|
      assert_equal "waiting\n", child.gets
      silent.wait_for_connection # the call is under way
      Process.kill("INT", child.pid)
      line = child.gets.to_s
      assert_match(/\Ainterrupted after (\d+\.\d+) s/, line)
      assert_operator line[/\d+\.\d+/].to_f, :<, 5
    end
    assert $?.success?
  ensure
    silent&.close
  end
end
