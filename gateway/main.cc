// baton-gateway: the durable vector object store behind the client API.
// This version validates its config and exits; the server arrives with the
// durable-gateway issue.
#include "common/config.h"
#include "common/logging.h"
#include "gateway/gateway_config.h"

int main(int argc, char** argv) {
  const baton::Config config =
      baton::LoadConfigOrExit(baton::gateway::GatewayConfigSchema(), "baton-gateway", argc, argv);
  baton::InitLoggingFromConfig("gateway", config);
  return 0;
}
