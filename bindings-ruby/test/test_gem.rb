# frozen_string_literal: true

require_relative "test_helper"
require "open3"
require "rbconfig"
require "tmpdir"

# The gem as users get it: scripts/package builds pkg/push-rs-<version>.gem, `gem install --local`
# compiles it into a fresh GEM_HOME (offline: no gem dependencies), and a plain `ruby` outside
# the source tree requires it, publishes to a real server and signs a subscriber token.
class TestGem < Minitest::Test
  HERE = File.expand_path("..", __dir__)
  ROOT = File.expand_path("..", HERE)

  def setup
    skip "PUSH_SKIP_GEM_TEST=1" if ENV["PUSH_SKIP_GEM_TEST"] == "1"
  end

  def test_gem_builds_installs_offline_and_publishes_from_outside_the_source_tree
    out, status = Open3.capture2e(RbConfig.ruby, File.join(HERE, "scripts", "package"))
    assert status.success?, "scripts/package failed:\n#{out}"
    gem_file = File.join(HERE, "pkg", "push-rs-#{Push::VERSION}.gem")
    assert File.exist?(gem_file), out

    Dir.mktmpdir("push-rs-gem-") do |tmp|
      gem_home = File.join(tmp, "gems")
      # Reuse the workspace's compiled dependencies (a fresh target dir would rebuild them all).
      target = ENV["CARGO_TARGET_DIR"].to_s.empty? ? File.join(ROOT, "target") : ENV["CARGO_TARGET_DIR"]
      env = { "GEM_HOME" => gem_home, "GEM_PATH" => gem_home, "CARGO_TARGET_DIR" => target,
              "RUBYLIB" => nil, "RUBYOPT" => nil, "BUNDLE_GEMFILE" => nil }
      out, status = Open3.capture2e(env, "gem", "install", "--local", "--no-document", gem_file, chdir: tmp)
      assert status.success?, "gem install failed:\n#{out}"
      installed = File.join(gem_home, "gems", "push-rs-#{Push::VERSION}")
      assert Dir.exist?(installed), out
      refute Dir.exist?(File.join(installed, "ext", "push", "target")), "the installed gem kept cargo's target/"

      server = PushServer.shared
      poll = server.long_poll("/greetings")
      seed = %q{Push::Producer.new.publish('hi there!').to('/greetings')}
      out, status = Open3.capture2e(env.merge("PUSH_URL" => server.url), RbConfig.ruby, "-rpush", "-e", seed, chdir: tmp)
      assert status.success?, "ruby -rpush failed:\n#{out}"
      assert_equal "hi there!", poll.value.body

      script = <<~RUBY
        require "push-rs"
        ext = $LOADED_FEATURES.grep(/push_ext/).first
        abort "loaded from the source tree: \#{ext}" if ext.start_with?(#{HERE.dump})
        puts Push::VERSION
        puts Push.publish("from the gem", to: "/gem")
        begin
          Push::Producer.new.publish("x").to("no-slash")
        rescue Push::InvalidChannel => e
          puts e.code
        end
        puts Push::Token.sign(channel: "/rooms/*", consumer: "alice", expires_at: 2_000_000_000)
      RUBY
      cursor = server.last_id
      out, status = Open3.capture2e(env.merge("PUSH_URL" => server.url, "PUSH_SECRET" => "s3cret"),
                                    RbConfig.ruby, "-e", script, chdir: tmp)
      assert status.success?, "ruby -e failed:\n#{out}"
      version, id, code, token = out.lines.map(&:chomp)
      assert_equal Push::VERSION, version
      assert_equal "INVALID_CHANNEL", code
      # The shared test vector (docs/AUTH.md), signed by the installed extension.
      assert_equal "push1.L3Jvb21zLyoKYWxpY2UKMjAwMDAwMDAwMA.uuwyPB4kr8XuuAm2aPVU1Hi7BBPL1FqUiPz0ibfoEMY", token
      assert_equal [[id, "from the gem"]], server.messages("/gem", after: cursor).map { |m| [m["id"], m["data"]] }
    end
  end
end
