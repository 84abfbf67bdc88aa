# frozen_string_literal: true

require_relative "test_helper"
require "open3"
require "rbconfig"
require "rubygems/package"
require "tmpdir"

# The gems as users get them: scripts/package builds dist/push-rs-<v>.gem (source) and
# dist/push-rs-<v>-<platform>.gem (prebuilt), and each is installed into a fresh GEM_HOME
# (offline: the gem has no dependencies) and used from outside the source tree.
class TestGem < Minitest::Test
  HERE = File.expand_path("..", __dir__)
  ROOT = File.expand_path("..", HERE)
  GREETING = %q{Push::Producer.new.publish('hi there!').to('/greetings')}

  def setup
    skip "PUSH_SKIP_GEM_TEST=1" if ENV["PUSH_SKIP_GEM_TEST"] == "1"
    @tmp = Dir.mktmpdir("push-rs-gem-")
  end

  def teardown
    FileUtils.rm_rf(@tmp) if @tmp
  end

  # Both gems, built once for the tests of this file.
  def self.gems
    @gems ||= begin
      dist = Dir.mktmpdir("push-rs-dist-")
      Minitest.after_run { FileUtils.rm_rf(dist) }
      out, status = Open3.capture2e(RbConfig.ruby, File.join(HERE, "scripts", "package"), "--out", dist)
      raise "scripts/package failed:\n#{out}" unless status.success?

      { source: File.join(dist, "push-rs-#{Push::VERSION}.gem"),
        platform: File.join(dist, "push-rs-#{Push::VERSION}-#{Gem::Platform.local}.gem") }
    end
  end

  # An environment of a fresh GEM_HOME that sees nothing of this checkout.
  def gem_env(gem_home, **extra)
    { "GEM_HOME" => gem_home, "GEM_PATH" => gem_home, "RUBYLIB" => nil, "RUBYOPT" => nil,
      "BUNDLE_GEMFILE" => nil, "BUNDLE_APP_CONFIG" => nil, "PUSH_URL" => nil }.merge(extra)
  end

  def run_ok(env, *cmd)
    out, status = Open3.capture2e(env, *cmd, chdir: @tmp)
    assert status.success?, "#{cmd.join(' ')} failed (#{status}):\n#{out}"
    out
  end

  def test_platform_gem_installs_and_serves_without_a_rust_toolchain
    gem_file = self.class.gems.fetch(:platform)
    assert File.exist?(gem_file), "no #{gem_file}"
    spec = Gem::Package.new(gem_file).spec
    assert_empty spec.extensions
    assert_includes spec.files, "lib/push/push_ext.#{RbConfig::CONFIG['DLEXT']}"
    assert spec.required_ruby_version.satisfied_by?(Gem::Version.new(RUBY_VERSION))
    refute spec.required_ruby_version.satisfied_by?(Gem::Version.new(RUBY_VERSION.sub(/\A(\d+)\.(\d+)/) { "#{$1}.#{$2.to_i + 1}" }))

    gem_home = File.join(@tmp, "gems")
    path = ENV.fetch("PATH").split(File::PATH_SEPARATOR).reject { |dir| dir.match?(/cargo|rustc/) }
    env = gem_env(gem_home, "PATH" => [File.join(gem_home, "bin"), *path].join(File::PATH_SEPARATOR),
                            "CARGO" => nil, "RUSTC" => nil, "CARGO_TARGET_DIR" => nil)
    %w[cargo rustc].each do |tool|
      refute system(env, "sh", "-c", "command -v #{tool}", out: File::NULL), "#{tool} is still on PATH"
    end

    run_ok(env, "gem", "install", "--local", "--no-document", gem_file)
    installed = File.join(gem_home, "gems", "push-rs-#{Push::VERSION}-#{Gem::Platform.local}")
    assert File.exist?(File.join(installed, "lib", "push", "push_ext.#{RbConfig::CONFIG['DLEXT']}"))
    bin = File.join(gem_home, "bin", "push-server")
    assert File.executable?(bin), "gem install did not create #{bin}"

    assert_includes run_ok(env, bin, "--help"), "Usage: push-server"
    out, status = Open3.capture2e(env, bin, "--no-such-flag", chdir: @tmp)
    assert_equal 2, status.exitstatus, out
    assert_includes out, "--no-such-flag"

    # `bundle exec push-server` in an app whose Gemfile lists the gem (resolved offline).
    File.write(File.join(@tmp, "Gemfile"), %(source "https://rubygems.org"\ngem "push-rs"\n))
    bundle = ["bundle", "bundle#{RbConfig::CONFIG['MAJOR']}.#{RbConfig::CONFIG['MINOR']}"]
             .find { |b| system(env, "sh", "-c", "command -v #{b}", out: File::NULL) }
    assert bundle, "bundler's executable is not on PATH"
    bundle_env = env.merge("BUNDLE_GEMFILE" => File.join(@tmp, "Gemfile"), "BUNDLE_USER_HOME" => File.join(@tmp, "bundle"))
    run_ok(bundle_env, bundle, "install", "--local")
    assert_equal "push-server #{Push::VERSION}", run_ok(bundle_env, bundle, "exec", "push-server", "--version").chomp

    # The seed flow: curl long-polls the gem's push-server, the gem publishes, curl prints it.
    port = PushServer.free_port
    url = "http://127.0.0.1:#{port}"
    log = File.join(@tmp, "push-server.log")
    pid = Process.spawn(env, bin, "--bind", "127.0.0.1:#{port}", chdir: @tmp, out: log, err: log)
    server = PushServer.remote(port)
    server.wait_until_ready { "push-server did not start: #{File.read(log)}" }

    before = server.long_poll_connections
    curl_out, curl_in = IO.pipe
    curl = Process.spawn(env, "curl", "-s", "#{url}/greetings", out: curl_in)
    curl_in.close
    server.wait_for_long_polls(before + 1)

    run_ok(env.merge("PUSH_URL" => url), RbConfig.ruby, "-rpush", "-e", GREETING)
    Process.wait(curl)
    assert $?.success?, "curl failed: #{$?}"
    assert_equal "hi there!", curl_out.read

    status = kill_child(pid, "TERM")
    pid = nil
    assert_equal 0, status.exitstatus, "push-server after SIGTERM: #{status}\n#{File.read(log)}"
  ensure
    curl_out&.close
    kill_child(pid) if pid
  end

  def test_source_gem_compiles_offline_and_publishes_from_outside_the_source_tree
    gem_file = self.class.gems.fetch(:source)
    gem_home = File.join(@tmp, "gems")
    # Reuse the workspace's compiled dependencies (a fresh target dir would rebuild them all).
    target = ENV["CARGO_TARGET_DIR"].to_s.empty? ? File.join(ROOT, "target") : ENV["CARGO_TARGET_DIR"]
    env = gem_env(gem_home, "CARGO_TARGET_DIR" => target)
    out = run_ok(env, "gem", "install", "--local", "--no-document", gem_file)
    installed = File.join(gem_home, "gems", "push-rs-#{Push::VERSION}")
    assert Dir.exist?(installed), out
    refute Dir.exist?(File.join(installed, "ext", "push", "target")), "the installed gem kept cargo's target/"

    server = PushServer.shared
    script = <<~RUBY
      require "push-rs"
      ext = $LOADED_FEATURES.grep(/push_ext/).first
      abort "loaded from the source tree: \#{ext}" if ext.start_with?(#{HERE.dump})
      puts Push::VERSION
      puts Push.publish("from the gem", to: "/gem")
      begin
        Push::Producer.new.publish("x").to("no-slash")
      rescue Push::InvalidChannelError => e
        puts e.code
      end
      puts Push::Token.sign(channel: "/rooms/*", consumer: "alice", expires_at: 2_000_000_000)
      # The server compiled from the gem's own sources, in-process.
      Push::Server.start do |own|
        Push::Producer.new(own.url).publish("to the gem's server").to("/own")
        puts own.running?
      end
    RUBY
    cursor = server.last_id
    out = run_ok(env.merge("PUSH_URL" => server.url, "PUSH_SECRET" => "s3cret"), RbConfig.ruby, "-e", script)
    version, id, code, token, running = out.lines.map(&:chomp)
    assert_equal Push::VERSION, version
    assert_equal "INVALID_CHANNEL", code
    # The shared test vector (docs/AUTH.md), signed by the installed extension.
    assert_equal "push1.L3Jvb21zLyoKYWxpY2UKMjAwMDAwMDAwMA.uuwyPB4kr8XuuAm2aPVU1Hi7BBPL1FqUiPz0ibfoEMY", token
    assert_equal "true", running
    assert_equal [[id, "from the gem"]], server.messages("/gem", after: cursor).map { |m| [m["id"], m["data"]] }

    # Its executable too.
    out = run_ok(env, File.join(gem_home, "bin", "push-server"), "--secret", "s3cret", "token", "--channel", "/rooms/*",
                 "--consumer", "alice", "--expires-at", "2000000000")
    assert_equal token, out.chomp
  end
end
