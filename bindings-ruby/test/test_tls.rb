# frozen_string_literal: true

require_relative "test_helper"
require "fileutils"
require "pathname"
require "tmpdir"

# A RabbitMQ node with an amqps listener, one per test run (scripts/rabbitmq-tls: its own node
# name, ports and data; the shared node on 5672 is not touched), stopped when the run ends. Its
# directory holds the test CA (certs/ca.pem), a server certificate it signed for 127.0.0.1, and
# an unrelated CA (certs/other-ca.pem).
module TlsRabbit
  SCRIPT = File.expand_path("../../scripts/rabbitmq-tls", __dir__)

  def self.env
    @env ||= begin
      dir = Dir.mktmpdir("push-ruby-tls")
      out = IO.popen([SCRIPT, "start", dir], err: %i[child out], &:read)
      raise "scripts/rabbitmq-tls start failed:\n#{out}" unless $?.success?

      Minitest.after_run do
        system(SCRIPT, "stop", dir)
        FileUtils.rm_rf(dir)
      end
      File.readlines(File.join(dir, "env"), chomp: true).to_h { |line| line.split("=", 2) }.merge("DIR" => dir)
    end
  end

  def self.certs = File.join(env.fetch("DIR"), "certs")
  def self.ca = env.fetch("CA_FILE")
  def self.other_ca = env.fetch("OTHER_CA_FILE")

  def self.stream_url(stream) = "#{env.fetch('AMQPS_URL')}?stream=#{stream}"
end

class TestTls < Minitest::Test
  def with_https_server(&block)
    Push::Server.start(tls_cert: File.join(TlsRabbit.certs, "server.pem"), tls_key: File.join(TlsRabbit.certs, "server-key.pem")) do |server|
      assert_equal "https://127.0.0.1:#{server.port}", server.url, "the in-process server says https://"
      block.call(server.url)
    end
  end

  def assert_tls_error(what)
    started = Process.clock_gettime(Process::CLOCK_MONOTONIC)
    error = assert_raises(Push::TlsError, what) { yield }
    assert_equal "TLS_ERROR", error.code
    refute error.retryable?
    refute error.maybe_stored?
    assert_nil error.status
    assert_match(/not signed by a trusted CA/, error.message, what)
    # At once: a certificate problem is not retried until the producer's timeout (10 s).
    assert_operator Process.clock_gettime(Process::CLOCK_MONOTONIC) - started, :<, 5, what
    error
  end

  def test_https_with_the_test_ca_and_typed_errors_without_it
    with_https_server do |url|
      id = Push::Producer.new(url, ca_file: TlsRabbit.ca).publish("over https").to("/tls/https")
      assert_match(/\A\d+\z/, id)
      # A Pathname, and PUSH_CA_FILE when no ca_file is given.
      assert_match(/\A\d+\z/, Push::Producer.new(url, ca_file: Pathname.new(TlsRabbit.ca)).publish("x").to("/tls/https"))
      with_env("PUSH_CA_FILE" => TlsRabbit.ca) do
        assert_match(/\A\d+\z/, Push::Producer.new(url).publish("x").to("/tls/https"))
      end
      assert_tls_error("another CA") { Push::Producer.new(url, ca_file: TlsRabbit.other_ca).publish("x").to("/tls/https") }
      with_env("PUSH_CA_FILE" => nil) do
        assert_tls_error("the system's roots only") { Push::Producer.new(url).publish("x").to("/tls/https") }
      end
    end
  end

  def test_amqps_with_the_test_ca_and_typed_errors_without_it
    url = TlsRabbit.stream_url("push.ruby.tls.#{Process.pid}")
    producer = Push::Producer.new(url, ca_file: TlsRabbit.ca)
    first = producer.publish("over amqps").to("/tls/amqps")
    second = producer.publish("again").to("/tls/amqps")
    assert_operator Integer(second), :>, Integer(first)
    producer.close
    assert_tls_error("another CA") { Push::Producer.new(url, ca_file: TlsRabbit.other_ca).publish("x").to("/tls/amqps") }
  end

  def test_the_default_producer_reads_push_ca_file
    url = TlsRabbit.stream_url("push.ruby.tls.default.#{Process.pid}")
    with_env("PUSH_URL" => url, "PUSH_CA_FILE" => TlsRabbit.ca) do
      assert_match(/\A\d+\z/, Push.publish("default over amqps", to: "/tls/default"))
      # A changed PUSH_CA_FILE makes a new default producer, which then refuses the certificate.
      ENV["PUSH_CA_FILE"] = TlsRabbit.other_ca
      assert_tls_error("default producer, another CA") { Push.publish("x", to: "/tls/default") }
    end
  ensure
    Push.close_default
  end

  def test_an_unreadable_ca_file_fails_when_the_producer_is_made
    error = assert_raises(Push::TlsError) { Push::Producer.new("https://127.0.0.1:1", ca_file: "/nonexistent/ca.pem") }
    assert_match(%r{/nonexistent/ca\.pem}, error.message)
    Dir.mktmpdir do |dir|
      junk = File.join(dir, "junk.pem")
      File.write(junk, "not a certificate\n")
      error = assert_raises(Push::TlsError) { Push::Producer.new("amqps://127.0.0.1/%2f", ca_file: junk) }
      assert_match(/no PEM certificate/, error.message)
    end
  end
end
