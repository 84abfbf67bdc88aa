# frozen_string_literal: true

require_relative "test_helper"

# Web servers fork after loading the app: a producer made (and used) before fork must work in
# the child, and still in the parent.
class TestFork < Minitest::Test
  def test_producer_made_and_used_in_the_parent_works_in_a_forked_child
    skip "fork is not available" unless Process.respond_to?(:fork)

    server = PushServer.shared
    producer = Push::Producer.new(server.url)
    cursor = producer.publish("parent before fork").to("/fork")

    reader, writer = IO.pipe
    pid = fork do
      reader.close
      id = producer.publish("from child #{Process.pid}").to("/fork")
      threads = Array.new(4) { |i| Thread.new { producer.publish("child thread #{i}").to("/fork") } }
      threads.each(&:join)
      writer.write(id)
      writer.close
      exit!(0)
    rescue Exception => e # rubocop:disable Lint/RescueException
      writer.write("ERROR #{e.class}: #{e.message}")
      writer.close
      exit!(1)
    end
    writer.close
    child_said = reader.read
    _, status = Process.wait2(pid)
    assert status.success?, "child failed: #{child_said}"
    assert_match(/\A\d+\z/, child_said)

    after = producer.publish("parent after fork").to("/fork")
    data = server.messages("/fork", after: cursor).map { |m| m["data"] }
    assert_equal 6, data.size
    assert_equal "from child #{pid}", data.first
    assert_equal "parent after fork", data.last
    assert_equal (0..3).map { |i| "child thread #{i}" }, data[1..4].sort
    assert_operator Integer(after), :>, Integer(child_said)
  end

  def test_default_producer_survives_fork
    skip "fork is not available" unless Process.respond_to?(:fork)

    server = PushServer.shared
    Push.producer = nil
    with_env("PUSH_URL" => server.url) do
      cursor = Push.publish("p", to: "/fork-default") # made and used before fork
      pid = fork do
        Push.publish("c", to: "/fork-default")
        exit!(0)
      rescue Exception # rubocop:disable Lint/RescueException
        exit!(1)
      end
      _, status = Process.wait2(pid)
      assert status.success?
      Push.publish("p again", to: "/fork-default")
      assert_equal ["c", "p again"], server.messages("/fork-default", after: cursor).map { |m| m["data"] }
    end
  end
end
