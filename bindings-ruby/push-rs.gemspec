# frozen_string_literal: true

require_relative "lib/push/version"

# Two gems from this file, both built by scripts/package:
# - the source gem (push-rs-<v>.gem): compiles the native extension with cargo on install, from
#   the crate scripts/package stages into ext/push/;
# - with PUSH_GEM_PLATFORM set (e.g. "x86_64-linux"), the platform gem
#   (push-rs-<v>-x86_64-linux.gem): carries the prebuilt lib/push/push_ext.so, built for this
#   Ruby's minor version, and installs without a Rust toolchain.
platform = ENV["PUSH_GEM_PLATFORM"].to_s
prebuilt = !platform.empty?

Gem::Specification.new do |spec|
  spec.name = "push-rs"
  spec.version = Push::VERSION
  spec.summary = "Publish realtime messages to push-rs channels from Ruby, and run push-server"
  spec.description = <<~DESC
    The Ruby SDK of push-rs: `Push::Producer.new.publish("hi there!").to("/greetings")` delivers
    a message to every browser, curl or service subscribed to the channel. A native extension in
    Rust over the push-rs core, #{prebuilt ? 'prebuilt' : 'compiled with cargo when the gem is installed'}.
    Thread-safe (the GVL is released while a publish waits) and fork-safe (Puma, Unicorn).
    Push::Token.sign signs subscriber tokens for servers that require them. The extension also
    carries the whole push-server: the `push-server` executable, and Push::Server to run it
    in-process in tests.
  DESC
  spec.authors = ["push-rs contributors"]
  spec.license = "MIT"
  spec.homepage = "https://github.com/push-rs/push-rs"
  spec.metadata = { "source_code_uri" => "https://github.com/push-rs/push-rs/tree/main/bindings-ruby" }
  spec.require_paths = ["lib"]
  spec.bindir = "exe"
  spec.executables = ["push-server"]

  common = %w[README.md lib/**/*.rb sig/**/*.rbs exe/push-server]
  if prebuilt
    spec.platform = Gem::Platform.new(platform)
    # The extension is compiled against one Ruby minor version's ABI.
    minor = Gem::Version.new(RUBY_VERSION).segments.first(2)
    spec.required_ruby_version = [">= #{minor.join('.')}", "< #{minor[0]}.#{minor[1] + 1}.dev"]
    ext = "lib/push/push_ext.#{RbConfig::CONFIG['DLEXT']}"
    raise "push-rs.gemspec: #{ext} missing; build the gem with bindings-ruby/scripts/package" unless File.exist?(File.join(__dir__, ext))

    files = common + [ext]
  else
    spec.required_ruby_version = ">= 3.0"
    spec.requirements = ["cargo and rustc >= 1.85", "libclang (for bindgen)"]
    spec.extensions = ["ext/push/extconf.rb"]

    # The extension compiles the crate staged in ext/push/ by scripts/package; without it the
    # gem could not be installed.
    staged = %w[ext/push/Cargo.toml ext/push/Cargo.lock ext/push/src/lib.rs ext/push/sdk-core/Cargo.toml
                ext/push/server/Cargo.toml ext/push/client-js/push.js]
    missing = staged.reject { |f| File.exist?(File.join(__dir__, f)) }
    unless missing.empty?
      raise "push-rs.gemspec: #{missing.join(', ')} missing; build the gem with bindings-ruby/scripts/package"
    end

    files = common + %w[ext/push/extconf.rb ext/push/Cargo.toml ext/push/Cargo.lock ext/push/src/**/*.rs
                        ext/push/sdk-core/**/* ext/push/server/**/* ext/push/client-js/*]
  end

  spec.files = Dir.chdir(__dir__) do
    Dir[*files].reject { |f| File.directory?(f) || f.include?("/target/") }
  end
end
