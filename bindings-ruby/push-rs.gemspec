# frozen_string_literal: true

require_relative "lib/push/version"

Gem::Specification.new do |spec|
  spec.name = "push-rs"
  spec.version = Push::VERSION
  spec.summary = "Publish realtime messages to push-rs channels from Ruby"
  spec.description = <<~DESC
    The Ruby SDK of push-rs: `Push::Producer.new.publish("hi there!").to("/greetings")` delivers
    a message to every browser, curl or service subscribed to the channel. A native extension in
    Rust over the push-rs core; compiled with cargo when the gem is installed. Thread-safe (the
    GVL is released while a publish waits) and fork-safe (Puma, Unicorn). Push::Token.sign signs
    subscriber tokens for servers that require them.
  DESC
  spec.authors = ["push-rs contributors"]
  spec.license = "MIT"
  spec.homepage = "https://github.com/push-rs/push-rs"
  spec.metadata = { "source_code_uri" => "https://github.com/push-rs/push-rs/tree/main/bindings-ruby" }
  spec.required_ruby_version = ">= 3.0"
  spec.requirements = ["cargo and rustc >= 1.85", "libclang (for bindgen)"]

  spec.extensions = ["ext/push/extconf.rb"]
  spec.require_paths = ["lib"]

  # The extension compiles the crate staged in ext/push/ by scripts/package; without it the
  # gem could not be installed.
  staged = %w[ext/push/Cargo.toml ext/push/Cargo.lock ext/push/src/lib.rs ext/push/sdk-core/Cargo.toml]
  missing = staged.reject { |f| File.exist?(File.join(__dir__, f)) }
  unless missing.empty?
    raise "push-rs.gemspec: #{missing.join(', ')} missing; build the gem with bindings-ruby/scripts/package"
  end

  spec.files = Dir.chdir(__dir__) do
    Dir[
      "README.md", "lib/**/*.rb", "sig/**/*.rbs",
      "ext/push/extconf.rb", "ext/push/Cargo.toml", "ext/push/Cargo.lock", "ext/push/src/**/*.rs",
      "ext/push/sdk-core/**/*"
    ].reject { |f| File.directory?(f) || f.include?("/target/") }
  end
end
