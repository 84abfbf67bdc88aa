# frozen_string_literal: true

module Push
  # Turbo Streams (Hotwire) over push-rs: a page subscribes with Turbo's
  # `<turbo-stream-source>` element ({.stream_source_tag}), and your app publishes
  # `<turbo-stream>` actions to the channel ({.broadcast}, {.broadcast_append_to}, ...), which
  # Turbo applies to the page as they arrive. The browser's EventSource resumes after a
  # reconnect without losing a message; a gap (messages the server no longer holds) arrives as a
  # `refresh` action, so Turbo 8 reloads the page.
  #
  #   <%= Push::Turbo.stream_source_tag("/rooms/42") %>   # in the page (Rails: push_turbo_stream_from)
  #   Push::Turbo.broadcast_append_to("/rooms/42", target: "messages", html: "<li>hi</li>")
  #   Push::Turbo.broadcast_remove_to("/rooms/42", target: "message_7")
  #
  # In Rails (the push-rs Railtie), the broadcasts also take `partial:` and `locals:`, rendered
  # with ApplicationController.render, as turbo-rails' broadcast_append_to does.
  module Turbo
    # The content type of a Turbo Stream message.
    CONTENT_TYPE = "text/vnd.turbo-stream.html"
    # Every action, in Turbo's order.
    ACTIONS = %w[append prepend replace update remove before after refresh].freeze
    # The actions that insert content (a `<template>`): all but remove and refresh.
    CONTENT_ACTIONS = %w[append prepend replace update before after].freeze
    # The actions that take `method: "morph"` (Turbo 8).
    MORPH_ACTIONS = %w[replace update].freeze

    @renderer = nil

    class << self
      # What renders `partial:` and `locals:` into HTML for {.stream} and the broadcasts: a
      # callable taking the keywords `partial:` and `locals:` and returning a String. The
      # push-rs Railtie sets one (ApplicationController.render); in another framework set your
      # own, e.g. `Push::Turbo.renderer = ->(partial:, locals:) { Tilt.new("views/_#{partial}.erb").render(nil, locals) }`.
      # nil: `partial:` raises ArgumentError.
      # @return [#call, nil]
      attr_accessor :renderer

      # A `<turbo-stream>` fragment, the HTML Turbo applies:
      #
      #   Push::Turbo.stream(:append, target: "messages", html: "<li>hi</li>")
      #   # => '<turbo-stream action="append" target="messages"><template><li>hi</li></template></turbo-stream>'
      #   Push::Turbo.stream(:remove, targets: ".message.old")
      #   # => '<turbo-stream action="remove" targets=".message.old"></turbo-stream>'
      #   Push::Turbo.stream(:refresh)  # => '<turbo-stream action="refresh"></turbo-stream>'
      #
      # @param action [String, Symbol] one of {ACTIONS}: append, prepend, replace, update,
      #   remove, before, after, refresh.
      # @param target [String, Symbol, nil] the id of the element the action applies to.
      # @param targets [String, nil] a CSS selector of the elements it applies to. Exactly one of
      #   +target+ and +targets+, for every action but refresh, which takes neither.
      # @param html [String, nil] markup your app rendered, inserted verbatim inside `<template>`.
      # @param text [String, nil] plain text, HTML-escaped, inside `<template>`. The actions but
      #   remove and refresh need exactly one of +html+, +text+ and +partial+ (an empty String
      #   is fine); remove and refresh take none.
      # @param method [String, Symbol, nil] "morph" (Turbo 8), on replace and update only.
      # @param request_id [String, nil] the `request-id` of a refresh (Turbo skips a refresh
      #   caused by its own request), on refresh only.
      # @param partial [String, nil] rendered by {.renderer} with +locals+ into the content (Rails).
      # @param locals [Hash, nil] the partial's locals.
      # @return [String] the fragment, UTF-8. Attribute values are HTML-escaped (& < > " ').
      # @raise [ArgumentError] for an unknown action, a missing or extra target, content,
      #   method or request id (the message says what the action takes), an empty target, or
      #   content that is not UTF-8 text.
      def stream(action, target: nil, targets: nil, html: nil, text: nil, method: nil, request_id: nil, partial: nil, locals: nil)
        action = action(action)
        attributes = [["action", action]]
        attributes << target_attribute(action, target, targets)
        attributes << ["method", morph(action, method)] unless method.nil?
        attributes << ["request-id", request_id(action, request_id)] unless request_id.nil?
        content = content(action, html, text, partial, locals)

        fragment = +"<turbo-stream"
        attributes.compact.each { |name, value| fragment << " #{name}=\"#{Markup.escape(value)}\"" }
        fragment << ">"
        fragment << "<template>" << content << "</template>" unless content.nil?
        fragment << "</turbo-stream>"
      end

      # Publishes a {.stream} fragment to the channel(s) +to+, with the content type
      # "text/vnd.turbo-stream.html", through +producer+ (nil: {Push.producer}). Every
      # `<turbo-stream-source>` of the channel applies it.
      #
      #   Push::Turbo.broadcast(:replace, to: "/rooms/42", target: "message_7", html: html, method: :morph)
      #
      # @param to [String, Push::Channel, Array<String, Push::Channel>] the channel, or an Array
      #   of channels (one message, one id, on each).
      # @param producer [Push::Producer, nil] nil: {Push.producer}.
      # @param idempotency_key [String, nil] see {Push::Producer#publish}.
      # @return [String] the message's id.
      # @raise [ArgumentError] for what {.stream} refuses.
      # @raise [Push::Error] what a publish raises: InvalidChannelError, UnauthorizedError, ...
      # @see .stream the other keywords
      def broadcast(action, to:, target: nil, targets: nil, html: nil, text: nil, method: nil, request_id: nil,
                    partial: nil, locals: nil, producer: nil, idempotency_key: nil)
        fragment = stream(action, target: target, targets: targets, html: html, text: text, method: method,
                                  request_id: request_id, partial: partial, locals: locals)
        (producer || Push.producer).publish(fragment, content_type: CONTENT_TYPE, idempotency_key: idempotency_key).to(to)
      end

      # Publishes an `append` action: +html+, +text+ or +partial+ added at the end of the
      # element +target+ (an id) or of each of +targets+ (a CSS selector). See {.broadcast}.
      # @return [String] the message's id.
      def broadcast_append_to(to, target: nil, targets: nil, html: nil, text: nil, partial: nil, locals: nil,
                              producer: nil, idempotency_key: nil)
        broadcast("append", to: to, target: target, targets: targets, html: html, text: text, partial: partial,
                            locals: locals, producer: producer, idempotency_key: idempotency_key)
      end

      # Publishes a `prepend` action: the content added at the start of the target(s). See {.broadcast}.
      # @return [String] the message's id.
      def broadcast_prepend_to(to, target: nil, targets: nil, html: nil, text: nil, partial: nil, locals: nil,
                               producer: nil, idempotency_key: nil)
        broadcast("prepend", to: to, target: target, targets: targets, html: html, text: text, partial: partial,
                             locals: locals, producer: producer, idempotency_key: idempotency_key)
      end

      # Publishes a `replace` action: the target(s) replaced by the content (`method: "morph"`:
      # morphed into it). See {.broadcast}.
      # @return [String] the message's id.
      def broadcast_replace_to(to, target: nil, targets: nil, html: nil, text: nil, partial: nil, locals: nil,
                               method: nil, producer: nil, idempotency_key: nil)
        broadcast("replace", to: to, target: target, targets: targets, html: html, text: text, partial: partial,
                             locals: locals, method: method, producer: producer, idempotency_key: idempotency_key)
      end

      # Publishes an `update` action: the target(s)' content replaced by the content
      # (`method: "morph"`: morphed into it). See {.broadcast}.
      # @return [String] the message's id.
      def broadcast_update_to(to, target: nil, targets: nil, html: nil, text: nil, partial: nil, locals: nil,
                              method: nil, producer: nil, idempotency_key: nil)
        broadcast("update", to: to, target: target, targets: targets, html: html, text: text, partial: partial,
                            locals: locals, method: method, producer: producer, idempotency_key: idempotency_key)
      end

      # Publishes a `remove` action: the target(s) removed. See {.broadcast}.
      # @return [String] the message's id.
      def broadcast_remove_to(to, target: nil, targets: nil, producer: nil, idempotency_key: nil)
        broadcast("remove", to: to, target: target, targets: targets, producer: producer, idempotency_key: idempotency_key)
      end

      # Publishes a `before` action: the content inserted before the target(s). See {.broadcast}.
      # @return [String] the message's id.
      def broadcast_before_to(to, target: nil, targets: nil, html: nil, text: nil, partial: nil, locals: nil,
                              producer: nil, idempotency_key: nil)
        broadcast("before", to: to, target: target, targets: targets, html: html, text: text, partial: partial,
                            locals: locals, producer: producer, idempotency_key: idempotency_key)
      end

      # Publishes an `after` action: the content inserted after the target(s). See {.broadcast}.
      # @return [String] the message's id.
      def broadcast_after_to(to, target: nil, targets: nil, html: nil, text: nil, partial: nil, locals: nil,
                             producer: nil, idempotency_key: nil)
        broadcast("after", to: to, target: target, targets: targets, html: html, text: text, partial: partial,
                           locals: locals, producer: producer, idempotency_key: idempotency_key)
      end

      # Publishes a `refresh` action: Turbo 8 reloads the page (morphing it, with
      # `<meta name="turbo-refresh-method" content="morph">`). +request_id+: the `request-id`
      # of the request that caused it (Turbo skips the refresh in the tab that made it).
      # See {.broadcast}.
      # @return [String] the message's id.
      def broadcast_refresh_to(to, request_id: nil, producer: nil, idempotency_key: nil)
        broadcast("refresh", to: to, request_id: request_id, producer: producer, idempotency_key: idempotency_key)
      end

      # The `<turbo-stream-source>` element that subscribes a page to +channel+: Turbo connects
      # an EventSource to {Push.subscribe_url} (with `gap: "turbo-refresh"`, so a gap reloads
      # the page) and applies every Turbo Stream published to the channel.
      #
      #   Push::Turbo.stream_source_tag("/rooms/42", consumer: current_user.id.to_s)
      #   # => '<turbo-stream-source src="http://127.0.0.1:4000/rooms/42?gap=turbo-refresh&amp;consumer=7&amp;token=push1...."></turbo-stream-source>'
      #
      # @param channel [String, Push::Channel]
      # @param options the keywords of {Push.subscribe_url} (consumer:, expires_in:, token:,
      #   secret:, url:; gap: defaults to "turbo-refresh").
      # @return [String] the element, marked html_safe when ActiveSupport is loaded.
      # @raise what {Push.subscribe_url} raises.
      def stream_source_tag(channel, gap: "turbo-refresh", **options)
        src = Push.subscribe_url(channel, gap: gap, **options)
        Markup.safe(%(<turbo-stream-source src="#{Markup.escape(src)}"></turbo-stream-source>))
      end

      private

      def action(action)
        name = action.is_a?(Symbol) ? action.to_s : action
        return name if name.is_a?(String) && ACTIONS.include?(name)

        raise ArgumentError, "unknown Turbo Stream action #{action.inspect}: one of #{ACTIONS.join(', ')}"
      end

      # ["target", id] or ["targets", selector]; nil for refresh.
      def target_attribute(action, target, targets)
        if action == "refresh"
          return nil if target.nil? && targets.nil?

          raise ArgumentError, "the refresh action takes no target: or targets: (it refreshes the whole page)"
        end
        unless target.nil? ^ targets.nil?
          raise ArgumentError, "the #{action} action needs exactly one of target: (an element id) or targets: (a CSS selector)" \
                               "#{', not both' unless target.nil?}"
        end
        name, value = target.nil? ? ["targets", targets] : ["target", target]
        value = value.to_s if value.is_a?(Symbol)
        raise ArgumentError, "#{name}: must be a String, got #{value.class}" unless value.is_a?(String)
        raise ArgumentError, "#{name}: must not be empty" if value.empty?

        [name, Markup.utf8(value, "#{name}:")]
      end

      def morph(action, method)
        unless MORPH_ACTIONS.include?(action)
          raise ArgumentError, "method: is for the replace and update actions (Turbo 8's morph), not #{action}"
        end
        return "morph" if method.to_s == "morph" && (method.is_a?(String) || method.is_a?(Symbol))

        raise ArgumentError, "method: must be \"morph\" (or nil), got #{method.inspect}"
      end

      def request_id(action, request_id)
        raise ArgumentError, "request_id: is for the refresh action only, not #{action}" unless action == "refresh"
        raise ArgumentError, "request_id: must be a String, got #{request_id.class}" unless request_id.is_a?(String)
        raise ArgumentError, "request_id: must not be empty" if request_id.empty?

        Markup.utf8(request_id, "request_id:")
      end

      # The `<template>`'s content (nil for remove and refresh).
      def content(action, html, text, partial, locals)
        given = { "html:" => html, "text:" => text, "partial:" => partial }.reject { |_, value| value.nil? }
        raise ArgumentError, "locals: goes with partial:" if !locals.nil? && partial.nil?

        unless CONTENT_ACTIONS.include?(action)
          return nil if given.empty?

          raise ArgumentError, "the #{action} action takes no content (#{given.keys.join(', ')})"
        end
        if given.size != 1
          raise ArgumentError, "the #{action} action needs exactly one of html: (markup, inserted as it is), text: " \
                               "(escaped) or partial: (rendered)#{", not #{given.keys.join(' and ')}" if given.size > 1}"
        end
        return Markup.utf8(html, "html:") unless html.nil?
        return Markup.escape(Markup.utf8(text, "text:")) unless text.nil?

        render(partial, locals)
      end

      def render(partial, locals)
        if renderer.nil?
          raise ArgumentError, "partial: needs Push::Turbo.renderer: in Rails the push-rs Railtie sets it (require \"push\" " \
                               "after Rails); elsewhere set Push::Turbo.renderer = ->(partial:, locals:) { ... }, or pass html:"
        end
        partial = partial.to_s if partial.is_a?(Symbol)
        raise ArgumentError, "partial: must be a String, got #{partial.class}" unless partial.is_a?(String)
        raise ArgumentError, "locals: must be a Hash, got #{locals.class}" unless locals.nil? || locals.is_a?(Hash)

        Markup.utf8(renderer.call(partial: partial, locals: locals || {}), "the rendered partial #{partial.inspect}")
      end
    end
  end
end
