# frozen_string_literal: true

require_relative "test_helper"

# The error classes against the push-rs core's error table (Push.error_table) and
# docs/ERRORS.md, and each failure of the docs' failure table against a real server (or a
# closed port, or a listener that never answers).
class TestErrors < Minitest::Test
  ERRORS_MD = File.expand_path("../../docs/ERRORS.md", __dir__)
  ROW_KEYS = %i[code class_name http_status retryable maybe_stored].freeze

  # The rows of docs/ERRORS.md's kinds table, as Push.error_table gives them.
  def self.doc_kinds
    table = File.read(ERRORS_MD)[/<!-- table:begin -->\n(.*?)<!-- table:end -->/m, 1] or
      raise "docs/ERRORS.md has no table between <!-- table:begin --> and <!-- table:end -->"
    table.lines.drop(2).map do |line| # the header and the |---| line
      code, class_name, http, retryable, stored = line.split("|").map(&:strip)[1, 5]
      { code: code.delete("`"), class_name: class_name.delete("`"), http_status: Integer(http),
        retryable: retryable == "yes", maybe_stored: stored == "yes" }
    end
  end

  # docs/ERRORS.md's failure table: failure => the Ruby class's name.
  def self.doc_failures
    section = File.read(ERRORS_MD).split("| failure | Ruby |", 2).last or raise "no failure table"
    section.lines.drop(2).take_while { |l| l.start_with?("|") }.to_h do |line|
      cells = line.split("|").map(&:strip)
      [cells[1], [cells[2].delete("`"), cells[5] == "yes"]]
    end
  end

  def native_row(class_name)
    Push.error_table.find { |row| row[:class_name] == class_name } or flunk "no native row for #{class_name}"
  end

  def test_every_native_row_is_a_class_directly_below_push_error
    table = Push.error_table
    assert_equal 14, table.size
    assert table.frozen?
    table.each do |row|
      assert_equal ROW_KEYS, row.keys
      klass = Push.const_get(row[:class_name], false)
      assert_equal "Push::#{row[:class_name]}", klass.name
      assert_equal Push::Error, klass.superclass, "#{klass} derives directly from Push::Error"
      assert_equal row[:code], klass::CODE
      error = klass.new("m")
      assert_equal row[:code], error.code
      assert_equal row[:retryable], error.retryable?, row[:code]
      assert_equal row[:maybe_stored], error.maybe_stored?, row[:code]
      assert_nil error.status
    end
    # And no other class of this library derives from it.
    assert_equal table.map { |row| "Push::#{row[:class_name]}" }.sort, Push::Error.subclasses.map(&:name).sort
  end

  def test_the_base_class
    error = Push::Error.new("m")
    assert_operator Push::Error, :<, StandardError
    assert_equal "PUSH_ERROR", error.code
    refute error.retryable?
    refute error.maybe_stored?
    assert_equal "X", Push::Error.new("m", code: "X").code
    assert_equal 418, Push::Error.new("m", status: 418).status
  end

  def test_the_type_declarations_list_every_class
    sig = File.read(File.expand_path("../sig/push.rbs", __dir__))
    declared = sig.scan(/^\s*class (\w+) < Error$/).flatten
    assert_equal Push.error_table.map { |row| row[:class_name] }.sort, declared.sort
  end

  def test_the_docs_table_is_the_native_table
    assert_equal Push.error_table, self.class.doc_kinds
  end

  # The acceptance test: the failures of docs/ERRORS.md's failure table raise the class it names,
  # with the code and the retryable flag of the native table.
  FAILURES = {
    "server down" => lambda do
      Push::Producer.new("http://127.0.0.1:#{PushServer.free_port}").publish("x").to("/down")
    end,
    "bad publish key" => lambda do
      Push::Producer.new(PushServer.shared(publish_key: "s3cret").url, publish_key: "wrong").publish("x").to("/private")
    end,
    "bad channel name" => -> { Push::Producer.new(PushServer.shared.url).publish("x").to("no-slash") },
    "payload too large" => lambda do
      Push::Producer.new(PushServer.shared(max_payload_bytes: 1024).url).publish("x" * 1025).to("/big")
    end,
    "no answer in time" => lambda do
      silent = SilentServer.new
      Push::Producer.new(silent.url, timeout: 0.3).publish("x").to("/slow")
    ensure
      silent&.close
    end,
    "unreadable CA file" => lambda do
      Push::Producer.new("https://127.0.0.1:#{PushServer.free_port}", ca_file: "/nonexistent/ca.pem").publish("x").to("/tls")
    end
  }.freeze
  STATUSES = { "bad publish key" => 401, "payload too large" => 413 }.freeze

  def test_each_failure_of_the_docs_raises_the_class_they_name
    failures = self.class.doc_failures
    assert_equal FAILURES.keys.sort, failures.keys.sort
    failures.each do |failure, (class_name, maybe_stored)|
      row = native_row(class_name.delete_prefix("Push::"))
      error = assert_raises(Push::Error, failure) { FAILURES.fetch(failure).call }
      assert_equal class_name, error.class.name, failure
      assert_equal row[:code], error.code, failure
      assert_equal row[:retryable], error.retryable?, failure
      # What happened, where known (a refused connection sent nothing), else the kind's rule.
      assert_equal maybe_stored, error.maybe_stored?, failure
      STATUSES[failure] ? assert_equal(STATUSES[failure], error.status, failure) : assert_nil(error.status, failure)
      refute_empty error.message
    end
  end

  def test_a_code_without_a_ruby_class_raises_the_base_with_that_code
    klass = Push.send(:remove_const, :InvalidChannelError)
    # A top-level class of that name (an app's own) is not Push's.
    Object.const_set(:InvalidChannelError, Class.new(StandardError))
    error = assert_raises(Push::Error) { Push::Producer.new(PushServer.shared.url).publish("x").to("no-slash") }
    assert_equal Push::Error, error.class
    assert_equal "INVALID_CHANNEL", error.code
    refute error.retryable?
  ensure
    Object.send(:remove_const, :InvalidChannelError) if Object.const_defined?(:InvalidChannelError, false)
    Push.const_set(:InvalidChannelError, klass) if klass && !Push.const_defined?(:InvalidChannelError, false)
  end

  def test_invalid_channels
    producer = Push::Producer.new(PushServer.shared.url)
    ["greetings", "/a//b", "/a/../b", "/", "/_push/health", "/sp ace", "/\xFF".b].each do |channel|
      error = assert_raises(Push::InvalidChannelError, channel.inspect) { producer.publish("x").to(channel) }
      assert_equal "INVALID_CHANNEL", error.code
      refute_empty error.message
    end
  end

  def test_server_down_names_the_address
    port = PushServer.free_port # nothing listens there
    error = assert_raises(Push::ConnectionFailedError) { Push::Producer.new("http://127.0.0.1:#{port}").publish("x").to("/down") }
    assert_includes error.message, "127.0.0.1:#{port}"
  end

  def test_a_timeout_is_not_a_connection_failure_and_comes_in_time
    silent = SilentServer.new
    producer = Push::Producer.new(silent.url, timeout: 0.3)
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    error = assert_raises(Push::TimeoutError) { producer.publish("x").to("/slow") }
    refute_kind_of Push::ConnectionFailedError, error
    assert_operator Process.clock_gettime(Process::CLOCK_MONOTONIC) - started, :<, 5
  ensure
    silent&.close
  end

  def test_missing_publish_key_is_unauthorized_and_the_right_one_publishes
    server = PushServer.shared(publish_key: "s3cret")
    with_env("PUSH_PUBLISH_KEY" => nil) do
      error = assert_raises(Push::UnauthorizedError) { Push::Producer.new(server.url).publish("x").to("/private") }
      assert_equal 401, error.status
    end
    assert_match(/\A\d+\z/, Push::Producer.new(server.url, publish_key: "s3cret").publish("x").to("/private"))
  end

  def test_publish_key_from_the_environment
    server = PushServer.shared(publish_key: "s3cret")
    with_env("PUSH_PUBLISH_KEY" => "s3cret") do
      assert_match(/\A\d+\z/, Push::Producer.new(server.url).publish("x").to("/private"))
    end
  end

  def test_a_payload_at_the_limit_goes_through
    server = PushServer.shared(max_payload_bytes: 1024)
    assert_match(/\A\d+\z/, Push::Producer.new(server.url).publish("x" * 1024).to("/big"))
  end

  def test_invalid_config
    [
      -> { Push::Producer.new("ftp://example") },
      -> { Push::Producer.new("localhost:4000") },
      -> { Push::Producer.new("http://127.0.0.1:4000", timeout: 0) },
      -> { Push::Producer.new("http://127.0.0.1:4000", timeout: -1) },
      -> { Push::Producer.new("http://127.0.0.1:4000", timeout: Float::NAN) }
    ].each do |make|
      error = assert_raises(Push::InvalidConfigError) { make.call }
      assert_equal "INVALID_CONFIG", error.code
      refute error.retryable?
    end
    assert_raises(ArgumentError) { Push::Producer.new("http://127.0.0.1:4000", timeout: "soon") }
    assert_raises(ArgumentError) { Push::Producer.new("http://127.0.0.1:4000", nope: 1) }
  end

  def test_uninitialized_producer_raises_invalid_config
    producer = Push::Producer.allocate
    error = assert_raises(Push::InvalidConfigError) { producer.publish("x").to("/a") }
    assert_equal "INVALID_CONFIG", error.code
  end
end
