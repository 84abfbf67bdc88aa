# frozen_string_literal: true

require_relative "test_helper"
require "cgi"
require "open3"
require "uri"

# Every code block of the README's "Turbo Streams and htmx" section is run, or is an excerpt of
# an example that test_hotwire_examples.rb runs:
# - a ```ruby block runs in a child process against push-server --auth token started here
#   (PUSH_URL, PUSH_SECRET; PUSH_PUBLIC_URL=https://push.example.com, as the README says); a line
#   `# => '...'` (or "...") under an expression checks its value, "..." in it matching anything;
# - an ```erb block is rendered with ERB (PUSH_PUBLIC_URL unset: the URLs are the server's) and
#   every URL it puts in a page is opened as a browser would, and accepted;
# - a block under `<!-- excerpt: PATH -->` must appear, line for line, in that file (comment
#   markers and indentation aside).
class TestReadmeHotwire < Minitest::Test
  HERE = File.expand_path("..", __dir__)
  SECRET = "readme-s3cret"
  PUBLIC_URL = "https://push.example.com"

  Block = Struct.new(:lang, :code, :excerpt, :line)

  def self.blocks
    readme = File.read(File.join(HERE, "README.md"))
    start = readme.index("\n## Turbo Streams and htmx\n") or raise "README.md has no Turbo Streams and htmx section"
    finish = readme.index("\n## ", start + 1) || readme.size
    first_line = readme[0..start].count("\n") + 1
    section = readme[start...finish]
    blocks = []
    section.scan(/(?:<!-- excerpt: (\S+) -->\n)?```(\w+)\n(.*?)^```\n/m) do
      excerpt, lang, code = Regexp.last_match.captures
      blocks << Block.new(lang, code, excerpt, first_line + section[0...Regexp.last_match.begin(0)].count("\n"))
    end
    blocks
  end

  def server
    @server ||= PushServer.shared(auth: "token", secret: SECRET)
  end

  def child_env(public_url)
    { "PUSH_URL" => server.url, "PUSH_SECRET" => SECRET, "PUSH_PUBLIC_URL" => public_url, "PUSH_PUBLISH_KEY" => nil }
  end

  # The block's code with each `# => literal` line turned into a check of the line above it.
  def checked(code, line)
    out = []
    code.lines(chomp: true).each_with_index do |text, i|
      if (expected = text[/\A# => (["'].*)\z/, 1])
        expression = out.pop
        out << "__check((\n#{expression}\n), #{expected}, #{line + i})"
      else
        out << text
      end
    end
    out.join("\n")
  end

  CHECK = <<~RUBY
    require "push"
    def __check(value, expected, line)
      pattern = /\\A\#{expected.split("...", -1).map { |part| Regexp.escape(part) }.join(".*")}\\z/m
      return if value.is_a?(String) && pattern.match?(value)

      abort "README.md line \#{line - 1}: got \#{value.inspect}, expected \#{expected.inspect}"
    end
  RUBY

  def run_child(env, script)
    out, err, status = Open3.capture3(env, *ruby_command("-e", script), chdir: HERE)
    assert status.success?, "#{err}\n#{out}"
    out
  end

  # The HTTP status of an SSE subscription to +url+.
  def sse_status(url)
    uri = URI(url)
    Net::HTTP.start(uri.host, uri.port, read_timeout: 10) do |http|
      http.request(Net::HTTP::Get.new(uri.request_uri, "Accept" => "text/event-stream")) { |response| return response.code }
    end
  end

  def normalize(text)
    text.lines.map { |l| l.strip.sub(/\A#\s*/, "").split.join(" ") }.reject(&:empty?)
  end

  def test_the_section_has_blocks_of_each_kind
    blocks = self.class.blocks
    assert_operator blocks.count { |b| b.excerpt.nil? && b.lang == "ruby" }, :>=, 3
    assert_operator blocks.count { |b| b.excerpt.nil? && b.lang == "erb" }, :>=, 1
    assert_operator blocks.count(&:excerpt), :>=, 4
    blocks.each do |block|
      assert block.excerpt || %w[ruby erb].include?(block.lang), "README.md line #{block.line}: a ```#{block.lang} block neither run nor an excerpt"
    end
  end

  blocks.each do |block|
    if block.excerpt
      define_method("test_excerpt_line_#{block.line}") do
        file = File.read(File.join(HERE, block.excerpt))
        lines = normalize(block.code)
        haystack = normalize(file)
        found = (0..haystack.size - lines.size).any? { |i| haystack[i, lines.size] == lines }
        assert found, "README.md line #{block.line}: the block is not in #{block.excerpt}:\n#{block.code}"
      end
    elsif block.lang == "ruby"
      define_method("test_ruby_line_#{block.line}") do
        before = server.last_id
        run_child(child_env(PUBLIC_URL), CHECK + checked(block.code, block.line + 1))
        # What the block published is on the server, as Turbo Streams or htmx HTML.
        producer = Push::Producer.new(server.url)
        published = %w[/rooms/42 /lobby].flat_map { |channel| producer.channel(channel).history(after: before).messages }
        published.each { |m| assert_includes ["text/vnd.turbo-stream.html", "text/html; charset=utf-8"], m.content_type }
        publishes = block.code.scan(/^Push::(?:Turbo\.broadcast|Htmx\.publish)/).size
        assert_equal publishes, published.map(&:id).uniq.size, "README.md line #{block.line}: #{publishes} publishes"
      end
    elsif block.lang == "erb"
      define_method("test_erb_line_#{block.line}") do
        html = run_child(child_env(nil), %(require "erb"; require "push"; print ERB.new(#{block.code.dump}).result(binding)))
        refute_includes html, "<%"
        urls = html.scan(/(?:src|sse-connect)="([^"]*)"/).flatten.map { |url| CGI.unescapeHTML(url) }
        refute_empty urls, html
        urls.each do |url|
          assert url.start_with?("#{server.url}/"), url
          assert_equal "200", sse_status(url), url
        end
      end
    end
  end
end
