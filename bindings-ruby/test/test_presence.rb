# frozen_string_literal: true

require_relative "test_helper"
require "uri"

# Presence reads (docs/PRESENCE.md) against a real server with --auth token and a publish key:
# SSE subscribers of a presence channel whose tokens carry info, read with Channel#presence and
# Producer#presence; a channel without the presence prefix is refused. Waits on the presence
# read itself, never on time.
class TestPresence < Minitest::Test
  KEY = "presence-key"
  SECRET = "presence-secret"
  LOBBY = "/presence-lobby"

  def server
    PushServer.shared(publish_key: KEY, auth: "token", secret: SECRET)
  end

  def producer
    @producer ||= Push::Producer.new(server.url, publish_key: KEY)
  end

  def teardown
    @streams&.each(&:close)
    Push.producer = nil
  end

  # An SSE subscriber of +channel+ as +consumer+, with a token carrying +info+.
  def subscribe(channel, consumer, info: nil)
    token = Push::Token.sign(secret: SECRET, channel: channel, consumer: consumer, expires_in: 600, info: info)
    stream = SseStream.new(server.port, "#{channel}?#{URI.encode_www_form(consumer: consumer, token: token)}")
    (@streams ||= []) << stream
    first = stream.next_event
    assert first.key?("id") && !first.key?("event"), "the stream opens with an id-only event: #{first}"
    stream
  end

  # The channel's presence, read again until the block accepts it.
  def wait_presence(channel)
    presence = nil
    Waiting.until("presence on #{channel.name}", message: -> { "presence on #{channel.name}: #{presence.inspect}" }) do
      yield(presence = channel.presence)
    end
    presence
  end

  def test_a_member_is_listed_once_with_its_tokens_info
    lobby = producer.channel(LOBBY)
    subscribe(LOBBY, "alice", info: { name: "Alice" })
    subscribe(LOBBY, "alice", info: { name: "Alice" }) # a second tab: still one member
    subscribe(LOBBY, "bob") # no info
    presence = wait_presence(lobby) { |p| p.count == 2 }

    assert_instance_of Push::Presence, presence
    assert_equal [LOBBY, 2, 1], [presence.channel, presence.count, presence.nodes]
    assert_operator (presence.as_of - Time.now).abs, :<, 60
    alice, bob = presence.members
    assert_instance_of Push::Member, alice
    assert_equal ["alice", { "name" => "Alice" }], [alice.consumer, alice.info]
    assert_equal ["bob", nil], [bob.consumer, bob.info]
    assert presence.frozen? && presence.members.frozen? && alice.info.frozen?

    # The same through Producer#presence and Push.channel (Push.producer).
    assert_equal presence.members, producer.presence(LOBBY).members
    assert_equal presence.members, producer.presence(lobby).members
    Push.producer = producer
    assert_equal presence.members, Push.channel(LOBBY).presence.members
  end

  def test_a_channel_without_the_presence_prefix_is_refused
    error = assert_raises(Push::BadRequestError) { producer.channel("/lobby").presence }
    assert_equal ["BAD_REQUEST", 400], [error.code, error.status]
    assert_raises(Push::BadRequestError) { producer.presence("/rooms/presence-lobby") }
  end

  def test_an_empty_presence_channel
    empty = producer.channel("/presence-nobody").presence
    assert_equal ["/presence-nobody", [], 0], [empty.channel, empty.members, empty.count]
  end

  def test_the_publish_key_is_needed
    [Push::Producer.new(server.url), Push::Producer.new(server.url, publish_key: "wrong")].each do |p|
      error = assert_raises(Push::UnauthorizedError) { p.channel(LOBBY).presence }
      assert_equal 401, error.status
    end
  end

  # Checked before any request: the same against a closed port.
  def test_bad_arguments_raise_before_any_request
    down = Push::Producer.new("http://127.0.0.1:#{PushServer.free_port}")
    assert_raises(Push::InvalidChannelError) { down.presence("presence-lobby") }
    assert_raises(TypeError) { down.presence(:lobby) }
    assert_raises(TypeError) { down.presence(nil) }
    assert_raises(Push::ConnectionFailedError) { down.presence(LOBBY) }
  end
end
