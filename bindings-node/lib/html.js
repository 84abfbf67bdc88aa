'use strict'
// HTML escaping for the fragments and tags the helpers render: the five characters that can end
// a text run or an attribute value (& < > " '), as Rails' ERB::Util.html_escape writes them.

const ENTITIES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' }

/** `text` with & < > " ' replaced by entities: safe as element text and as a quoted attribute value. */
function escapeHtml(text) {
  return String(text).replace(/[&<>"']/g, (ch) => ENTITIES[ch])
}

module.exports = { escapeHtml }
