# frozen_string_literal: true

module Push
  # View helpers of the push-rs Railtie, in every Rails view:
  #
  #   <%= push_turbo_stream_from "/rooms/#{@room.id}" %>
  #   <div <%= push_sse_attributes "/rooms/#{@room.id}" %>> ... </div>
  module ViewHelpers
    # The `<turbo-stream-source>` tag subscribing the page to +channel+ (html_safe), like
    # turbo-rails' turbo_stream_from; see {Push::Turbo.stream_source_tag}.
    # @param options the keywords of {Push.subscribe_url} (consumer:, expires_in:, token:, secret:, url:).
    # @return [ActiveSupport::SafeBuffer]
    def push_turbo_stream_from(channel, **options)
      Push::Turbo.stream_source_tag(channel, **options)
    end

    # The `hx-ext="sse" sse-connect="..."` attributes (html_safe); see {Push::Htmx.sse_attributes}.
    # @param options the keywords of {Push.subscribe_url}.
    # @return [ActiveSupport::SafeBuffer]
    def push_sse_attributes(channel, **options)
      Push::Htmx.sse_attributes(channel, **options)
    end
  end

  # Loaded by `require "push"` when Rails is (`Rails::Railtie` defined; Bundler.require in
  # config/application.rb does it in that order). It adds {Push::ViewHelpers} to Action View and
  # makes {Push::Turbo}'s broadcasts take `partial:` and `locals:`, rendered with
  # `ApplicationController.render(partial:, locals:, formats: [:html])` (a job or a model
  # callback renders outside any request, as turbo-rails' broadcasts do).
  class Railtie < ::Rails::Railtie
    # The {Push::Turbo.renderer} this Railtie sets (unless the app set one).
    RENDERER = lambda do |partial:, locals:|
      controller = defined?(::ApplicationController) ? ::ApplicationController : ::ActionController::Base
      controller.render(partial: partial, locals: locals, formats: [:html])
    end

    initializer "push.view_helpers" do
      ActiveSupport.on_load(:action_view) { include Push::ViewHelpers }
    end

    initializer "push.turbo_renderer" do
      Push::Turbo.renderer ||= RENDERER
    end
  end
end
