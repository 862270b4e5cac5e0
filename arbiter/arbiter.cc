#include "arbiter/arbiter.h"

#include <prometheus/gauge.h>
#include <spdlog/spdlog.h>

namespace baton::arbiter {

Arbiter::Arbiter(const Config& config) : config_(config), metrics_("arbiter") {
  zk_connected_gauge_ = &prometheus::BuildGauge()
                             .Name("baton_arbiter_zookeeper_connected")
                             .Help("1 while this replica has a live ZooKeeper session")
                             .Register(metrics_.registry())
                             .Add({});
}

Arbiter::~Arbiter() { Stop(); }

Status Arbiter::Start() {
  HttpServerOptions http_options;
  http_options.listen_address = config_.GetString("http.listen");
  http_options.bearer_token = config_.GetString("api.token");
  http_options.metrics = &metrics_;
  http_options.ready = [this] { return zookeeper_connected(); };
  auto http = HttpServer::Start(http_options, Router());
  if (!http.ok()) return http.status().WithContext("http.listen");
  http_ = std::move(http).value();
  spdlog::info("http listening on port {}", http_->port());
  connector_ = std::thread([this] { ConnectLoop(); });
  return Status::Ok();
}

void Arbiter::ConnectLoop() {
  std::string connect;
  for (const auto& server : config_.GetStringList("zookeeper.connect")) {
    connect += (connect.empty() ? "" : ",") + server;
  }
  ZkOptions options;
  options.connect_string = connect;
  options.session_timeout_ms = static_cast<int>(config_.GetInt("zookeeper.session_timeout_ms"));
  options.on_state = [this](ZkState state) {
    bool connected = state == ZkState::kConnected;
    zk_connected_ = connected;
    zk_connected_gauge_->Set(connected ? 1 : 0);
    spdlog::info("zookeeper {}", ZkStateName(state));
  };
  auto client = ZkClient::ConnectWithRetry(options, [this] { return stopping_.load(); });
  if (!client.ok()) return;  // stopping
  zk_ = std::move(client).value();
  zk_connected_ = zk_->state() == ZkState::kConnected;
  zk_connected_gauge_->Set(zk_connected_ ? 1 : 0);
  Status s = zk_->EnsurePath(config_.GetString("zookeeper.root"));
  if (!s.ok()) spdlog::error("cannot create zookeeper.root: {}", s.ToString());
  spdlog::info("connected to zookeeper {} (session 0x{:x})", connect, zk_->session_id());
}

void Arbiter::Stop() {
  stopping_ = true;
  if (connector_.joinable()) connector_.join();
  if (http_) http_->Stop();
  zk_.reset();
}

uint16_t Arbiter::http_port() const { return http_ ? http_->port() : 0; }

}  // namespace baton::arbiter
