# frozen_string_literal: true

# Serves examples/app.rb with WEBrick and nothing else (no rack gem):
#
#   push-server &                                   # http://127.0.0.1:4000
#   PORT=9292 ruby -Ilib examples/webrick.rb        # or, with the gem installed: ruby examples/webrick.rb
#   open http://127.0.0.1:9292/ , or: curl -d text=hello http://127.0.0.1:9292/say
require "stringio"
require "webrick"
require_relative "app"

# The few Rack env keys the example app reads, from a WEBrick request.
def rack_env(req)
  {
    "REQUEST_METHOD" => req.request_method,
    "PATH_INFO" => req.path,
    "QUERY_STRING" => req.query_string.to_s,
    "CONTENT_TYPE" => req.content_type.to_s,
    "rack.input" => StringIO.new(req.body.to_s)
  }
end

app = PushExample::App.new
server = WEBrick::HTTPServer.new(
  BindAddress: ENV.fetch("HOST", "127.0.0.1"), Port: Integer(ENV.fetch("PORT", "9292")),
  AccessLog: [], Logger: WEBrick::Log.new($stderr, WEBrick::Log::WARN)
)
server.mount_proc("/") do |req, res|
  status, headers, body = app.call(rack_env(req))
  res.status = status
  headers.each { |k, v| res[k] = v }
  res.body = body.join
end
%w[INT TERM].each { |sig| trap(sig) { server.shutdown } }
$stderr.puts "push-rs example on http://#{server.config[:BindAddress]}:#{server.config[:Port]}/ publishing to #{ENV.fetch('PUSH_URL', 'http://127.0.0.1:4000')}"
server.start
