// baton-gateway: the durable vector object store behind the client API.
#include <cctype>
#include <string>

#include <spdlog/spdlog.h>

#include "common/daemon.h"
#include "common/logging.h"
#include "gateway/gateway_config.h"
#include "gateway/gateway_server.h"

namespace {

// For `systemctl status`: "active, epoch 3, cluster c1, instance g1", plus
// what keeps the gateway from taking writes.
std::string StatusLine(const baton::v1::GetStateResponse& state) {
  std::string role = baton::v1::Role_Name(state.role());
  if (role.starts_with("ROLE_")) role = role.substr(5);
  for (char& c : role) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  std::string line = role + ", epoch " + std::to_string(state.epoch());
  if (!state.cluster().empty()) line += ", cluster " + state.cluster();
  if (!state.instance_id().empty()) line += ", instance " + state.instance_id();
  if (state.fenced()) line += ", fenced (lease expired)";
  if (state.handing_over()) line += ", handing over";
  if (state.health() != baton::v1::HEALTH_OK) line += ", degraded (log poisoned)";
  return line;
}

}  // namespace

int main(int argc, char** argv) {
  baton::BlockTerminationSignals();
  const baton::Config config =
      baton::LoadConfigOrExit(baton::gateway::GatewayConfigSchema(), "baton-gateway", argc, argv);
  baton::InitLoggingFromConfig("gateway", config);
  auto server = baton::gateway::GatewayServer::Start(config);
  if (!server.ok()) {
    spdlog::critical("cannot start: {}", server.status().ToString());
    return 1;
  }
  return baton::ServeUntilTerminated({.healthy = [&] { return (*server)->CheckAlive().ok(); },
                                      .status = [&] { return StatusLine((*server)->State()); }},
                                     [&] { (*server)->Stop(); });
}
