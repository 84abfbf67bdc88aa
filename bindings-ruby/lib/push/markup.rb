# frozen_string_literal: true

require "cgi"

module Push
  # HTML text for {Push::Turbo} and {Push::Htmx}: escaping, UTF-8 checks, and marking a String
  # safe for templates when ActiveSupport is loaded.
  # @api private
  module Markup
    module_function

    # +value+ escaped for an HTML attribute value or text: & < > " ' become &amp; &lt; &gt;
    # &quot; &#39; (what ERB::Util.h and Rails give).
    # @return [String]
    def escape(value)
      CGI.escapeHTML(value)
    end

    # +value+ as a UTF-8 String (the payload's charset), or ArgumentError naming +name+. A BINARY
    # String whose bytes are UTF-8 is taken as UTF-8; another encoding is converted.
    # @return [String]
    def utf8(value, name)
      string = String.try_convert(value) or raise ArgumentError, "#{name} must be a String, got #{value.class}"
      string = if string.encoding == Encoding::UTF_8 || string.encoding == Encoding::BINARY
                 string.dup.force_encoding(Encoding::UTF_8)
               else
                 string.encode(Encoding::UTF_8)
               end
      raise ArgumentError, "#{name} is not valid UTF-8 text" unless string.valid_encoding?

      string
    rescue EncodingError => e
      raise ArgumentError, "#{name} cannot be converted to UTF-8: #{e.message}"
    end

    # +html+ marked safe for templates (`html.html_safe`) when ActiveSupport is loaded, so ERB
    # does not escape it again; else +html+ as it is.
    def safe(html)
      html.respond_to?(:html_safe) ? html.html_safe : html
    end
  end
end
