# frozen_string_literal: true

module Push
  # push-server inside this Ruby process, for tests and development:
  #
  #   Push::Server.start(publish_key: "s3cret") do |server|
  #     Push::Producer.new(server.url, publish_key: "s3cret").publish("hi").to("/greetings")
  #   end
  #
  # It is the same server as the `push-server` command (the gem's executable runs
  # {Push::Server.cli}), compiled into the gem's native extension, serving on its own native
  # threads: no Ruby thread is used, and the GVL is released while it starts and stops.
  #
  # The native methods (`url`, `port`, `running?`, `stop`, and the private `_start` and `_cli`)
  # are defined by the extension (push/push_ext).
  class Server
    class << self
      # Starts a server and returns once it accepts connections.
      #
      # @param options keyword arguments named like the `push-server` flags, in snake_case
      #   (`publish_key: "k"` is `--publish-key k`; camelCase works too). Values: true/false for
      #   switches (false leaves it off), a String, Symbol, Integer or Float for values
      #   (durations as text: `long_poll_timeout: "5s"`), an Array for lists
      #   (`cors_origins: [...]`); nil is skipped. `PUSH_*` environment variables apply as for the
      #   command. The default `bind` is "127.0.0.1:0": a free port (see {#port}).
      # @yieldparam server [Push::Server] stopped when the block ends (also on an exception).
      # @return [Push::Server] without a block; with one, the block's value.
      # @raise [Push::InvalidConfigError] for an unknown option, a bad value, or an address that
      #   cannot be bound (e.g. a taken port).
      # @raise [Push::ConnectionFailedError] if the broker (`broker: "amqp://..."`) cannot be reached.
      # @raise [TypeError] for a value of another type.
      def start(**options)
        server = _start(options.filter_map { |name, value| option(name, value) })
        return server unless block_given?

        begin
          yield server
        ensure
          server.stop
        end
      end

      # Runs the `push-server` command line, as the gem's `push-server` executable does, and
      # returns its exit code (0 done, 1 failed at run time, 2 bad flags). It blocks until the
      # command is done; for the server itself, until SIGINT or SIGTERM, which stop it
      # gracefully. Meant for a process that is the command: SIGINT and SIGTERM get their
      # default actions back (Ruby's Interrupt and SignalException handlers would not run).
      #
      #   exit Push::Server.cli(["--bind", "127.0.0.1:4000"])
      #
      # @param argv [Array<String>] the arguments, without the program name.
      # @return [Integer]
      def cli(argv = ARGV)
        args = argv.map { |arg| String(arg) }
        $stdout.flush
        $stderr.flush
        # The Cargo binary's dispositions: the server catches them itself, the subcommands end.
        Signal.trap("INT", "SYSTEM_DEFAULT")
        Signal.trap("TERM", "SYSTEM_DEFAULT")
        _cli(args)
      end

      private :new, :_start, :_cli

      private

      # [name, true/false/String/Array<String>] for the extension, or nil to skip.
      def option(name, value)
        case value
        when nil then nil
        when true, false then [name.to_s, value]
        when Array then [name.to_s, value.map { |item| text(name, item) }]
        else [name.to_s, text(name, value)]
        end
      end

      def text(name, value)
        case value
        when String then value
        when Symbol, Integer, Float then value.to_s
        else
          # Paths (Pathname, File) for data_dir:, tls_cert: and the like.
          return value.to_path if value.respond_to?(:to_path)

          raise TypeError, "server option #{name}: expected true, false, a String, Symbol, number, path or " \
                           "Array of them, got #{value.inspect}"
        end
      end
    end

    # @!method url
    #   @return [String] "http://127.0.0.1:PORT", for producers and subscribers.
    # @!method port
    #   @return [Integer] the port it listens on (the free one picked for port 0).
    # @!method running?
    #   @return [Boolean] false once stopped (or while stopping).
    # @!method stop
    #   Stops taking connections, ends open streams (long-polls, SSE, WebSockets), waits for
    #   requests in flight (up to `shutdown_timeout`) and returns when the server's threads
    #   are gone. Idempotent. Without a call, the server runs until the process exits.
    #   @return [nil]

    def inspect
      "#<#{self.class} #{url} #{running? ? 'running' : 'stopped'}>"
    end
  end
end
