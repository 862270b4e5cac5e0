// One request through HttpServer: route, authenticate, read the body, call
// the handler, answer, count. Runs on Poco worker threads.
#include "common/http_server_impl.h"

#include <chrono>
#include <exception>
#include <istream>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>

namespace baton {
namespace {

using SteadyTime = std::chrono::steady_clock;

// A body over the limit is still read and discarded up to this many bytes,
// so that the client reads our 413 instead of a TCP reset (closing a socket
// with unread input sends RST, which can destroy the response in flight).
constexpr uint64_t kMaxDrainBytes = 8 << 20;

bool IsMutation(const std::string& method) {
  return method == "PUT" || method == "POST" || method == "DELETE" || method == "PATCH";
}

// Bounded label values: anything unusual becomes "OTHER".
std::string MethodLabel(const std::string& method) {
  static const char* const kKnown[] = {"GET", "HEAD", "PUT", "POST", "DELETE", "PATCH", "OPTIONS"};
  for (const char* known : kKnown) {
    if (method == known) return method;
  }
  return "OTHER";
}

// Per RFC 9112 §6.3 a request has a body only when chunked or with a
// Content-Length. (Poco would read a length-less body until EOF instead.)
bool HasBody(const Poco::Net::HTTPServerRequest& in) {
  return in.getChunkedTransferEncoding() || in.hasContentLength();
}

// Reads and discards the rest of the body, up to kMaxDrainBytes, so the
// response is not lost to a reset. Larger bodies are left unread.
void DrainUnreadBody(Poco::Net::HTTPServerRequest& in) {
  if (!HasBody(in)) return;
  const Poco::Int64 length = in.getChunkedTransferEncoding() ? 0 : in.getContentLength64();
  if (length < 0 || length > static_cast<Poco::Int64>(kMaxDrainBytes)) return;
  std::istream& stream = in.stream();
  char buf[16384];
  uint64_t total = 0;
  while (stream && total < kMaxDrainBytes) {
    stream.read(buf, sizeof(buf));
    total += static_cast<uint64_t>(stream.gcount());
  }
}

std::string Join(const std::vector<std::string>& items, std::string_view separator) {
  std::string out;
  for (const std::string& item : items) {
    if (!out.empty()) out += separator;
    out += item;
  }
  return out;
}

}  // namespace

void HttpServer::Impl::Handle(Poco::Net::HTTPServerRequest& in, Poco::Net::HTTPServerResponse& out) {
  const SteadyTime::time_point start = SteadyTime::now();
  std::string route(kUnmatchedRoute);
  BodyState body = BodyState::kUnread;
  HttpResponse response;
  bool admitted;
  {
    MutexLock lock(&mu_);
    admitted = !stopping_;
    if (admitted) ++in_flight_;
  }
  try {
    response = admitted ? Dispatch(in, &route, &body)
                        : HttpResponse::Error(Status::Unavailable("server is shutting down"));
  } catch (const std::exception& e) {  // handler exceptions are caught in Call(); this is ours or Poco's
    spdlog::error("http {} {}: {}", in.getMethod(), in.getURI(), e.what());
    response = HttpResponse::Error(Status::Internal("internal error; see the server log"));
  }
  if (response.status < 100 || response.status > 599) response.status = 500;
  // Counted before the answer leaves, so a client that has its answer finds
  // it in /metrics (the duration is the handling, not the transmission).
  try {
    Record(in.getMethod(), route, response.status, start);
  } catch (const std::exception& e) {
    spdlog::warn("http: recording metrics failed: {}", e.what());
  }
  try {
    if (body == BodyState::kUnread) DrainUnreadBody(in);
    // Reuse the connection only when its request was consumed exactly.
    if (body != BodyState::kRead) out.setKeepAlive(false);
    out.setStatusAndReason(static_cast<Poco::Net::HTTPResponse::HTTPStatus>(response.status));
    out.setContentType(response.content_type);
    for (const auto& [name, value] : response.headers) out.add(name, value);
    out.setContentLength64(static_cast<Poco::Int64>(response.body.size()));
    std::ostream& os = out.send();
    os.write(response.body.data(), static_cast<std::streamsize>(response.body.size()));
    os.flush();
  } catch (const std::exception& e) {  // client gone, or aborted by Stop()
    spdlog::debug("http {} {}: sending the response failed: {}", in.getMethod(), in.getURI(), e.what());
  }
  if (admitted) {
    MutexLock lock(&mu_);
    if (--in_flight_ == 0) idle_cv_.SignalAll();
  }
}

HttpResponse HttpServer::Impl::Dispatch(Poco::Net::HTTPServerRequest& in, std::string* route, BodyState* body) {
  HttpRequest request;
  request.method = in.getMethod();
  const std::string& target = in.getURI();
  const size_t query_at = target.find('?');
  const std::string_view raw_path = std::string_view(target).substr(0, query_at);
  std::string_view raw_query = query_at == std::string::npos ? "" : std::string_view(target).substr(query_at + 1);
  raw_query = raw_query.substr(0, raw_query.find('#'));

  Result<Router::Match> found = router_.Find(request.method, raw_path);
  if (!found.ok()) return HttpResponse::Error(found.status());
  Router::Match& match = *found;
  if (match.kind == Router::Match::Kind::kNotFound) {
    return HttpResponse::Error(Status::NotFound("no route for " + request.method + " " + std::string(raw_path)));
  }
  *route = match.pattern;
  if (match.kind == Router::Match::Kind::kMethodNotAllowed) {
    std::string allowed = Join(match.allowed_methods, ", ");
    HttpResponse response = HttpResponse::Error(
        405, Status::Unimplemented("method " + request.method + " not allowed on " + match.pattern +
                                   "; allowed: " + allowed));
    response.headers.emplace_back("Allow", allowed);
    return response;
  }

  for (const auto& [name, value] : in) {
    auto [it, inserted] = request.headers.emplace(name, value);
    if (!inserted) it->second += ", " + value;
  }
  if (IsMutation(request.method) && !options_.bearer_token.empty() &&
      !request.HasBearerToken(options_.bearer_token)) {
    HttpResponse response = HttpResponse::Error(Status::Unauthenticated(
        request.Header("Authorization").empty() ? "this request needs an Authorization: Bearer token"
                                                : "the bearer token is not valid"));
    response.headers.emplace_back("WWW-Authenticate", "Bearer");
    return response;
  }

  Result<std::string> path = PercentDecode(raw_path, /*plus_is_space=*/false);
  if (!path.ok()) return HttpResponse::Error(path.status());
  request.path = std::move(*path);
  request.path_params = std::move(match.path_params);
  Result<std::map<std::string, std::string>> query = ParseQuery(raw_query);
  if (!query.ok()) return HttpResponse::Error(query.status());
  request.query_params = std::move(*query);

  if (std::optional<HttpResponse> refused = ReadBody(in, &request, body)) return *std::move(refused);
  return Call(*match.handler, request, *route);
}

std::optional<HttpResponse> HttpServer::Impl::ReadBody(Poco::Net::HTTPServerRequest& in, HttpRequest* request,
                                                       BodyState* body) {
  if (!HasBody(in)) {
    *body = BodyState::kRead;
    return std::nullopt;
  }
  const size_t limit = options_.max_request_body_bytes;
  auto too_large = [&] {
    return HttpResponse::Error(413, Status::ResourceExhausted("request body is larger than the limit of " +
                                                              std::to_string(limit) + " bytes"));
  };
  const Poco::Int64 length = in.getChunkedTransferEncoding() ? -1 : in.getContentLength64();
  if (length < -1 || (length == -1 && !in.getChunkedTransferEncoding())) {
    *body = BodyState::kBroken;
    return HttpResponse::Error(Status::InvalidArgument("bad Content-Length " + std::to_string(length)));
  }
  if (length > static_cast<Poco::Int64>(limit)) return too_large();  // kUnread: Handle() drains and closes

  std::istream& stream = in.stream();
  char buf[16384];
  while (stream) {
    stream.read(buf, sizeof(buf));
    size_t n = static_cast<size_t>(stream.gcount());
    if (request->body.size() + n > limit) return too_large();
    request->body.append(buf, n);
  }
  if (stream.bad() || (length >= 0 && request->body.size() != static_cast<size_t>(length))) {
    *body = BodyState::kBroken;
    return HttpResponse::Error(Status::InvalidArgument(
        "request body incomplete: got " + std::to_string(request->body.size()) + " bytes" +
        (length >= 0 ? " of " + std::to_string(length) : std::string())));
  }
  *body = BodyState::kRead;
  return std::nullopt;
}

HttpResponse HttpServer::Impl::Call(const HttpHandler& handler, const HttpRequest& request, const std::string& route) {
  std::string what;
  try {
    return handler(request);
  } catch (const std::exception& e) {
    what = e.what();
  } catch (...) {
    what = "an exception not derived from std::exception";
  }
  // A handler bug: answer this request with 500 and keep serving the others.
  spdlog::error("http handler threw method={} route={} path={}: {}", request.method, route, request.path, what);
  if (exceptions_total_ != nullptr) exceptions_total_->Add({{"route", route}}).Increment();
  return HttpResponse::Error(Status::Internal("internal error in " + request.method + " " + route +
                                              "; see the server log"));
}

void HttpServer::Impl::Record(const std::string& method, const std::string& route, int status,
                              SteadyTime::time_point start) {
  const double seconds = std::chrono::duration<double>(SteadyTime::now() - start).count();
  spdlog::debug("http {} route={} code={} seconds={:.6f}", method, route, status, seconds);
  if (requests_total_ == nullptr) return;
  requests_total_->Add({{"method", MethodLabel(method)}, {"route", route}, {"code", std::to_string(status)}})
      .Increment();
  auto it = request_seconds_.find(route);
  if (it != request_seconds_.end()) it->second->Observe(seconds);
}

}  // namespace baton
