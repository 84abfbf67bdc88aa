# frozen_string_literal: true

# For any Rack server, e.g. Debian's: apt-get install ruby-rack puma; puma examples/config.ru
require_relative "app"
run PushExample::App.new
