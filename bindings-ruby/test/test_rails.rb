# frozen_string_literal: true

require_relative "test_helper"
require "open3"
require "tmpdir"

# The Railtie, against real Rails (Debian's ruby-railties, which ci.sh installs), in child
# processes (Rails stays out of the suite's process): loaded only when Rails is, view helpers
# that give html_safe tags, partials rendered by ApplicationController.render.
class TestRails < Minitest::Test
  def setup
    skip "Rails is not installed (ci.sh installs Debian's ruby-railties)" unless self.class.rails?
  end

  def self.rails?
    return @rails unless @rails.nil?

    @rails = system(RbConfig.ruby, "-e", 'require "action_controller/railtie"', out: File::NULL, err: File::NULL)
  end

  # Runs +script+ in a Ruby with this library, in a directory holding +files+; returns the JSON
  # it prints last.
  def run_ruby(script, files: {})
    Dir.mktmpdir("push-rails") do |dir|
      files.each do |path, text|
        FileUtils.mkdir_p(File.dirname(File.join(dir, path)))
        File.write(File.join(dir, path), text)
      end
      out, err, status = Open3.capture3({ "PUSH_URL" => nil, "PUSH_PUBLIC_URL" => nil, "PUSH_SECRET" => nil },
                                        *ruby_command("-rjson", "-e", script), chdir: dir)
      assert status.success?, "the Rails child failed:\n#{err}\n#{out}"
      JSON.parse(out.lines.last)
    end
  end

  APP = <<~RUBY
    require "action_controller/railtie"
    require "push"
    class TestApp < Rails::Application
      config.root = Dir.pwd
      config.eager_load = false
      config.logger = Logger.new(nil)
      config.secret_key_base = "x" * 64
    end
  RUBY

  VIEWS = {
    "app/views/items/_item.html.erb" => %(<li id="item_<%= id %>"><%= name %><%= try(:suffix) %></li>),
    "app/views/pages/show.html.erb" =>
      %(<%= push_turbo_stream_from "/rooms/1", token: false, consumer: "a&b" %>|<div <%= push_sse_attributes "/rooms/1", token: false %>>)
  }.freeze

  def test_no_railtie_without_rails
    # Not `defined?(Rails)`: railties' minitest plugin defines Rails::TestUnitReporter in this
    # very process. The Railtie is loaded on Rails::Railtie, which only Rails itself defines.
    refute defined?(::Rails::Railtie), "this process has Rails loaded; the checks below mean nothing"
    refute defined?(Push::Railtie)
    refute defined?(Push::ViewHelpers)
    refute("".respond_to?(:html_safe))
  end

  def test_railtie_helpers_and_renderer
    result = run_ruby(<<~RUBY, files: VIEWS)
      #{APP}
      TestApp.initialize!
      out = {}
      out["railtie"] = Push::Railtie.superclass.name
      out["view_helpers"] = ActionView::Base.include?(Push::ViewHelpers)
      out["renderer"] = Push::Turbo.renderer.equal?(Push::Railtie::RENDERER)
      tag = Push::Turbo.stream_source_tag("/rooms/1", token: false)
      attributes = Push::Htmx.sse_attributes("/rooms/1", token: false)
      out["safe"] = [tag.html_safe?, attributes.html_safe?, Push::Turbo.stream(:refresh).html_safe?]
      # A real view: the helpers' output is not escaped again.
      out["view"] = ActionController::Base.render(template: "pages/show", layout: false)
      # No ApplicationController: ActionController::Base renders the partial.
      out["base"] = Push::Turbo.stream(:append, target: "items", partial: "items/item", locals: { id: 1, name: "<x>" })
      # With one, it does (its helpers are available to the partial).
      class ApplicationController < ActionController::Base
        helper_method def suffix = "!"
      end
      out["app"] = Push::Turbo.stream(:replace, target: "item_1", partial: "items/item", locals: { id: 1, name: "y" }, method: :morph)
      puts JSON.generate(out)
    RUBY
    assert_equal "Rails::Railtie", result["railtie"]
    assert result["view_helpers"]
    assert result["renderer"]
    assert_equal [true, true, false], result["safe"]
    assert_equal '<turbo-stream-source src="http://127.0.0.1:4000/rooms/1?gap=turbo-refresh&amp;consumer=a%26b"></turbo-stream-source>|' \
                 '<div hx-ext="sse" sse-connect="http://127.0.0.1:4000/rooms/1">', result["view"]
    assert_equal '<turbo-stream action="append" target="items"><template><li id="item_1">&lt;x&gt;</li></template></turbo-stream>', result["base"]
    assert_equal '<turbo-stream action="replace" target="item_1" method="morph"><template><li id="item_1">y!</li></template></turbo-stream>',
                 result["app"]
  end

  # Broadcasts with partial: and locals: publish the rendered partial (read back from a real server).
  def test_broadcast_partial_through_a_server
    server = PushServer.shared
    result = run_ruby(<<~RUBY, files: VIEWS)
      #{APP}
      TestApp.initialize!
      producer = Push::Producer.new(#{server.url.inspect})
      ids = [
        Push::Turbo.broadcast_append_to("/rails/items", target: "items", partial: "items/item", locals: { id: 7, name: "A & B" }, producer: producer),
        Push::Turbo.broadcast(:update, to: "/rails/items", target: "item_7", partial: "items/item", locals: { id: 7, name: "C" }, producer: producer)
      ]
      puts JSON.generate(ids)
    RUBY
    messages = Push::Producer.new(server.url).channel("/rails/items").history.messages.last(2)
    assert_equal result, messages.map(&:id)
    assert_equal ['<turbo-stream action="append" target="items"><template><li id="item_7">A &amp; B</li></template></turbo-stream>',
                  '<turbo-stream action="update" target="item_7"><template><li id="item_7">C</li></template></turbo-stream>'],
                 messages.map(&:data)
    assert_equal ["text/vnd.turbo-stream.html"] * 2, messages.map(&:content_type)
  end

  def test_an_apps_own_renderer_is_kept
    result = run_ruby(<<~RUBY)
      #{APP}
      Push::Turbo.renderer = ->(partial:, locals:) { "<b>\#{partial}</b>" }
      TestApp.initialize!
      puts JSON.generate([Push::Turbo.renderer.equal?(Push::Railtie::RENDERER), Push::Turbo.stream(:append, target: "t", partial: "p")])
    RUBY
    assert_equal [false, '<turbo-stream action="append" target="t"><template><b>p</b></template></turbo-stream>'], result
  end

  # Bundler.require runs after `require "rails/all"` in config/application.rb; push required
  # before Rails has no Railtie (and says nothing).
  def test_push_required_before_rails_has_no_railtie
    result = run_ruby(<<~RUBY)
      require "push"
      require "action_controller/railtie"
      puts JSON.generate([defined?(Push::Railtie).inspect, defined?(Push::ViewHelpers).inspect, Push::Turbo.renderer.inspect])
    RUBY
    assert_equal %w[nil nil nil], result
  end
end
