# frozen_string_literal: true

# The gem is named push-rs; `require "push-rs"` and `require "push"` load the same library.
require_relative "push"
