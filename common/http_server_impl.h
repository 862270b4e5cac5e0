// Internal to common/http_server.cc (lifecycle: bind, start, stop) and
// common/http_dispatch.cc (one request: route, auth, body, handler, metrics).
// Include nowhere else; use common/http_server.h.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <Poco/Net/HTTPServer.h>
#include <Poco/Net/HTTPServerRequest.h>
#include <Poco/Net/HTTPServerResponse.h>
#include <Poco/Net/ServerSocket.h>
#include <Poco/ThreadPool.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/histogram.h>

#include "common/http_server.h"
#include "common/mutex.h"

namespace baton {

// The route label of requests that matched no route: keeps labels bounded.
inline constexpr std::string_view kUnmatchedRoute = "unmatched";

// What became of the request body; decides whether the connection is reused.
enum class BodyState {
  kUnread,  // not consumed: drain what we can, then close
  kRead,    // consumed exactly: keep-alive allowed
  kBroken,  // short or failed read: close
};

// Thread-safe: Handle() runs on many Poco workers at once; Stop() on any
// thread. Everything read by Handle() is immutable after Init() except the
// members under mu_ and the (internally locked) prometheus metrics.
class HttpServer::Impl {
 public:
  Impl(const HttpServerOptions& options, Router router) : options_(options), router_(std::move(router)) {}
  ~Impl() { Stop(); }

  Status Init();
  void Stop();
  uint16_t port() const { return port_; }
  // Runs on a Poco worker thread for each request; never throws. (http_dispatch.cc)
  void Handle(Poco::Net::HTTPServerRequest& in, Poco::Net::HTTPServerResponse& out);

 private:
  HttpResponse Dispatch(Poco::Net::HTTPServerRequest& in, std::string* route, BodyState* body);
  std::optional<HttpResponse> ReadBody(Poco::Net::HTTPServerRequest& in, HttpRequest* request, BodyState* body);
  HttpResponse Call(const HttpHandler& handler, const HttpRequest& request, const std::string& route);
  void Record(const std::string& method, const std::string& route, int status,
              std::chrono::steady_clock::time_point start);

  const HttpServerOptions options_;
  const Router router_;
  uint16_t port_ = 0;

  prometheus::Family<prometheus::Counter>* requests_total_ = nullptr;
  prometheus::Family<prometheus::Counter>* exceptions_total_ = nullptr;
  std::map<std::string, prometheus::Histogram*> request_seconds_;  // by route; filled in Init()

  // Destroyed in reverse order: server_ before the pool it runs on.
  std::unique_ptr<Poco::ThreadPool> pool_;
  Poco::Net::ServerSocket socket_;
  std::unique_ptr<Poco::Net::HTTPServer> server_;

  Mutex stop_mu_;  // serialises Stop(); held while it blocks, never taken by workers
  bool stopped_ GUARDED_BY(stop_mu_) = false;

  Mutex mu_;  // taken briefly twice per request
  CondVar idle_cv_{&mu_};
  bool stopping_ GUARDED_BY(mu_) = false;
  int in_flight_ GUARDED_BY(mu_) = 0;  // requests between routing and the last byte sent
};

}  // namespace baton
