#include "common/http_server.h"

#include <cerrno>
#include <chrono>
#include <exception>

#include <Poco/AutoPtr.h>
#include <Poco/Exception.h>
#include <Poco/Net/HTTPRequestHandler.h>
#include <Poco/Net/HTTPRequestHandlerFactory.h>
#include <Poco/Net/HTTPServerParams.h>
#include <Poco/Net/SocketAddress.h>
#include <Poco/SharedPtr.h>
#include <spdlog/spdlog.h>

#include "common/http_server_impl.h"
#include "common/metrics.h"

namespace baton {
namespace {

constexpr int kListenBacklog = 64;
// Accepted connections waiting for a free worker; more are refused.
constexpr int kMaxQueuedConnections = 64;

Result<Poco::Net::SocketAddress> ParseListenAddress(const std::string& address) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("listen address '" + address + "': " + why);
  };
  size_t colon = address.rfind(':');
  if (colon == std::string::npos) return bad("expected host:port");
  std::string host = address.substr(0, colon);
  std::string port_text = address.substr(colon + 1);
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find_first_of("[]:") != std::string::npos) {
    return bad("write IPv6 addresses in brackets, as [::1]:8080");
  }
  if (host.empty()) host = "0.0.0.0";
  if (port_text.empty() || port_text.size() > 5 ||
      port_text.find_first_not_of("0123456789") != std::string::npos || std::stoi(port_text) > 65535) {
    return bad("port '" + port_text + "' is not a number in 0..65535");
  }
  try {
    return Poco::Net::SocketAddress(host, static_cast<uint16_t>(std::stoi(port_text)));
  } catch (const Poco::Exception& e) {
    return bad(e.displayText());
  }
}

class PocoHandler : public Poco::Net::HTTPRequestHandler {
 public:
  explicit PocoHandler(HttpServer::Impl& impl) : impl_(impl) {}
  void handleRequest(Poco::Net::HTTPServerRequest& in, Poco::Net::HTTPServerResponse& out) override {
    impl_.Handle(in, out);
  }

 private:
  HttpServer::Impl& impl_;
};

class PocoHandlerFactory : public Poco::Net::HTTPRequestHandlerFactory {
 public:
  explicit PocoHandlerFactory(HttpServer::Impl& impl) : impl_(impl) {}
  Poco::Net::HTTPRequestHandler* createRequestHandler(const Poco::Net::HTTPServerRequest&) override {
    // Poco's interface: it takes ownership of the handler and deletes it.
    return std::make_unique<PocoHandler>(impl_).release();
  }

 private:
  HttpServer::Impl& impl_;
};

}  // namespace

Status HttpServer::Impl::Init() {
  BATON_ASSIGN_OR_RETURN(Poco::Net::SocketAddress address, ParseListenAddress(options_.listen_address));
  if (options_.metrics != nullptr) {
    try {
      prometheus::Registry& registry = options_.metrics->registry();
      requests_total_ = &prometheus::BuildCounter()
                             .Name("baton_http_requests_total")
                             .Help("HTTP requests answered, by method, route pattern and status code.")
                             .Register(registry);
      exceptions_total_ = &prometheus::BuildCounter()
                               .Name("baton_http_handler_exceptions_total")
                               .Help("HTTP handlers that threw, by route pattern; each was answered with 500.")
                               .Register(registry);
      auto& seconds = prometheus::BuildHistogram()
                          .Name("baton_http_request_duration_seconds")
                          .Help("Time from the request headers to the last response byte, by route pattern.")
                          .Register(registry);
      std::vector<std::string> routes = router_.patterns();
      routes.emplace_back(kUnmatchedRoute);
      for (const std::string& route : routes) request_seconds_[route] =
          &seconds.Add({{"route", route}}, LatencyBuckets());
    } catch (const std::exception& e) {
      return Status::InvalidArgument(std::string("registering baton_http_* metrics: ") + e.what());
    }
  }

  std::string where = "listen address '" + options_.listen_address + "'";
  try {
    // No SO_REUSEPORT: a second server on the same port must fail, not share it.
    socket_.bind(address, /*reuseAddress=*/true, /*reusePort=*/false);
    socket_.listen(kListenBacklog);
    port_ = socket_.address().port();
  } catch (const Poco::Exception& e) {
    if (e.code() == EADDRINUSE) return Status::Unavailable(where + ": address already in use");
    if (e.code() == EACCES) return Status::PermissionDenied(where + ": " + e.displayText());
    if (e.code() == EADDRNOTAVAIL) return Status::InvalidArgument(where + ": not a local address");
    return Status::Unavailable(where + ": cannot listen: " + e.displayText());
  }

  try {
    pool_ = std::make_unique<Poco::ThreadPool>("baton-http", 1, options_.threads);
    auto params = Poco::makeAuto<Poco::Net::HTTPServerParams>();
    Poco::Timespan timeout(std::chrono::duration_cast<std::chrono::microseconds>(options_.receive_timeout).count());
    params->setTimeout(timeout);
    params->setKeepAlive(true);
    params->setKeepAliveTimeout(timeout);
    params->setMaxThreads(options_.threads);
    params->setMaxQueued(kMaxQueuedConnections);
    params->setSoftwareVersion("baton/" BATON_VERSION);
    Poco::Net::HTTPRequestHandlerFactory::Ptr factory = Poco::makeShared<PocoHandlerFactory>(*this);
    server_ = std::make_unique<Poco::Net::HTTPServer>(factory, *pool_, socket_, params);
    server_->start();
  } catch (const Poco::Exception& e) {
    return Status::Internal(where + ": starting the HTTP server: " + e.displayText());
  }
  return Status::Ok();
}

void HttpServer::Impl::Stop() {
  MutexLock stop_lock(&stop_mu_);
  if (stopped_) return;
  stopped_ = true;
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  if (server_ == nullptr) return;  // Init() failed before starting
  try {
    server_->stop();  // joins the acceptor thread
    socket_.close();  // frees the port now, not when server_ is destroyed
  } catch (const Poco::Exception& e) {
    spdlog::warn("http server port={}: closing the listening socket: {}", port_, e.displayText());
  }
  {
    MutexLock lock(&mu_);
    const auto deadline = std::chrono::steady_clock::now() + options_.stop_grace;
    while (in_flight_ > 0 && std::chrono::steady_clock::now() < deadline) {
      idle_cv_.WaitFor(deadline - std::chrono::steady_clock::now());
    }
    if (in_flight_ > 0) {
      spdlog::warn("http server port={}: aborting {} requests still running after {} ms", port_, in_flight_,
                   options_.stop_grace.count());
    }
  }
  // Shuts down every connection socket: idle keep-alive and stalled clients
  // wake at once, and requests past the grace fail to write.
  try {
    server_->stopAll(/*abortCurrent=*/true);
  } catch (const Poco::Exception& e) {
    spdlog::warn("http server port={}: aborting connections: {}", port_, e.displayText());
  }
  pool_->joinAll();
  spdlog::info("http server stopped port={}", port_);
}

Result<std::unique_ptr<HttpServer>> HttpServer::Start(const HttpServerOptions& options, Router router) {
  if (options.threads < 1 || options.threads > 256) {
    return Status::InvalidArgument("http threads " + std::to_string(options.threads) + ": must be in 1..256");
  }
  if (options.receive_timeout.count() <= 0) {
    return Status::InvalidArgument("http receive_timeout " + std::to_string(options.receive_timeout.count()) +
                                   " ms: must be positive");
  }
  if (options.stop_grace.count() < 0) {
    return Status::InvalidArgument("http stop_grace " + std::to_string(options.stop_grace.count()) +
                                   " ms: must not be negative");
  }
  router.Get("/healthz", [healthy = options.healthy](const HttpRequest&) {
    return !healthy || healthy() ? HttpResponse::Text(200, "ok") : HttpResponse::Text(503, "unhealthy");
  });
  router.Get("/readyz", [ready = options.ready](const HttpRequest&) {
    return !ready || ready() ? HttpResponse::Text(200, "ready") : HttpResponse::Text(503, "not ready");
  });
  if (Metrics* metrics = options.metrics) {
    router.Get("/metrics", [metrics](const HttpRequest&) {
      HttpResponse response = HttpResponse::Text(200, metrics->Serialize());
      response.content_type = std::string(Metrics::kContentType);
      return response;
    });
  }
  BATON_RETURN_IF_ERROR(router.status());

  auto impl = std::make_unique<Impl>(options, std::move(router));
  BATON_RETURN_IF_ERROR(impl->Init());
  spdlog::info("http server listening address={} port={} threads={}", options.listen_address, impl->port(),
               options.threads);
  return std::make_unique<HttpServer>(std::move(impl));
}

HttpServer::HttpServer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
HttpServer::~HttpServer() = default;  // ~Impl() stops
uint16_t HttpServer::port() const { return impl_->port(); }
void HttpServer::Stop() { impl_->Stop(); }

}  // namespace baton
