# frozen_string_literal: true

require_relative "test_helper"

# idempotency_key: a publish repeated with the same key to the same channel is stored once.
# Each test uses its own channels: the shared server remembers keys per channel.
class TestIdempotency < Minitest::Test
  def server
    PushServer.shared
  end

  def test_the_same_key_twice_returns_the_same_id_and_is_stored_once
    producer = Push::Producer.new(server.url)
    cursor = server.last_id
    first = producer.publish("order 9 paid", idempotency_key: "order-9").to("/idem/orders")
    again = producer.publish("order 9 paid", idempotency_key: "order-9").to("/idem/orders")
    assert_equal first, again
    # Another producer (as another process would) and Push.publish: still the first id.
    Push.producer = Push::Producer.new(server.url)
    assert_equal first, Push.publish("order 9 paid", to: "/idem/orders", idempotency_key: "order-9")
    # A message without a key after them: the batch read up to it holds everything stored.
    marker = producer.publish("next").to("/idem/orders")

    msgs = server.messages("/idem/orders", after: cursor)
    assert_equal [[first, "order 9 paid"], [marker, "next"]], msgs.map { |m| [m["id"], m["data"]] }
  ensure
    Push.producer = nil
  end

  def test_the_same_key_on_another_channel_is_another_message
    producer = Push::Producer.new(server.url)
    cursor = server.last_id
    pending = producer.publish("paid", content_type: "text/x-order", idempotency_key: "order-9")
    assert_equal "order-9", pending.idempotency_key
    a = pending.to("/idem/a")
    b = pending.to("/idem/b")
    refute_equal a, b
    assert_equal a, pending.to("/idem/a")
    [["/idem/a", a], ["/idem/b", b]].each do |channel, id|
      msgs = server.messages(channel, after: cursor)
      assert_equal [[id, "paid", "text/x-order"]], msgs.map { |m| [m["id"], m["data"], m["content_type"]] }
    end
  end

  def test_a_bad_key_raises_bad_request_and_stores_nothing
    producer = Push::Producer.new(server.url)
    cursor = server.last_id
    ["has space", "", "x" * 256, "clé", "tab\t"].each do |key|
      error = assert_raises(Push::BadRequestError, key.inspect) do
        producer.publish("x", idempotency_key: key).to("/idem/bad")
      end
      assert_equal "BAD_REQUEST", error.code
      assert_nil error.status # refused by the producer, before any request
    end
    assert_raises(TypeError) { producer.publish("x", idempotency_key: 9) }
    longest = producer.publish("ok", idempotency_key: "k" * 255).to("/idem/bad")

    assert_equal [[longest, "ok"]], server.messages("/idem/bad", after: cursor).map { |m| [m["id"], m["data"]] }
  end
end
