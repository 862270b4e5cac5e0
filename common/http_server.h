// A small JSON/REST server on Poco::Net::HTTPServer for the operator surface
// (PRODUCT.md §7): arbiter REST API, /healthz, /readyz, /metrics.
//
//   Router router;
//   router.Get("/v1/clusters/{cluster}", [&](const HttpRequest& req) {
//     return HttpResponse::Json(200, {{"cluster", req.PathParam("cluster")}});
//   });
//   BATON_ASSIGN_OR_RETURN(auto server, HttpServer::Start(options, std::move(router)));
//
// What the server adds around the routes:
//  - GET /healthz (200 "ok" / 503), GET /readyz (200 "ready" / 503 "not
//    ready") from the predicates, GET /metrics when `metrics` is set;
//  - unknown path 404 (code NOT_FOUND), known path with another method 405
//    (code UNIMPLEMENTED) + Allow, both JSON errors; HEAD uses the GET route;
//  - request bodies over max_request_body_bytes: 413, handler not called;
//  - with a bearer token, PUT/POST/DELETE/PATCH without
//    "Authorization: Bearer <token>" get 401 + "WWW-Authenticate: Bearer" and
//    the handler is not called; GETs need no token;
//  - a handler that throws: 500 JSON, logged, counted; the server carries on;
//  - baton_http_requests_total{method,route,code},
//    baton_http_request_duration_seconds{route} and
//    baton_http_handler_exceptions_total{route}, where route is the pattern
//    ("/v1/clusters/{cluster}") or "unmatched", never the raw path.
//
// Threads: Poco's acceptor thread plus `threads` workers. Handlers and
// predicates run on the workers, concurrently. A connection holds a worker
// while it is open, so idle and stalled clients are cut off after
// `receive_timeout` (also the keep-alive idle timeout).
#pragma once

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>

#include "common/http_router.h"
#include "common/status.h"

namespace baton {

class Metrics;

struct HttpServerOptions {
  // "host:port" or "[v6addr]:port"; empty host = all IPv4 interfaces; port 0
  // picks a free port (see HttpServer::port()).
  std::string listen_address = "127.0.0.1:0";
  // Bodies larger than this are refused with 413 before the handler runs.
  size_t max_request_body_bytes = 1 << 20;
  // Empty: no authentication. Otherwise required on mutations.
  std::string bearer_token;
  // Worker threads, 1..256: the number of connections served at once.
  int threads = 4;
  // Per-read/write socket timeout and keep-alive idle timeout. A client that
  // connects and sends nothing loses its connection after this long.
  std::chrono::milliseconds receive_timeout{5000};
  // How long Stop() lets running handlers finish before aborting their
  // connections.
  std::chrono::milliseconds stop_grace{5000};
  // Optional; must outlive the server. Enables GET /metrics and the
  // baton_http_* metrics.
  Metrics* metrics = nullptr;
  // Called on a worker thread per probe; must be thread-safe and quick.
  // Unset = always true.
  std::function<bool()> ready;
  std::function<bool()> healthy;
};

// Thread-safe: port() and Stop() may be called from any thread. Everything
// the handlers and predicates capture, and options.metrics, must outlive the
// server (or at least its Stop()).
class HttpServer {
 public:
  // Binds, starts the workers and returns once the socket is listening.
  // INVALID_ARGUMENT: bad listen address, options or routes (named);
  // UNAVAILABLE: address in use or cannot bind (named); PERMISSION_DENIED:
  // privileged port.
  static Result<std::unique_ptr<HttpServer>> Start(const HttpServerOptions& options, Router router);

  ~HttpServer();  // Stop()
  HttpServer(const HttpServer&) = delete;
  HttpServer& operator=(const HttpServer&) = delete;

  // The bound port (the chosen one when listen_address asked for port 0).
  uint16_t port() const;

  // Stops accepting (the port is released on return), lets running handlers
  // finish for up to stop_grace, then shuts down every connection and joins
  // the workers. Idempotent; concurrent callers wait for the first. Returns
  // within about stop_grace + receive_timeout unless a handler never returns:
  // Stop() cannot kill a thread, so it waits for it.
  void Stop();

  class Impl;  // Poco plumbing: common/http_server_impl.h
  explicit HttpServer(std::unique_ptr<Impl> impl);  // use Start()

 private:
  std::unique_ptr<Impl> impl_;
};

}  // namespace baton
