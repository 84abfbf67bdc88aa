# frozen_string_literal: true

require_relative "test_helper"
require "openssl"

# Push.verify_events: the shared known signature, a request signed here with Ruby's own
# OpenSSL::HMAC (the format of docs/PRESENCE.md, so any sender can be checked), and every refusal.
class TestEvents < Minitest::Test
  SECRET = "s3cret"
  BODY = '{"events":[{"id":"e1","name":"member_left","channel":"/presence-lobby","consumer":"alice","time_ms":1}]}'
  KNOWN = "t=2000000000,v1=831e7358c2d4915f2e9ec13c7b37394411f4e7afcf43792ab2099b758093fa41"

  def setup
    @old_env = %w[PUSH_EVENTS_SECRET PUSH_SECRET].to_h { |k| [k, ENV.delete(k)] }
  end

  def teardown
    @old_env.each { |k, v| ENV[k] = v }
  end

  # The Push-Signature header for +body+ at +time+, made with OpenSSL only.
  def signature(body, time: Time.now.to_i, secret: SECRET)
    "t=#{time},v1=#{OpenSSL::HMAC.hexdigest('SHA256', secret, "#{time}.#{body}")}"
  end

  def test_known_signature
    assert_equal KNOWN, signature(BODY, time: 2_000_000_000)
    # Signed in 2033: far from now, so only a tolerance that wide accepts it.
    events = Push.verify_events(BODY, KNOWN, secret: SECRET, tolerance: 10**10)
    assert_equal 1, events.size
    event = events.first
    assert_instance_of Push::Event, event
    assert_equal ["e1", "member_left", "/presence-lobby", "alice", nil, nil],
                 [event.id, event.name, event.channel, event.consumer, event.info, event.message_id]
    assert_equal Time.at(0, 1, :millisecond), event.time
    assert event.frozen? && events.frozen?
    error = assert_raises(Push::UnauthorizedError) { Push.verify_events(BODY, KNOWN, secret: SECRET) }
    assert_match(/2000000000/, error.message)
  end

  def test_a_request_signed_with_openssl
    body = JSON.generate(events: [
      { id: "a", name: "member_joined", channel: "/presence-lobby", consumer: "alice", info: { name: "Zoë", n: [1, 2] },
        time_ms: 1_764_870_000_123 },
      { id: "b", name: "undelivered", channel: "/presence-lobby", consumer: "bob", message_id: "18446744073709551615",
        time_ms: 1_764_870_000_124 },
      { id: "c", name: "consumer_disconnected", consumer: "carol", time_ms: 1_764_870_000_125 },
      { id: "d", name: "channel_vacated", channel: "/presence-x", time_ms: 1_764_870_000_126 }
    ])
    events = Push.verify_events(body, signature(body), secret: SECRET)
    assert_equal %w[a b c d], events.map(&:id)
    joined, undelivered, gone, vacated = events
    assert_equal({ "name" => "Zoë", "n" => [1, 2] }, joined.info)
    assert joined.info.frozen?
    assert_equal Time.at(1_764_870_000, 123, :millisecond), joined.time
    assert_equal ["bob", "18446744073709551615", nil], [undelivered.consumer, undelivered.message_id, undelivered.info]
    assert_equal [nil, "carol"], [gone.channel, gone.consumer]
    assert_equal ["/presence-x", nil], [vacated.channel, vacated.consumer]
    # The bytes count, not the encoding: a BINARY copy of the body verifies the same.
    assert_equal events, Push.verify_events(body.b, signature(body), secret: SECRET)
    # An empty batch is a batch.
    assert_empty Push.verify_events('{"events":[]}', signature('{"events":[]}'), secret: SECRET)
  end

  def test_the_secret_from_the_environment
    header = signature(BODY)
    assert_raises(Push::InvalidConfigError) { Push.verify_events(BODY, header) }
    with_env("PUSH_SECRET" => SECRET) do
      assert_equal ["e1"], Push.verify_events(BODY, header).map(&:id)
      # PUSH_EVENTS_SECRET comes first.
      with_env("PUSH_EVENTS_SECRET" => "events-only") do
        assert_raises(Push::UnauthorizedError) { Push.verify_events(BODY, header) }
        assert_equal ["e1"], Push.verify_events(BODY, signature(BODY, secret: "events-only")).map(&:id)
      end
    end
    error = assert_raises(Push::InvalidConfigError) { Push.verify_events(BODY, header, secret: "") }
    assert_equal "INVALID_CONFIG", error.code
  end

  def test_refusals
    header = signature(BODY)
    refused = {
      "no header" => [BODY, nil],
      "another secret" => [BODY, signature(BODY, secret: "other")],
      "a changed body" => [BODY.sub("alice", "mallory"), header],
      "too old" => [BODY, signature(BODY, time: Time.now.to_i - 301)],
      "from the future" => [BODY, signature(BODY, time: Time.now.to_i + 301)],
      "no timestamp" => [BODY, header.sub(/\At=\d+,/, "")],
      "no v1" => [BODY, header.sub(/,v1=.*/, "")],
      "garbage" => [BODY, "garbage"],
      "empty" => [BODY, ""],
      "not UTF-8" => [BODY, "t=1,v1=\xFF".b]
    }
    refused.each do |what, (body, sig)|
      error = assert_raises(Push::UnauthorizedError, what) { Push.verify_events(body, sig, secret: SECRET) }
      assert_equal ["UNAUTHORIZED", nil], [error.code, error.status], what
    end
    error = assert_raises(Push::UnauthorizedError) { Push.verify_events(BODY, nil, secret: SECRET) }
    assert_includes error.message, "Push-Signature"
    # Within a tolerance, or any v1 of several (a server rolling its secret signs with both).
    assert Push.verify_events(BODY, signature(BODY, time: Time.now.to_i - 301), secret: SECRET, tolerance: 400)
    assert Push.verify_events(BODY, "#{signature(BODY, secret: 'old')},v1=#{header[/v1=(\h+)/, 1]}", secret: SECRET)

    # Signed but not a batch: the sender is the server, the body is not events.
    ["{}", '{"x":1}', "[]", "not json", '{"events":[{"id":"e"}]}'].each do |body|
      assert_raises(Push::BadRequestError, body) { Push.verify_events(body, signature(body), secret: SECRET) }
    end
  end

  def test_argument_types
    header = signature(BODY)
    assert_raises(Push::InvalidConfigError) { Push.verify_events(BODY, header, secret: SECRET, tolerance: -1) }
    assert_raises(TypeError) { Push.verify_events(nil, header, secret: SECRET) }
    assert_raises(TypeError) { Push.verify_events(BODY, 12, secret: SECRET) }
    assert_raises(TypeError) { Push.verify_events(BODY, header, secret: 12) }
    assert_raises(TypeError) { Push.verify_events(BODY, header, secret: SECRET, tolerance: "300") }
    assert_raises(ArgumentError) { Push.verify_events(BODY) }
    assert_raises(NoMethodError) { Push._verify_events(BODY, header, SECRET, 300) } # private
  end
end
