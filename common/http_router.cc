#include "common/http_router.h"

#include <algorithm>
#include <cctype>
#include <set>

namespace baton {
namespace {

const std::string kEmpty;

std::vector<std::string_view> SplitPath(std::string_view path) {
  // "/a/b" -> {"a", "b"}; "/" -> {""}; "/a/" -> {"a", ""}.
  std::vector<std::string_view> segments;
  path.remove_prefix(1);
  while (true) {
    size_t slash = path.find('/');
    segments.push_back(path.substr(0, slash));
    if (slash == std::string_view::npos) break;
    path.remove_prefix(slash + 1);
  }
  return segments;
}

bool IsParam(std::string_view segment) {
  return segment.size() >= 2 && segment.front() == '{' && segment.back() == '}';
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

// No early exit on the first differing byte, so response time does not tell
// an attacker how much of a guessed token was right.
bool ConstantTimeEquals(std::string_view a, std::string_view b) {
  size_t n = std::max(a.size(), b.size());
  unsigned char diff = a.size() == b.size() ? 0 : 1;
  for (size_t i = 0; i < n; ++i) {
    unsigned char x = i < a.size() ? static_cast<unsigned char>(a[i]) : 0;
    unsigned char y = i < b.size() ? static_cast<unsigned char>(b[i]) : 0;
    diff |= x ^ y;
  }
  return diff == 0;
}

}  // namespace

bool CaseInsensitiveLess::operator()(std::string_view a, std::string_view b) const {
  return std::lexicographical_compare(a.begin(), a.end(), b.begin(), b.end(), [](char x, char y) {
    return std::tolower(static_cast<unsigned char>(x)) < std::tolower(static_cast<unsigned char>(y));
  });
}

Result<std::string> PercentDecode(std::string_view in, bool plus_is_space) {
  std::string out;
  out.reserve(in.size());
  for (size_t i = 0; i < in.size(); ++i) {
    char c = in[i];
    if (c == '+' && plus_is_space) {
      out.push_back(' ');
    } else if (c != '%') {
      out.push_back(c);
    } else {
      int hi = i + 2 < in.size() ? HexValue(in[i + 1]) : -1;
      int lo = i + 2 < in.size() ? HexValue(in[i + 2]) : -1;
      if (hi < 0 || lo < 0) {
        return Status::InvalidArgument("bad percent-encoding at offset " + std::to_string(i) +
                                       " in '" + std::string(in) + "'");
      }
      out.push_back(static_cast<char>(hi * 16 + lo));
      i += 2;
    }
  }
  return out;
}

Result<std::map<std::string, std::string>> ParseQuery(std::string_view raw_query) {
  std::map<std::string, std::string> params;
  while (!raw_query.empty()) {
    std::string_view pair = raw_query.substr(0, raw_query.find('&'));
    raw_query.remove_prefix(std::min(raw_query.size(), pair.size() + 1));
    if (pair.empty()) continue;
    size_t eq = pair.find('=');
    Result<std::string> key = PercentDecode(pair.substr(0, eq), /*plus_is_space=*/true);
    if (!key.ok()) return key.status().WithContext("query");
    Result<std::string> value =
        PercentDecode(eq == std::string_view::npos ? "" : pair.substr(eq + 1), /*plus_is_space=*/true);
    if (!value.ok()) return value.status().WithContext("query");
    params.emplace(std::move(*key), std::move(*value));  // the first one wins
  }
  return params;
}

// --- HttpRequest ---

const std::string& HttpRequest::Header(std::string_view name) const {
  auto it = headers.find(name);
  return it == headers.end() ? kEmpty : it->second;
}

const std::string& HttpRequest::PathParam(std::string_view name) const {
  auto it = path_params.find(std::string(name));
  return it == path_params.end() ? kEmpty : it->second;
}

const std::string& HttpRequest::Query(std::string_view name) const {
  auto it = query_params.find(std::string(name));
  return it == query_params.end() ? kEmpty : it->second;
}

bool HttpRequest::HasBearerToken(std::string_view token) const {
  const std::string& header = Header("Authorization");
  constexpr std::string_view kScheme = "bearer ";
  if (header.size() < kScheme.size() ||
      !std::equal(kScheme.begin(), kScheme.end(), header.begin(),
                  [](char s, char h) { return s == std::tolower(static_cast<unsigned char>(h)); })) {
    return false;
  }
  return ConstantTimeEquals(std::string_view(header).substr(kScheme.size()), token);
}

Result<nlohmann::json> HttpRequest::JsonBody() const {
  if (body.find_first_not_of(" \t\r\n") == std::string::npos) {
    return Status::InvalidArgument("request body is empty; expected JSON");
  }
  try {
    return nlohmann::json::parse(body);
  } catch (const nlohmann::json::parse_error& e) {
    // what() is "[json.exception.parse_error.101] parse error at line 1,
    // column 9: syntax error while parsing ..."; keep the part after the
    // position, which e.byte already gives.
    std::string reason = e.what();
    size_t at = reason.find("parse error");
    size_t colon = at == std::string::npos ? at : reason.find(": ", at);
    if (colon != std::string::npos) reason = reason.substr(colon + 2);
    return Status::InvalidArgument("malformed JSON at byte " + std::to_string(e.byte) + ": " + reason);
  } catch (const nlohmann::json::exception& e) {  // e.g. number out of range
    return Status::InvalidArgument(std::string("malformed JSON: ") + e.what());
  }
}

// --- HttpResponse ---

HttpResponse HttpResponse::Json(int status, const nlohmann::json& body) {
  HttpResponse response;
  response.status = status;
  response.content_type = "application/json";
  // Replace invalid UTF-8 (say, a client's path echoed in a message) rather
  // than throw from dump().
  response.body = body.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  response.body.push_back('\n');
  return response;
}

HttpResponse HttpResponse::Text(int status, std::string body) {
  HttpResponse response;
  response.status = status;
  response.body = std::move(body);
  return response;
}

HttpResponse HttpResponse::Error(const Status& status) { return Error(HttpStatusFor(status.code()), status); }

HttpResponse HttpResponse::Error(int http_status, const Status& status) {
  if (status.ok()) {
    return Error(500, Status::Internal("HttpResponse::Error called with an OK status"));
  }
  return Json(http_status, {{"error", {{"code", StatusCodeName(status.code())}, {"message", status.message()}}}});
}

int HttpStatusFor(StatusCode code) {
  switch (code) {
    case StatusCode::kOk: return 200;
    case StatusCode::kInvalidArgument: return 400;
    case StatusCode::kUnauthenticated: return 401;
    case StatusCode::kPermissionDenied: return 403;
    case StatusCode::kNotFound: return 404;
    case StatusCode::kAlreadyExists: return 409;
    case StatusCode::kAborted: return 409;
    case StatusCode::kFailedPrecondition: return 412;
    case StatusCode::kResourceExhausted: return 429;
    case StatusCode::kUnimplemented: return 501;
    case StatusCode::kUnavailable: return 503;
    case StatusCode::kDeadlineExceeded: return 504;
    default: return 500;
  }
}

// --- Router ---

Router& Router::Handle(std::string_view method, std::string_view pattern, HttpHandler handler) {
  if (!status_.ok()) return *this;
  std::string where = std::string(method) + " " + std::string(pattern);
  if (method.empty() || !std::all_of(method.begin(), method.end(), [](char c) { return c >= 'A' && c <= 'Z'; })) {
    status_ = Status::InvalidArgument("route " + where + ": method must be upper-case letters");
    return *this;
  }
  if (pattern.empty() || pattern.front() != '/') {
    status_ = Status::InvalidArgument("route " + where + ": pattern must start with '/'");
    return *this;
  }
  if (!handler) {
    status_ = Status::InvalidArgument("route " + where + ": empty handler");
    return *this;
  }
  Route route{std::string(method), std::string(pattern), {}, std::move(handler)};
  std::set<std::string_view> params;
  for (std::string_view segment : SplitPath(pattern)) {
    bool has_brace = segment.find_first_of("{}") != std::string_view::npos;
    if (has_brace && (!IsParam(segment) || segment.size() == 2 ||
                      segment.substr(1, segment.size() - 2).find_first_of("{}") != std::string_view::npos)) {
      status_ = Status::InvalidArgument("route " + where + ": bad parameter segment '" + std::string(segment) +
                                        "'; expected {name}");
      return *this;
    }
    if (has_brace && !params.insert(segment).second) {
      status_ = Status::InvalidArgument("route " + where + ": parameter " + std::string(segment) + " repeated");
      return *this;
    }
    route.segments.emplace_back(segment);
  }
  for (const Route& existing : routes_) {
    if (existing.method == route.method && existing.segments.size() == route.segments.size() &&
        std::equal(existing.segments.begin(), existing.segments.end(), route.segments.begin(),
                   [](const std::string& a, const std::string& b) { return a == b || (IsParam(a) && IsParam(b)); })) {
      status_ = Status::InvalidArgument("route " + where + ": same as " + existing.method + " " + existing.pattern);
      return *this;
    }
  }
  routes_.push_back(std::move(route));
  return *this;
}

std::vector<std::string> Router::patterns() const {
  std::set<std::string> unique;
  for (const Route& route : routes_) unique.insert(route.pattern);
  return {unique.begin(), unique.end()};
}

Result<Router::Match> Router::Find(std::string_view method, std::string_view raw_path) const {
  if (raw_path.empty() || raw_path.front() != '/') {
    return Status::InvalidArgument("request path '" + std::string(raw_path) + "' does not start with '/'");
  }
  std::vector<std::string> segments;
  for (std::string_view raw : SplitPath(raw_path)) {
    BATON_ASSIGN_OR_RETURN(std::string segment, PercentDecode(raw, /*plus_is_space=*/false));
    segments.push_back(std::move(segment));
  }
  const Route* best = nullptr;      // most specific route with this method
  const Route* best_get = nullptr;  // the same for GET: serves HEAD (Poco sends the headers only)
  const Route* best_any = nullptr;  // most specific route with any method
  std::set<std::string> allowed;
  auto more_specific = [](const Route& a, const Route& b) {
    for (size_t i = 0; i < a.segments.size(); ++i) {
      bool a_param = IsParam(a.segments[i]), b_param = IsParam(b.segments[i]);
      if (a_param != b_param) return !a_param;
    }
    return false;
  };
  for (const Route& route : routes_) {
    if (route.segments.size() != segments.size()) continue;
    bool matches = true;
    for (size_t i = 0; i < segments.size() && matches; ++i) {
      matches = IsParam(route.segments[i]) ? !segments[i].empty() : route.segments[i] == segments[i];
    }
    if (!matches) continue;
    allowed.insert(route.method);
    if (route.method == "GET") allowed.insert("HEAD");
    if (best_any == nullptr || more_specific(route, *best_any)) best_any = &route;
    if (route.method == method && (best == nullptr || more_specific(route, *best))) best = &route;
    if (route.method == "GET" && (best_get == nullptr || more_specific(route, *best_get))) best_get = &route;
  }
  if (best == nullptr && method == "HEAD") best = best_get;

  Match match;
  if (best == nullptr) {
    if (best_any != nullptr) {
      match.kind = Match::Kind::kMethodNotAllowed;
      match.pattern = best_any->pattern;
      match.allowed_methods.assign(allowed.begin(), allowed.end());
    }
    return match;
  }
  match.kind = Match::Kind::kFound;
  match.handler = &best->handler;
  match.pattern = best->pattern;
  for (size_t i = 0; i < segments.size(); ++i) {
    const std::string& segment = best->segments[i];
    if (IsParam(segment)) match.path_params[segment.substr(1, segment.size() - 2)] = std::move(segments[i]);
  }
  return match;
}

}  // namespace baton
