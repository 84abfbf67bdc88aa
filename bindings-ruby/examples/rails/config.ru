# frozen_string_literal: true

# A minimal Rails app (no database) with Turbo Streams and htmx over push-rs, through the gem's
# Railtie: the views use push_turbo_stream_from / push_sse_attributes, and the controller
# broadcasts a partial with Push::Turbo.broadcast_append_to(..., partial:, locals:).
#
#   GET  /          the Turbo page        GET /htmx   the htmx page
#   POST /messages  (field "text") publishes the message to /chat for both pages
#
# Run it (Debian: apt-get install ruby-railties ruby-webrick; or gem install rails):
#
#   push-server --auth token --secret dev-secret &           # http://127.0.0.1:4000
#   PUSH_SECRET=dev-secret rackup -Ilib examples/rails/config.ru -p 3000
require "action_controller/railtie"
require "push" # after Rails: push-rs loads its Railtie

class ChatApp < Rails::Application
  config.load_defaults Rails::VERSION::STRING.to_f
  config.root = __dir__
  config.eager_load = false
  config.consider_all_requests_local = true
  config.logger = Logger.new($stderr)
  config.log_level = :warn
  config.secret_key_base = ENV.fetch("SECRET_KEY_BASE") { SecureRandom.hex(32) }
  config.hosts.clear # any Host header (an example; list yours in an app)

  routes.append do
    root "messages#index"
    get "/htmx" => "messages#htmx"
    post "/messages" => "messages#create"
  end
end

# The chat's messages, in memory (the newest 50).
Message = Struct.new(:id, :text) do
  @all = []
  @lock = Mutex.new

  def self.all
    @lock.synchronize { @all.dup }
  end

  def self.create(text)
    @lock.synchronize { new(@all.size + 1, text).tap { |message| @all = [*@all, message].last(50) } }
  end
end

class ApplicationController < ActionController::Base
  # A subscriber token only when this app has the server's secret (push-server --auth token).
  helper_method def push_options
    { token: ENV["PUSH_SECRET"].present? }
  end
end

class MessagesController < ApplicationController
  CHANNEL = "/chat"

  def index
    @messages = Message.all
  end

  def htmx
    @messages = Message.all
  end

  def create
    text = params.require(:text).strip
    return head(:unprocessable_entity) if text.empty?

    message = Message.create(text)
    # Rendered with ApplicationController.render by the Railtie, as turbo-rails' broadcasts are.
    Push::Turbo.broadcast_append_to(CHANNEL, target: "messages", partial: "messages/message", locals: { message: message })
    Push::Htmx.publish(render_to_string(partial: "messages/message", locals: { message: message }), to: CHANNEL, event: "chat")

    if request.accept.to_s.include?(Push::Turbo::CONTENT_TYPE)
      # Turbo submitted the form: a Turbo Stream that puts an empty one back.
      form = render_to_string(partial: "messages/form")
      render plain: Push::Turbo.stream(:replace, target: "new_message", html: form), content_type: Push::Turbo::CONTENT_TYPE
    elsif request.headers["HX-Request"]
      head :no_content
    else
      redirect_to "/", status: :see_other
    end
  end
end

ChatApp.initialize!
run ChatApp
