# frozen_string_literal: true

require_relative "test_helper"
require "open3"
require "uri"
require "openssl"

# Push::Token.sign: the shared test vector, the same tokens as `push-server token`, expiries,
# errors, and a real push-server with --auth token accepting or refusing Ruby-minted tokens.
class TestToken < Minitest::Test
  SECRET = "s3cret"
  VECTOR = "push1.L3Jvb21zLyoKYWxpY2UKMjAwMDAwMDAwMA.uuwyPB4kr8XuuAm2aPVU1Hi7BBPL1FqUiPz0ibfoEMY"

  def setup
    @old_secret = ENV.delete("PUSH_SECRET")
  end

  def teardown
    ENV["PUSH_SECRET"] = @old_secret
  end

  # [channel, consumer, expires_at] of a token, from its middle part.
  def claims(token)
    prefix, encoded, signature = token.split(".")
    assert_equal "push1", prefix
    assert_match(/\A[A-Za-z0-9_-]{43}\z/, signature) # 32 bytes, base64url without padding
    refute_includes encoded, "="
    channel, consumer, expiry = encoded.tr("-_", "+/").unpack1("m").split("\n", -1) # base64url
    [channel, consumer, Integer(expiry, 10)]
  end

  def cli_token(*args, env: {})
    out, err, status = Open3.capture3(env, *PushServer.command, *args)
    assert status.success?, "push-server #{args.join(' ')} failed: #{err}"
    out.chomp
  end

  def test_known_answer
    token = Push::Token.sign(secret: SECRET, channel: "/rooms/*", consumer: "alice", expires_at: 2_000_000_000)
    assert_equal VECTOR, token
    assert_equal Encoding::UTF_8, token.encoding
    assert_equal ["/rooms/*", "alice", 2_000_000_000], claims(token)
  end

  # docs/PRESENCE.md: info rides on a fourth line of the claims, as compact JSON.
  INFO_VECTOR = "push1.L3ByZXNlbmNlLWxvYmJ5CmFsaWNlCjIwMDAwMDAwMDAKeyJuYW1lIjoiQWxpY2UifQ." \
                "EevWok3FQiooG8ioVSnkFJLSGN2fD_BlBXcWzmdsbWY"

  def test_info_known_answer
    sign = ->(info) { Push::Token.sign(secret: SECRET, channel: "/presence-lobby", consumer: "alice", expires_at: 2_000_000_000, info: info) }
    assert_equal INFO_VECTOR, sign.call({ name: "Alice" })
    assert_equal INFO_VECTOR, sign.call({ "name" => "Alice" })
    _, encoded, = INFO_VECTOR.split(".")
    assert_equal "/presence-lobby\nalice\n2000000000\n{\"name\":\"Alice\"}", encoded.tr("-_", "+/").unpack1("m")
    # The same HMAC over the same body, by Ruby's OpenSSL: nothing but the claims changed.
    body = INFO_VECTOR.rpartition(".").first
    mac = [OpenSSL::HMAC.digest("SHA256", SECRET, body)].pack("m0").tr("+/", "-_").delete("=")
    assert_equal INFO_VECTOR, "#{body}.#{mac}"
    # Nested values and non-ASCII text are written as JSON.generate writes them (compact, as is).
    token = sign.call({ name: "Zoë", tags: ["a", 1, nil, true], n: { x: 1.5 } })
    info = token.split(".")[1].tr("-_", "+/").unpack1("m").force_encoding("UTF-8").lines.last
    assert_equal '{"name":"Zoë","tags":["a",1,null,true],"n":{"x":1.5}}', info
    # No info: three lines, the token of before.
    assert_equal VECTOR, Push::Token.sign(secret: SECRET, channel: "/rooms/*", consumer: "alice", expires_at: 2_000_000_000, info: nil)
  end

  def test_bad_info
    error = assert_raises(Push::InvalidConfigError) { Push::Token.sign(secret: SECRET, channel: "/a", info: { name: "x" }) }
    assert_includes error.message, "consumer"
    big = { text: "x" * 1100 }
    assert_raises(Push::InvalidConfigError) { Push::Token.sign(secret: SECRET, channel: "/a", consumer: "c", info: big) }
    assert_raises(Push::InvalidConfigError) do
      Push::Token.sign(secret: SECRET, channel: "/a", consumer: "c", info: { x: Float::NAN })
    end
    [[1, 2], "{\"name\":\"Alice\"}", 42].each do |info|
      assert_raises(TypeError, info.inspect) { Push::Token.sign(secret: SECRET, channel: "/a", consumer: "c", info: info) }
    end
  end

  def test_same_token_as_push_server_token
    # --secret is a flag of push-server itself, so it goes before the subcommand (or in PUSH_SECRET).
    cli = cli_token("--secret", SECRET, "token", "--channel", "/rooms/*", "--consumer", "alice",
                    "--expires-at", "2000000000")
    assert_equal VECTOR, cli
    assert_equal cli, Push::Token.sign(secret: SECRET, channel: "/rooms/*", consumer: "alice", expires_at: 2_000_000_000)

    [["/a", nil, 1], ["/*", nil, 4_102_444_800], ["/chat/lobby", "bob-42", 1_800_000_000],
     ["/x.y_z~w-v:u@t", "c", 0]].each do |channel, consumer, at|
      args = ["token", "--channel", channel, "--expires-at", at.to_s]
      args += ["--consumer", consumer] if consumer
      expected = cli_token(*args, env: { "PUSH_SECRET" => "another secret" })
      assert_equal expected, Push::Token.sign(secret: "another secret", channel: channel, consumer: consumer, expires_at: at),
                   [channel, consumer, at].inspect
    end
  end

  def test_expires_at_takes_a_time
    assert_equal VECTOR, Push::Token.sign(secret: SECRET, channel: "/rooms/*", consumer: "alice",
                                          expires_at: Time.at(2_000_000_000, 999, :millisecond))
  end

  def test_expires_in_counts_from_now
    [[{}, 3600], [{ expires_in: 60 }, 60], [{ expires_in: 0 }, 0], [{ expires_in: 90.9 }, 90],
     [{ expires_in: nil }, 3600], [{ expires_in: 86_400 * 365 }, 86_400 * 365]].each do |options, seconds|
      before = Time.now.to_i
      token = Push::Token.sign(secret: SECRET, channel: "/rooms/1", **options)
      after = Time.now.to_i
      channel, consumer, expiry = claims(token)
      assert_equal ["/rooms/1", ""], [channel, consumer]
      assert_operator expiry, :>=, before + seconds, options.inspect
      assert_operator expiry, :<=, after + seconds, options.inspect
    end
  end

  def test_expires_at_wins_over_expires_in
    token = Push::Token.sign(secret: SECRET, channel: "/a", expires_in: 60, expires_at: 1_900_000_000)
    assert_equal 1_900_000_000, claims(token).last
  end

  def test_secret_from_the_environment
    ENV["PUSH_SECRET"] = SECRET
    assert_equal VECTOR, Push::Token.sign(channel: "/rooms/*", consumer: "alice", expires_at: 2_000_000_000)
    # Read at each call, and nil means the environment too.
    assert_equal VECTOR, Push::Token.sign(channel: "/rooms/*", consumer: "alice", expires_at: 2_000_000_000, secret: nil)
    refute_equal VECTOR, Push::Token.sign(channel: "/rooms/*", consumer: "alice", expires_at: 2_000_000_000, secret: "other")
  end

  def test_secret_bytes_are_used_as_they_are
    binary = Push::Token.sign(secret: SECRET.b, channel: "/rooms/*", consumer: "alice", expires_at: 2_000_000_000)
    assert_equal VECTOR, binary
    # Any bytes, not only UTF-8 text.
    token = Push::Token.sign(secret: "\xFF\x00\xFE".b, channel: "/a", expires_at: 2_000_000_000)
    refute_equal token, Push::Token.sign(secret: "\xFF\x00\xFD".b, channel: "/a", expires_at: 2_000_000_000)
    assert_equal ["/a", "", 2_000_000_000], claims(token)
  end

  def test_missing_or_empty_secret
    [{}, { secret: nil }, { secret: "" }].each do |options|
      error = assert_raises(Push::InvalidConfigError, options.inspect) { Push::Token.sign(channel: "/a", **options) }
      assert_equal "INVALID_CONFIG", error.code
      assert_includes error.message, "PUSH_SECRET"
      assert_nil error.status
    end
    ENV["PUSH_SECRET"] = ""
    assert_raises(Push::InvalidConfigError) { Push::Token.sign(channel: "/a") }
  end

  def test_bad_channel
    ["rooms", "", "/", "/a//b", "/a/../b", "/rooms*", "/rooms/**", "/*/a", "/sp ace", "/_push/x", "/\xFF".b].each do |channel|
      error = assert_raises(Push::InvalidChannelError, channel.inspect) { Push::Token.sign(secret: SECRET, channel: channel) }
      assert_equal "INVALID_CHANNEL", error.code
      refute_empty error.message
    end
  end

  def test_bad_consumer_or_expiry
    ["", "a\nb", "\xFF".b].each do |consumer|
      error = assert_raises(Push::InvalidConfigError, consumer.inspect) do
        Push::Token.sign(secret: SECRET, channel: "/a", consumer: consumer)
      end
      assert_equal "INVALID_CONFIG", error.code
    end
    [{ expires_in: -1 }, { expires_at: -5 }, { expires_at: 2**64 }, { expires_in: 2**64 - 1 }].each do |options|
      assert_raises(Push::InvalidConfigError, options.inspect) { Push::Token.sign(secret: SECRET, channel: "/a", **options) }
    end
  end

  def test_argument_types
    assert_raises(ArgumentError) { Push::Token.sign(secret: SECRET) } # channel: is required
    assert_raises(ArgumentError) { Push::Token.sign(secret: SECRET, channel: "/a", expires: 1) }
    assert_raises(ArgumentError) { Push::Token.sign("/a", secret: SECRET) }
    [{ channel: :"/a" }, { channel: nil }, { channel: "/a", consumer: 7 }, { channel: "/a", secret: 1234 },
     { channel: "/a", expires_in: "60" }, { channel: "/a", expires_at: "tomorrow" }].each do |options|
      assert_raises(TypeError, options.inspect) { Push::Token.sign(secret: SECRET, **options) }
    end
    assert_raises(FloatDomainError) { Push::Token.sign(secret: SECRET, channel: "/a", expires_in: Float::INFINITY) }
    assert_raises(NoMethodError) { Push::Token._sign(SECRET, "/a", nil, nil, 1, nil) } # private
  end

  # A real server checking the tokens: GET /<channel>?token=...&timeout=0 answers 204 (no
  # message yet) when the token is accepted.
  def test_push_server_accepts_ruby_tokens
    server = PushServer.shared(auth: "token", secret: SECRET)
    status = lambda do |channel, token = nil, **query|
      params = query.merge(timeout: 0)
      params[:token] = token if token
      server.get("#{channel}?#{URI.encode_www_form(params)}").code
    end
    sign = ->(**options) { Push::Token.sign(secret: SECRET, **options) }

    assert_equal "204", status.call("/private/1", sign.call(channel: "/private/1"))
    assert_equal "204", status.call("/rooms/7/chat", sign.call(channel: "/rooms/*", expires_in: 60))
    assert_equal "204", status.call("/anything", sign.call(channel: "/*", expires_at: Time.now + 60))
    assert_equal "204", status.call("/rooms/1", VECTOR, consumer: "alice") # the vector is valid until 2033
    token = sign.call(channel: "/private/1")
    res = server.get("/private/1?timeout=0", { "Authorization" => "Bearer #{token}" })
    assert_equal "204", res.code

    assert_equal "401", status.call("/private/1") # no token
    res = server.get("/private/1?timeout=0")
    assert_equal "UNAUTHORIZED", res["Push-Error"]
    assert_equal "403", status.call("/private/2", sign.call(channel: "/private/1")) # another channel
    assert_equal "403", status.call("/rooms", sign.call(channel: "/rooms/*"))
    assert_equal "403", status.call("/rooms/1", VECTOR, consumer: "bob") # another consumer id
    assert_equal "401", status.call("/private/1", sign.call(channel: "/private/1", expires_at: Time.now.to_i - 10)) # expired
    assert_equal "401", status.call("/private/1", sign.call(channel: "/private/1", expires_in: 0)) # expires at once
    assert_equal "401", status.call("/private/1", Push::Token.sign(secret: "wrong", channel: "/private/1")) # other secret
  end

  def test_token_streams_messages
    server = PushServer.shared(auth: "token", secret: SECRET)
    token = Push::Token.sign(secret: SECRET, channel: "/rooms/*", consumer: "carol", expires_in: 60)
    cursor = server.last_id
    id = Push::Producer.new(server.url).publish("hello carol").to("/rooms/9")
    res = server.get("/rooms/9?#{URI.encode_www_form(after: cursor, token: token, consumer: 'carol')}")
    assert_equal "200", res.code
    assert_equal "hello carol", res.body
    assert_equal id, res["Push-Id"]
  end
end
