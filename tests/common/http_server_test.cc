#include "common/http_server.h"

#include <sys/wait.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <future>
#include <iostream>
#include <optional>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/Net/NetException.h>
#include <Poco/Net/StreamSocket.h>
#include <Poco/StreamCopier.h>
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "common/metrics.h"

namespace baton {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;
using namespace std::chrono_literals;

constexpr const char* kToken = "s3cret-token";

struct Reply {
  int status = -1;  // -1: the exchange failed; see `error`
  std::string body;
  Poco::Net::HTTPResponse response;
  std::string error;

  nlohmann::json Json() const { return nlohmann::json::parse(body, nullptr, /*allow_exceptions=*/false); }
  std::string ErrorCode() const { return Json().value("/error/code"_json_pointer, std::string()); }
  std::string ErrorMessage() const { return Json().value("/error/message"_json_pointer, std::string()); }
};

struct Call {
  std::string method = "GET";
  std::string uri = "/";
  std::string body;
  std::vector<std::pair<std::string, std::string>> headers;
  bool chunked = false;
};

// One request on `session`, which keeps its connection for the next call.
Reply Exchange(Poco::Net::HTTPClientSession& session, const Call& call) {
  Reply reply;
  try {
    Poco::Net::HTTPRequest request(call.method, call.uri, Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [name, value] : call.headers) request.set(name, value);
    if (call.chunked) {
      request.setChunkedTransferEncoding(true);
    } else if (!call.body.empty() || call.method != "GET") {
      request.setContentLength(static_cast<std::streamsize>(call.body.size()));
    }
    session.sendRequest(request) << call.body;
    std::istream& in = session.receiveResponse(reply.response);
    Poco::StreamCopier::copyToString(in, reply.body);
    reply.status = reply.response.getStatus();
  } catch (const Poco::Exception& e) {
    reply.error = e.displayText();
  }
  return reply;
}

Reply Send(uint16_t port, const Call& call) {
  Poco::Net::HTTPClientSession session("127.0.0.1", port);
  session.setTimeout(Poco::Timespan(10, 0));
  return Exchange(session, call);
}

Reply Get(uint16_t port, const std::string& uri) { return Send(port, {.uri = uri}); }

// Polls `condition` until it holds or `timeout` passes.
bool WaitUntil(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    std::this_thread::sleep_for(5ms);
  }
  return true;
}

bool ConnectionRefused(uint16_t port) {
  try {
    Poco::Net::StreamSocket socket;
    socket.connect(Poco::Net::SocketAddress("127.0.0.1", port), Poco::Timespan(1, 0));
    return false;
  } catch (const Poco::Net::ConnectionRefusedException&) {
    return true;
  } catch (const Poco::Exception&) {
    return false;
  }
}

// Runs `promtool check metrics` on `exposition`; returns its exit code and
// output, or nullopt when promtool is not installed.
std::optional<std::pair<int, std::string>> Promtool(const std::string& exposition) {
  const char* promtool = "/usr/bin/promtool";
  if (access(promtool, X_OK) != 0) return std::nullopt;
  std::string file = (std::filesystem::temp_directory_path() / "baton_http_metrics_XXXXXX").string();
  int fd = mkstemp(file.data());
  if (fd < 0) return std::nullopt;
  close(fd);
  std::ofstream(file) << exposition;
  std::string command = std::string(promtool) + " check metrics < '" + file + "' 2>&1";
  std::string output;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return std::nullopt;
  char buf[4096];
  for (size_t n; (n = fread(buf, 1, sizeof(buf), pipe)) > 0;) output.append(buf, n);
  int status = pclose(pipe);
  std::filesystem::remove(file);
  return std::make_pair(WIFEXITED(status) ? WEXITSTATUS(status) : -1, output);
}

HttpServerOptions LocalOptions() {
  HttpServerOptions options;
  options.listen_address = "127.0.0.1:0";
  return options;
}

std::unique_ptr<HttpServer> MustStart(Router router, HttpServerOptions options = LocalOptions()) {
  Result<std::unique_ptr<HttpServer>> server = HttpServer::Start(options, std::move(router));
  EXPECT_TRUE(server.ok()) << server.status();
  return server.ok() ? std::move(*server) : nullptr;
}

HttpResponse Echo(const HttpRequest& request) {
  return HttpResponse::Json(200, {{"method", request.method},
                                  {"path", request.path},
                                  {"params", request.path_params},
                                  {"query", request.query_params},
                                  {"x_test", request.Header("x-TEST")},
                                  {"body", request.body}});
}

TEST(HttpServer, RoutesPathParamsAndQuery) {
  Router router;
  router.Get("/v1/clusters/{cluster}", Echo)
      .Get("/v1/clusters/_all", [](const HttpRequest&) { return HttpResponse::Text(200, "all"); })
      .Get("/v1/clusters/{cluster}/instances/{instance}", Echo);
  auto server = MustStart(std::move(router));
  ASSERT_NE(server, nullptr);

  Reply reply = Send(server->port(), {.uri = "/v1/clusters/c%2F1?verbose=1&name=a+b%21&name=second&flag",
                                      .headers = {{"X-Test", "yes"}}});
  ASSERT_EQ(reply.status, 200) << reply.error << reply.body;
  EXPECT_EQ(reply.response.getContentType(), "application/json");
  nlohmann::json json = reply.Json();
  EXPECT_EQ(json["method"], "GET");
  EXPECT_EQ(json["path"], "/v1/clusters/c/1");
  EXPECT_EQ(json["params"], (nlohmann::json{{"cluster", "c/1"}}));
  EXPECT_EQ(json["query"], (nlohmann::json{{"verbose", "1"}, {"name", "a b!"}, {"flag", ""}}));
  EXPECT_EQ(json["x_test"], "yes");

  EXPECT_EQ(Get(server->port(), "/v1/clusters/_all").body, "all");  // literal beats {cluster}
  reply = Get(server->port(), "/v1/clusters/c1/instances/g2");
  EXPECT_EQ(reply.Json()["params"], (nlohmann::json{{"cluster", "c1"}, {"instance", "g2"}}));
}

TEST(HttpServer, UnknownPathIs404AndWrongMethodIs405WithAllow) {
  Router router;
  router.Get("/v1/status", Echo).Put("/v1/status", Echo);
  auto server = MustStart(std::move(router));
  ASSERT_NE(server, nullptr);

  for (const char* uri : {"/v1/nope", "/v1/status/", "/v1/status/extra", "/v1"}) {
    Reply reply = Get(server->port(), uri);
    EXPECT_EQ(reply.status, 404) << uri;
    EXPECT_EQ(reply.ErrorCode(), "NOT_FOUND") << uri << ": " << reply.body;
  }
  Reply reply = Send(server->port(), {.method = "DELETE", .uri = "/v1/status"});
  EXPECT_EQ(reply.status, 405);
  EXPECT_EQ(reply.response.get("Allow", ""), "GET, HEAD, PUT");
  EXPECT_THAT(reply.ErrorMessage(), HasSubstr("DELETE"));
}

TEST(HttpServer, JsonBodyRoundTrip) {
  Router router;
  router.Post("/v1/echo", [](const HttpRequest& request) {
    Result<nlohmann::json> body = request.JsonBody();
    if (!body.ok()) return HttpResponse::Error(body.status());
    return HttpResponse::Json(201, {{"got", *body}});
  });
  auto server = MustStart(std::move(router));
  ASSERT_NE(server, nullptr);

  nlohmann::json sent = {{"name", "mirror-1"}, {"weights", {1, 2.5, -3}}, {"nested", {{"ok", true}}}};
  Reply reply = Send(server->port(), {.method = "POST", .uri = "/v1/echo", .body = sent.dump()});
  ASSERT_EQ(reply.status, 201) << reply.error << reply.body;
  EXPECT_EQ(reply.Json()["got"], sent);

  // Chunked bodies are read the same way.
  reply = Send(server->port(), {.method = "POST", .uri = "/v1/echo", .body = sent.dump(), .chunked = true});
  ASSERT_EQ(reply.status, 201) << reply.error << reply.body;
  EXPECT_EQ(reply.Json()["got"], sent);
}

TEST(HttpServer, MalformedJsonIs400NamingTheProblem) {
  Router router;
  router.Post("/v1/echo", [](const HttpRequest& request) {
    Result<nlohmann::json> body = request.JsonBody();
    return body.ok() ? HttpResponse::Json(200, *body) : HttpResponse::Error(body.status());
  });
  auto server = MustStart(std::move(router));
  ASSERT_NE(server, nullptr);

  Reply reply = Send(server->port(), {.method = "POST", .uri = "/v1/echo", .body = R"({"name": "x",})"});
  EXPECT_EQ(reply.status, 400);
  EXPECT_EQ(reply.response.getContentType(), "application/json");
  EXPECT_EQ(reply.ErrorCode(), "INVALID_ARGUMENT");
  EXPECT_THAT(reply.ErrorMessage(), HasSubstr("malformed JSON at byte 14: "));

  reply = Send(server->port(), {.method = "POST", .uri = "/v1/echo"});
  EXPECT_EQ(reply.status, 400);
  EXPECT_THAT(reply.ErrorMessage(), HasSubstr("empty"));
}

TEST(HttpServer, BodyOverLimitIs413AndHandlerNotCalled) {
  std::atomic<int> calls{0};
  Router router;
  router.Post("/v1/upload", [&](const HttpRequest& request) {
    ++calls;
    return HttpResponse::Text(200, std::to_string(request.body.size()));
  });
  HttpServerOptions options = LocalOptions();
  options.max_request_body_bytes = 1024;
  auto server = MustStart(std::move(router), options);
  ASSERT_NE(server, nullptr);

  Reply reply = Send(server->port(), {.method = "POST", .uri = "/v1/upload", .body = std::string(1024, 'a')});
  EXPECT_EQ(reply.status, 200) << reply.error;
  EXPECT_EQ(reply.body, "1024");

  for (bool chunked : {false, true}) {
    reply = Send(server->port(),
                 {.method = "POST", .uri = "/v1/upload", .body = std::string(100 * 1024, 'b'), .chunked = chunked});
    EXPECT_EQ(reply.status, 413) << "chunked=" << chunked << " " << reply.error;
    EXPECT_EQ(reply.ErrorCode(), "RESOURCE_EXHAUSTED");
    EXPECT_THAT(reply.ErrorMessage(), HasSubstr("1024 bytes"));
  }
  EXPECT_EQ(calls.load(), 1);
}

TEST(HttpServer, MutationsNeedTheBearerTokenGetsDoNot) {
  std::atomic<int> calls{0};
  auto handler = [&](const HttpRequest&) {
    ++calls;
    return HttpResponse::Json(200, {{"ok", true}});
  };
  Router router;
  router.Get("/v1/clusters/{cluster}", handler)
      .Post("/v1/clusters/{cluster}/switchover", handler)
      .Put("/v1/mirror-targets/{name}", handler)
      .Delete("/v1/mirror-targets/{name}", handler)
      .Patch("/v1/mirror-targets/{name}", handler);
  HttpServerOptions options = LocalOptions();
  options.bearer_token = kToken;
  auto server = MustStart(std::move(router), options);
  ASSERT_NE(server, nullptr);
  const uint16_t port = server->port();

  const std::vector<std::pair<std::string, std::string>> mutations = {
      {"POST", "/v1/clusters/c1/switchover"},
      {"PUT", "/v1/mirror-targets/m1"},
      {"DELETE", "/v1/mirror-targets/m1"},
      {"PATCH", "/v1/mirror-targets/m1"}};
  const std::vector<std::vector<std::pair<std::string, std::string>>> bad_credentials = {
      {},
      {{"Authorization", "Bearer wrong"}},
      {{"Authorization", std::string("Bearer ") + kToken + "x"}},
      {{"Authorization", std::string("Basic ") + kToken}},
      {{"Authorization", kToken}}};
  for (const auto& [method, uri] : mutations) {
    for (const auto& headers : bad_credentials) {
      Reply reply = Send(port, {.method = method, .uri = uri, .body = "{}", .headers = headers});
      EXPECT_EQ(reply.status, 401) << method << " " << uri;
      EXPECT_EQ(reply.response.get("WWW-Authenticate", ""), "Bearer");
      EXPECT_EQ(reply.ErrorCode(), "UNAUTHENTICATED");
    }
  }
  EXPECT_EQ(calls.load(), 0);

  for (const auto& [method, uri] : mutations) {
    Reply reply = Send(port, {.method = method, .uri = uri, .body = "{}",
                              .headers = {{"Authorization", std::string("Bearer ") + kToken}}});
    EXPECT_EQ(reply.status, 200) << method << " " << uri << " " << reply.body;
  }
  EXPECT_EQ(calls.load(), 4);

  EXPECT_EQ(Get(port, "/v1/clusters/c1").status, 200);
  EXPECT_EQ(calls.load(), 5);
}

TEST(HttpServer, HealthzAndReadyzFollowThePredicates) {
  std::atomic<bool> ready{true};
  std::atomic<bool> healthy{true};
  HttpServerOptions options = LocalOptions();
  options.ready = [&] { return ready.load(); };
  options.healthy = [&] { return healthy.load(); };
  auto server = MustStart(Router(), options);
  ASSERT_NE(server, nullptr);

  Reply reply = Get(server->port(), "/readyz");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "ready");
  reply = Get(server->port(), "/healthz");
  EXPECT_EQ(reply.status, 200);
  EXPECT_EQ(reply.body, "ok");

  ready = false;
  reply = Get(server->port(), "/readyz");
  EXPECT_EQ(reply.status, 503);
  EXPECT_EQ(reply.body, "not ready");
  EXPECT_EQ(Get(server->port(), "/healthz").status, 200);
  healthy = false;
  EXPECT_EQ(Get(server->port(), "/healthz").status, 503);
  ready = true;
  EXPECT_EQ(Get(server->port(), "/readyz").status, 200);
  // Probes may use HEAD.
  EXPECT_EQ(Send(server->port(), {.method = "HEAD", .uri = "/readyz"}).status, 200);
}

TEST(HttpServer, DefaultProbesAreUpAndMetricsIsOffWithoutMetrics) {
  auto server = MustStart(Router());
  ASSERT_NE(server, nullptr);
  EXPECT_EQ(Get(server->port(), "/healthz").status, 200);
  EXPECT_EQ(Get(server->port(), "/readyz").status, 200);
  EXPECT_EQ(Get(server->port(), "/metrics").status, 404);
}

TEST(HttpServer, MetricsAreServedAndCountedByRoutePattern) {
  Metrics metrics("arbiter");
  HttpServerOptions options = LocalOptions();
  options.metrics = &metrics;
  Router router;
  router.Get("/v1/clusters/{cluster}", Echo);
  auto server = MustStart(std::move(router), options);
  ASSERT_NE(server, nullptr);

  EXPECT_EQ(Get(server->port(), "/v1/clusters/secret-object-id").status, 200);
  EXPECT_EQ(Get(server->port(), "/v1/clusters/other").status, 200);
  EXPECT_EQ(Get(server->port(), "/no/such/path").status, 404);

  Reply reply = Get(server->port(), "/metrics");
  ASSERT_EQ(reply.status, 200);
  EXPECT_EQ(reply.response.getContentType(), "text/plain; version=0.0.4");
  EXPECT_THAT(reply.body, HasSubstr("baton_build_info{component=\"arbiter\""));
  EXPECT_THAT(reply.body,
              HasSubstr("baton_http_requests_total{code=\"200\",method=\"GET\",route=\"/v1/clusters/{cluster}\"} 2"));
  EXPECT_THAT(reply.body, HasSubstr("baton_http_requests_total{code=\"404\",method=\"GET\",route=\"unmatched\"} 1"));
  EXPECT_THAT(reply.body, HasSubstr("baton_http_request_duration_seconds_count{route=\"/v1/clusters/{cluster}\"} 2"));
  EXPECT_THAT(reply.body, Not(HasSubstr("secret-object-id")));
  EXPECT_THAT(reply.body, Not(HasSubstr("/no/such/path")));

  if (auto lint = Promtool(reply.body)) {
    EXPECT_EQ(lint->first, 0) << lint->second;
    EXPECT_EQ(lint->second, "") << "promtool complained about /metrics";
  } else {
    std::cout << "promtool not at /usr/bin/promtool: /metrics not linted (metrics_test covers the lint)\n";
  }
}

TEST(HttpServer, HandlerThatThrowsIs500AndServerKeepsServing) {
  Metrics metrics("gateway");
  HttpServerOptions options = LocalOptions();
  options.metrics = &metrics;
  Router router;
  router.Get("/v1/throw", [](const HttpRequest&) -> HttpResponse { throw std::runtime_error("boom"); })
      .Get("/v1/throw-int", [](const HttpRequest&) -> HttpResponse { throw 42; })
      .Get("/v1/fine", [](const HttpRequest&) { return HttpResponse::Text(200, "fine"); });
  auto server = MustStart(std::move(router), options);
  ASSERT_NE(server, nullptr);

  for (int i = 0; i < 3; ++i) {
    Reply reply = Get(server->port(), i == 1 ? "/v1/throw-int" : "/v1/throw");
    EXPECT_EQ(reply.status, 500);
    EXPECT_EQ(reply.ErrorCode(), "INTERNAL");
    EXPECT_THAT(reply.ErrorMessage(), Not(HasSubstr("boom")));  // details go to the log, not the client
    EXPECT_EQ(Get(server->port(), "/v1/fine").body, "fine");
  }
  EXPECT_THAT(metrics.Serialize(), HasSubstr("baton_http_handler_exceptions_total{route=\"/v1/throw\"} 2"));
}

TEST(HttpServer, KeepAliveConnectionServesManyRequests) {
  Router router;
  router.Post("/v1/echo", Echo);
  auto server = MustStart(std::move(router));
  ASSERT_NE(server, nullptr);
  Poco::Net::HTTPClientSession session("127.0.0.1", server->port());
  session.setTimeout(Poco::Timespan(10, 0));
  session.setKeepAlive(true);
  for (int i = 0; i < 5; ++i) {
    Reply reply = Exchange(session, {.method = "POST", .uri = "/v1/echo", .body = "n" + std::to_string(i)});
    ASSERT_EQ(reply.status, 200) << reply.error;
    EXPECT_EQ(reply.Json()["body"], "n" + std::to_string(i));
  }
  // A 404 with an unread body still leaves a usable exchange.
  EXPECT_EQ(Exchange(session, {.method = "POST", .uri = "/nope", .body = "xyz"}).status, 404);
  EXPECT_EQ(Exchange(session, {.method = "POST", .uri = "/v1/echo", .body = "after"}).status, 200);
}

TEST(HttpServer, StalledClientDoesNotBlockOtherRequests) {
  HttpServerOptions options = LocalOptions();
  options.threads = 2;
  options.receive_timeout = 60s;  // far beyond the client's 10 s timeout
  auto server = MustStart(Router(), options);
  ASSERT_NE(server, nullptr);

  Poco::Net::StreamSocket stalled(Poco::Net::SocketAddress("127.0.0.1", server->port()));  // sends nothing
  for (int i = 0; i < 3; ++i) EXPECT_EQ(Get(server->port(), "/healthz").status, 200);
}

TEST(HttpServer, StalledClientIsCutOffAfterReceiveTimeout) {
  HttpServerOptions options = LocalOptions();
  options.threads = 1;
  options.receive_timeout = 200ms;
  auto server = MustStart(Router(), options);
  ASSERT_NE(server, nullptr);

  // The only worker takes the stalled connection first; the request is
  // served once the server gives up on it.
  Poco::Net::StreamSocket stalled(Poco::Net::SocketAddress("127.0.0.1", server->port()));
  EXPECT_EQ(Get(server->port(), "/healthz").status, 200);
  stalled.setReceiveTimeout(Poco::Timespan(10, 0));
  char byte;
  EXPECT_EQ(stalled.receiveBytes(&byte, 1), 0) << "the server should have closed the stalled connection";
}

TEST(HttpServer, StopIsIdempotentAndReleasesThePort) {
  auto server = MustStart(Router());
  ASSERT_NE(server, nullptr);
  const uint16_t port = server->port();
  EXPECT_EQ(Get(port, "/healthz").status, 200);
  server->Stop();
  server->Stop();
  EXPECT_TRUE(ConnectionRefused(port));

  HttpServerOptions options = LocalOptions();
  options.listen_address = "127.0.0.1:" + std::to_string(port);
  auto again = MustStart(Router(), options);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(Get(port, "/healthz").status, 200);
  server.reset();  // destructor after Stop(): a third stop, still fine
}

TEST(HttpServer, StopLetsARunningRequestFinish) {
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  Router router;
  router.Get("/v1/slow", [&](const HttpRequest&) {
    entered.set_value();
    released.wait();
    return HttpResponse::Text(200, "done");
  });
  auto server = MustStart(std::move(router));
  ASSERT_NE(server, nullptr);
  const uint16_t port = server->port();

  auto client = std::async(std::launch::async, [&] { return Get(port, "/v1/slow"); });
  entered.get_future().wait();
  auto stopper = std::async(std::launch::async, [&] { server->Stop(); });
  EXPECT_TRUE(WaitUntil([&] { return ConnectionRefused(port); }, 10s)) << "Stop() should close the listener first";
  EXPECT_EQ(stopper.wait_for(0s), std::future_status::timeout) << "Stop() returned with a request running";

  release.set_value();
  Reply reply = client.get();
  EXPECT_EQ(reply.status, 200) << reply.error;
  EXPECT_EQ(reply.body, "done");
  stopper.get();
}

TEST(HttpServer, StopAbortsARequestPastTheGraceAndStalledClients) {
  std::promise<void> entered;
  std::promise<void> release;
  std::shared_future<void> released = release.get_future().share();
  Router router;
  router.Get("/v1/stuck", [&](const HttpRequest&) {
    entered.set_value();
    released.wait();
    return HttpResponse::Text(200, "too late");
  });
  HttpServerOptions options = LocalOptions();
  options.stop_grace = 50ms;
  options.receive_timeout = 60s;
  auto server = MustStart(std::move(router), options);
  ASSERT_NE(server, nullptr);
  const uint16_t port = server->port();

  Poco::Net::StreamSocket stalled(Poco::Net::SocketAddress("127.0.0.1", port));
  auto client = std::async(std::launch::async, [&] { return Get(port, "/v1/stuck"); });
  entered.get_future().wait();
  auto stopper = std::async(std::launch::async, [&] { server->Stop(); });

  // After the grace the connection is shut down under the stuck handler: the
  // client sees the connection end while the handler is still blocked.
  Reply reply = client.get();
  EXPECT_EQ(reply.status, -1) << reply.body;
  release.set_value();
  stopper.get();
  stalled.setReceiveTimeout(Poco::Timespan(10, 0));
  char byte;
  EXPECT_EQ(stalled.receiveBytes(&byte, 1), 0);
}

TEST(HttpServer, BadListenAddressIsInvalidArgumentNamingIt) {
  for (const char* address : {"nonsense", "127.0.0.1", "127.0.0.1:http", "127.0.0.1:70000", "127.0.0.1:",
                              "::1:80", "[::1:80"}) {
    HttpServerOptions options;
    options.listen_address = address;
    Result<std::unique_ptr<HttpServer>> server = HttpServer::Start(options, Router());
    ASSERT_FALSE(server.ok()) << address;
    EXPECT_EQ(server.status().code(), StatusCode::kInvalidArgument) << server.status();
    EXPECT_THAT(server.status().message(), HasSubstr(std::string("'") + address + "'"));
  }
  HttpServerOptions options = LocalOptions();
  options.threads = 0;
  EXPECT_EQ(HttpServer::Start(options, Router()).status().code(), StatusCode::kInvalidArgument);
}

TEST(HttpServer, PortInUseIsUnavailableNamingTheAddress) {
  auto first = MustStart(Router());
  ASSERT_NE(first, nullptr);
  HttpServerOptions options;
  options.listen_address = "127.0.0.1:" + std::to_string(first->port());
  Result<std::unique_ptr<HttpServer>> second = HttpServer::Start(options, Router());
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kUnavailable) << second.status();
  EXPECT_THAT(second.status().message(), HasSubstr(options.listen_address));
  EXPECT_THAT(second.status().message(), HasSubstr("in use"));
  EXPECT_EQ(Get(first->port(), "/healthz").status, 200);
}

TEST(HttpServer, ConflictingRoutesFailStart) {
  Router router;
  router.Get("/healthz", Echo);  // the server's own probe
  Result<std::unique_ptr<HttpServer>> server = HttpServer::Start(LocalOptions(), std::move(router));
  ASSERT_FALSE(server.ok());
  EXPECT_EQ(server.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(server.status().message(), HasSubstr("/healthz"));
}

// --- No sockets below. ---

TEST(HttpRouter, RegistrationErrorsAreKeptAndNamed) {
  EXPECT_THAT(Router().Get("v1/x", Echo).status().message(), HasSubstr("start with '/'"));
  EXPECT_THAT(Router().Get("/v1/{x", Echo).status().message(), HasSubstr("{x"));
  EXPECT_THAT(Router().Get("/v1/{}", Echo).status().message(), HasSubstr("{}"));
  EXPECT_THAT(Router().Get("/v1/{a}/{a}", Echo).status().message(), HasSubstr("repeated"));
  EXPECT_THAT(Router().Get("/v1/{a}", Echo).Get("/v1/{b}", Echo).status().message(), HasSubstr("same as"));
  EXPECT_THAT(Router().Handle("get", "/x", Echo).status().message(), HasSubstr("upper-case"));
  EXPECT_TRUE(Router().Get("/v1/{a}", Echo).Put("/v1/{b}", Echo).Get("/v1/a", Echo).status().ok());
}

TEST(HttpRouter, FindDecodesSegmentsAndRejectsBadEscapes) {
  Router router;
  router.Get("/v1/targets/{name}", Echo);
  Result<Router::Match> match = router.Find("GET", "/v1/targets/a%20b");
  ASSERT_TRUE(match.ok());
  EXPECT_EQ(match->kind, Router::Match::Kind::kFound);
  EXPECT_EQ(match->path_params.at("name"), "a b");
  EXPECT_EQ(router.Find("GET", "/v1/targets/").value().kind, Router::Match::Kind::kNotFound);
  EXPECT_EQ(router.Find("GET", "/v1/targets/%zz").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(router.Find("GET", "*").status().code(), StatusCode::kInvalidArgument);
}

TEST(HttpRouter, HeadFallsBackToGetUnlessRegistered) {
  Router router;
  auto head = [](const HttpRequest&) { return HttpResponse::Text(204, ""); };
  router.Get("/a", Echo).Get("/b", Echo).Handle("HEAD", "/b", head).Put("/c", Echo);
  Result<Router::Match> a = router.Find("HEAD", "/a");
  ASSERT_EQ(a.value().kind, Router::Match::Kind::kFound);
  EXPECT_EQ((*a.value().handler)(HttpRequest()).status, 200);  // the GET route
  Result<Router::Match> b = router.Find("HEAD", "/b");
  ASSERT_EQ(b.value().kind, Router::Match::Kind::kFound);
  EXPECT_EQ((*b.value().handler)(HttpRequest()).status, 204);  // its own HEAD route
  Result<Router::Match> c = router.Find("HEAD", "/c");
  EXPECT_EQ(c.value().kind, Router::Match::Kind::kMethodNotAllowed);
  EXPECT_EQ(c.value().allowed_methods, std::vector<std::string>{"PUT"});
}

TEST(HttpResponse, ErrorMapsStatusCodesToHttp) {
  const std::vector<std::pair<Status, int>> cases = {
      {Status::InvalidArgument("m"), 400},    {Status::NotFound("m"), 404},
      {Status::AlreadyExists("m"), 409},      {Status::Aborted("m"), 409},
      {Status::FailedPrecondition("m"), 412}, {Status::Unauthenticated("m"), 401},
      {Status::PermissionDenied("m"), 403},   {Status::Unavailable("m"), 503},
      {Status::ResourceExhausted("m"), 429},  {Status::DeadlineExceeded("m"), 504},
      {Status::Unimplemented("m"), 501},      {Status::Internal("m"), 500},
      {Status::DataLoss("m"), 500},           {Status::Unknown("m"), 500},
  };
  for (const auto& [status, http] : cases) {
    HttpResponse response = HttpResponse::Error(status);
    EXPECT_EQ(response.status, http) << status;
    EXPECT_EQ(response.content_type, "application/json");
    nlohmann::json body = nlohmann::json::parse(response.body);
    EXPECT_EQ(body["error"]["code"], std::string(StatusCodeName(status.code())));
    EXPECT_EQ(body["error"]["message"], "m");
  }
  EXPECT_EQ(HttpResponse::Error(413, Status::ResourceExhausted("big")).status, 413);
  EXPECT_EQ(HttpResponse::Error(Status::Ok()).status, 500);
  // Invalid UTF-8 in a message is replaced, not thrown.
  EXPECT_EQ(HttpResponse::Error(Status::NotFound("no route for /\xff")).status, 404);
}

TEST(HttpRequest, HeadersAreCaseInsensitiveAndMissingOnesEmpty) {
  HttpRequest request;
  request.headers["Content-Type"] = "application/json";
  EXPECT_EQ(request.Header("content-type"), "application/json");
  EXPECT_EQ(request.Header("CONTENT-TYPE"), "application/json");
  EXPECT_EQ(request.Header("X-Missing"), "");
  EXPECT_EQ(request.PathParam("nope"), "");
  EXPECT_EQ(request.Query("nope"), "");
}

}  // namespace
}  // namespace baton
