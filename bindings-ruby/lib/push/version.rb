# frozen_string_literal: true

module Push
  # The gem's version; the native extension is built from the same release of push-rs.
  VERSION = "0.1.0"
end
