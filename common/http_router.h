// The request/response values and the route table behind HttpServer
// (common/http_server.h). Kept apart from the server so handlers and their
// tests need neither sockets nor Poco.
//
// Thread-safety: HttpRequest and HttpResponse are thread-compatible values.
// Router is thread-compatible: build it on one thread, then hand it to
// HttpServer::Start(), after which it is immutable and Match() runs on many
// worker threads at once.
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace baton {

// Orders header names ignoring ASCII case (HTTP field names are
// case-insensitive).
struct CaseInsensitiveLess {
  using is_transparent = void;
  bool operator()(std::string_view a, std::string_view b) const;
};

struct HttpRequest {
  std::string method;  // "GET", "PUT", ... as sent (upper case by convention)
  std::string path;    // percent-decoded, without the query
  std::map<std::string, std::string> path_params;   // {name} in the route -> decoded segment
  std::map<std::string, std::string> query_params;  // decoded; a repeated key keeps its first value
  std::map<std::string, std::string, CaseInsensitiveLess> headers;  // repeated fields joined by ", "
  std::string body;

  // The header's value, or "" when absent. Name is case-insensitive.
  const std::string& Header(std::string_view name) const;
  // The path parameter or query parameter, or "" when absent.
  const std::string& PathParam(std::string_view name) const;
  const std::string& Query(std::string_view name) const;

  // True if the Authorization header is "Bearer <token>" (scheme
  // case-insensitive), compared in constant time.
  bool HasBearerToken(std::string_view token) const;

  // The body parsed as JSON. INVALID_ARGUMENT "request body is empty..." or
  // "malformed JSON at byte N: <reason>".
  Result<nlohmann::json> JsonBody() const;
};

struct HttpResponse {
  int status = 200;
  std::string content_type = "text/plain; charset=utf-8";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;  // besides Content-Type/Length

  static HttpResponse Json(int status, const nlohmann::json& body);
  static HttpResponse Text(int status, std::string body);
  // {"error": {"code": "NOT_FOUND", "message": "..."}} with the HTTP status
  // HttpStatusFor(status.code()). An OK status is a caller bug: 500.
  static HttpResponse Error(const Status& status);
  // The same body with an explicit HTTP status, for the cases where the code
  // alone is ambiguous (RESOURCE_EXHAUSTED for a body over the limit -> 413).
  static HttpResponse Error(int http_status, const Status& status);
};

// INVALID_ARGUMENT 400, UNAUTHENTICATED 401, PERMISSION_DENIED 403,
// NOT_FOUND 404, ALREADY_EXISTS/ABORTED 409, FAILED_PRECONDITION 412,
// RESOURCE_EXHAUSTED 429, UNIMPLEMENTED 501, UNAVAILABLE 503,
// DEADLINE_EXCEEDED 504, anything else 500.
int HttpStatusFor(StatusCode code);

// Handlers run on server worker threads, possibly many at once; they must be
// thread-safe, should not block for long (Stop() waits for them), and report
// failure through HttpResponse::Error rather than by throwing (a throw is
// caught, logged and answered with 500, but it is still a bug).
using HttpHandler = std::function<HttpResponse(const HttpRequest&)>;

// Maps (method, path pattern) to handlers. Patterns are absolute paths whose
// segments are literals or "{name}" parameters that match one non-empty
// segment: "/v1/clusters/{cluster}/config". Matching is exact per segment (no
// prefixes, no trailing-slash folding). When several patterns match a path,
// the one with a literal at the first differing segment wins.
//
// Registration errors (bad pattern, duplicate route) are kept and reported by
// status() — HttpServer::Start() fails with them — so calls can be chained.
class Router {
 public:
  Router& Get(std::string_view pattern, HttpHandler handler) { return Handle("GET", pattern, std::move(handler)); }
  Router& Put(std::string_view pattern, HttpHandler handler) { return Handle("PUT", pattern, std::move(handler)); }
  Router& Post(std::string_view pattern, HttpHandler handler) { return Handle("POST", pattern, std::move(handler)); }
  Router& Delete(std::string_view pattern, HttpHandler handler) { return Handle("DELETE", pattern, std::move(handler)); }
  Router& Patch(std::string_view pattern, HttpHandler handler) { return Handle("PATCH", pattern, std::move(handler)); }
  Router& Handle(std::string_view method, std::string_view pattern, HttpHandler handler);

  // OK, or INVALID_ARGUMENT naming the first bad registration.
  const Status& status() const { return status_; }

  // Distinct patterns, sorted (for per-route metrics).
  std::vector<std::string> patterns() const;

  struct Match {
    enum class Kind { kFound, kNotFound, kMethodNotAllowed };
    Kind kind = Kind::kNotFound;
    const HttpHandler* handler = nullptr;  // kFound only; points into the Router
    std::string pattern;                   // the matched route ("" when kNotFound)
    std::map<std::string, std::string> path_params;
    std::vector<std::string> allowed_methods;  // kMethodNotAllowed: sorted, for Allow
  };
  // `raw_path` is the request path as sent (percent-encoded, no query); each
  // segment is decoded after splitting, so "%2F" stays inside its segment.
  // INVALID_ARGUMENT on bad percent-encoding.
  Result<Match> Find(std::string_view method, std::string_view raw_path) const;

 private:
  struct Route {
    std::string method;
    std::string pattern;
    std::vector<std::string> segments;  // "{name}" kept verbatim for parameters
    HttpHandler handler;
  };
  std::vector<Route> routes_;
  Status status_;
};

// "a=1&b=x+y&c" -> {a: "1", b: "x y", c: ""}, decoded; a repeated key keeps
// its first value. INVALID_ARGUMENT on bad percent-encoding.
Result<std::map<std::string, std::string>> ParseQuery(std::string_view raw_query);

// Decodes %XX escapes; INVALID_ARGUMENT on a truncated or non-hex escape.
// `plus_is_space` for query strings (application/x-www-form-urlencoded).
Result<std::string> PercentDecode(std::string_view in, bool plus_is_space);

}  // namespace baton
