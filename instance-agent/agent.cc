#include "instance-agent/agent.h"

#include <spdlog/spdlog.h>

namespace baton::agent {

Agent::Agent(const Config& config) : config_(config), metrics_("agent") {}

Agent::~Agent() { Stop(); }

Status Agent::Start() {
  HttpServerOptions options;
  options.listen_address = config_.GetString("http.listen");
  options.metrics = &metrics_;
  auto http = HttpServer::Start(options, Router());
  if (!http.ok()) return http.status().WithContext("http.listen");
  http_ = std::move(http).value();
  spdlog::info("http listening on port {}", http_->port());
  return Status::Ok();
}

void Agent::Stop() {
  if (http_) http_->Stop();
}

}  // namespace baton::agent
