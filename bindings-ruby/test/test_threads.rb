# frozen_string_literal: true

require_relative "test_helper"

# A publish waits with the GVL released: other Ruby threads run, and one producer serves many.
class TestThreads < Minitest::Test
  THREADS = 8
  PER_THREAD = 25

  def test_eight_threads_share_one_producer_and_every_message_arrives
    server = PushServer.shared(history_size: 1000) # the default keeps 100 per channel
    producer = Push::Producer.new(server.url)
    cursor = server.last_id
    ids = Array.new(THREADS) do |t|
      Thread.new { Array.new(PER_THREAD) { |i| producer.publish("t#{t}-#{i}").to("/threads") } }
    end.flat_map(&:value)

    assert_equal THREADS * PER_THREAD, ids.uniq.size
    msgs = server.messages("/threads", after: cursor)
    assert_equal THREADS * PER_THREAD, msgs.size
    # Received in id order, and exactly what was sent.
    assert_equal ids.sort_by { |id| Integer(id) }, msgs.map { |m| m["id"] }
    expected = (0...THREADS).flat_map { |t| (0...PER_THREAD).map { |i| "t#{t}-#{i}" } }.sort
    assert_equal expected, msgs.map { |m| m["data"] }.sort
    # Each thread's messages arrive in the order that thread published them.
    THREADS.times do |t|
      mine = msgs.map { |m| m["data"] }.select { |d| d.start_with?("t#{t}-") }
      assert_equal (0...PER_THREAD).map { |i| "t#{t}-#{i}" }, mine
    end
  end

  def test_other_threads_run_while_a_publish_waits
    silent = SilentServer.new
    producer = Push::Producer.new(silent.url, timeout: 1)
    ticks = 0
    running = true
    counter = Thread.new { (ticks += 1; Thread.pass) while running }
    Thread.pass until ticks.positive? # the counter runs
    before = ticks
    assert_raises(Push::TimeoutError) { producer.publish("x").to("/gvl") }
    during = ticks - before
    running = false
    counter.join
    # Had the publish held the GVL, the counter would be stuck for the whole second.
    assert_operator during, :>, 100, "counter ticked #{during} times during a 1 s publish"
    assert_operator silent.accepted, :>=, 1, "the publish connected"
  ensure
    silent&.close
  end

  def test_a_waiting_publish_can_be_interrupted
    silent = SilentServer.new
    producer = Push::Producer.new(silent.url, timeout: 30)
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    assert_raises(Timeout::Error) { Timeout.timeout(0.3) { producer.publish("x").to("/stuck") } }

    connected = silent.accepted
    thread = Thread.new { producer.publish("x").to("/stuck") }
    silent.wait_for_connection(connected) # the publish is under way
    thread.kill
    thread.join
    assert_operator Process.clock_gettime(Process::CLOCK_MONOTONIC) - started, :<, 5
  ensure
    silent&.close
  end

  # A child publishes on its main thread (and on +threads+ others) to a server that never
  # answers; SIGINT once every publish has connected must end the main one at once.
  def assert_ctrl_c_interrupts_a_waiting_publish(threads: 0)
    silent = SilentServer.new
    script = <<~RUBY
      require "push"
      producer = Push::Producer.new(#{silent.url.dump}, timeout: 30)
      #{threads}.times { Thread.new { producer.publish("y").to("/other") rescue nil } }
      $stdout.puts "waiting"
      $stdout.flush
      started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
      begin
        producer.publish("x").to("/ctrl-c")
      rescue Interrupt
        puts "interrupted after %.2f s" % (Process.clock_gettime(Process::CLOCK_MONOTONIC) - started)
      end
    RUBY
    popen_interruptible(ruby_command("-e", script), err: %i[child out]) do |child|
      assert_equal "waiting\n", child.gets
      silent.wait_for_connection(threads) # every publish of the child is under way
      Process.kill("INT", child.pid)
      line = child.gets.to_s
      assert_match(/\Ainterrupted after (\d+\.\d+) s/, line)
      assert_operator line[/\d+\.\d+/].to_f, :<, 5
    end
    assert $?.success?
  ensure
    silent&.close
  end

  def test_ctrl_c_interrupts_a_waiting_publish_on_the_main_thread
    assert_ctrl_c_interrupts_a_waiting_publish
  end

  # Every Ruby thread waits in a publish: none of them watches for signals (Ruby 3.1 starts its
  # signal-watching thread only for a process with one thread).
  def test_ctrl_c_interrupts_a_waiting_publish_while_other_threads_publish
    assert_ctrl_c_interrupts_a_waiting_publish(threads: 3)
  end

  # The suite run as `scripts/test &` or under nohup: its children must still get Ctrl-C.
  def test_ctrl_c_reaches_the_child_when_this_suite_ignores_sigint
    previous = Signal.trap("INT", "IGNORE")
    assert_ctrl_c_interrupts_a_waiting_publish
  ensure
    Signal.trap("INT", previous)
  end

  # Ctrl-C in a program running the server in-process: the block's Interrupt stops it.
  def test_ctrl_c_stops_an_in_process_server_started_with_a_block
    script = <<~RUBY
      require "push"
      require "net/http"
      running = nil
      begin
        Push::Server.start do |server|
          running = server
          Net::HTTP.get(URI("\#{server.url}/_push/health"))
          puts server.url
          $stdout.flush
          sleep
        end
      rescue Interrupt
        puts "interrupted, running: \#{running.running?}"
      end
    RUBY
    popen_interruptible(ruby_command("-e", script), err: %i[child out]) do |child|
      assert_match(%r{\Ahttp://127\.0\.0\.1:\d+\n\z}, child.gets.to_s)
      Process.kill("INT", child.pid)
      assert_equal "interrupted, running: false\n", child.gets
    end
    assert $?.success?
  end

  def test_close_during_a_publish_fails_it_as_a_connection_error
    silent = SilentServer.new
    producer = Push::Producer.new(silent.url, timeout: 30)
    waiting = Thread.new { producer.publish("x").to("/closed") }
    waiting.report_on_exception = false
    silent.wait_for_connection # the publish is under way
    producer.close
    error = assert_raises(Push::ConnectionFailedError) { waiting.value }
    assert_match(/closed/, error.message)
  ensure
    silent&.close
  end

  def test_a_wakeup_does_not_cancel_or_repeat_the_publish
    server = PushServer.shared
    producer = Push::Producer.new(server.url)
    cursor = server.last_id
    threads = Array.new(4) { |i| Thread.new { producer.publish("w#{i}").to("/wakeup") } }
    50.times { threads.each { |t| t.wakeup if t.alive? rescue ThreadError } }
    ids = threads.map(&:value)
    assert_equal 4, ids.uniq.size
    assert_equal %w[w0 w1 w2 w3], server.messages("/wakeup", after: cursor).map { |m| m["data"] }.sort
  end

  def test_no_ruby_threads_are_left_and_the_process_exits_promptly
    server = PushServer.shared
    script = <<~RUBY
      require "push"
      before = Thread.list.size
      producer = Push::Producer.new(#{server.url.dump})
      4.times.map { |i| Thread.new { producer.publish("exit \#{i}").to("/exit") } }.each(&:join)
      producer.publish("last").to("/exit")
      puts "\#{before} \#{Thread.list.size}"
    RUBY
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    out = IO.popen(ruby_command("-w", "-e", script), err: %i[child out], &:read)
    assert $?.success?, out
    assert_equal "1 1", out.lines.last.chomp, out
    refute_match(/warning/, out)
    assert_operator Process.clock_gettime(Process::CLOCK_MONOTONIC) - started, :<, 5
  end
end
