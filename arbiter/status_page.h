// The arbiter's status page (GET /, docs/operator-api.md): one self-contained
// HTML document (inline CSS and script, no external assets) that polls
// /v1/status and /v1/events?limit=50 every second and renders the leader,
// one table per cluster (id "cluster-<name>", a row per instance) and the
// recent events. Every string from the API reaches the DOM through
// textContent or attributes, never as markup.
//
// Thread-safety: returns a view of a static constant; call from any thread.
#pragma once

#include <string_view>

namespace baton::arbiter {

// The whole document, to serve as "text/html; charset=utf-8".
std::string_view StatusPageHtml();

}  // namespace baton::arbiter
