// baton-gateway: the durable vector object store behind the client API.
#include <spdlog/spdlog.h>

#include "common/daemon.h"
#include "common/logging.h"
#include "gateway/gateway_config.h"
#include "gateway/gateway_server.h"

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
  return baton::ServeUntilTerminated([&] { return (*server)->wal().poison_status().ok(); },
                                     [&] { (*server)->Stop(); });
}
