// baton-agent: looks after one gateway instance for the arbiter.
#include <iostream>

#include <spdlog/spdlog.h>

#include "common/daemon.h"
#include "common/logging.h"
#include "instance-agent/agent.h"
#include "instance-agent/agent_config.h"

int main(int argc, char** argv) {
  baton::BlockTerminationSignals();
  const baton::Config config = baton::LoadConfigOrExit(baton::agent::AgentConfigSchema(), "baton-agent", argc, argv);
  baton::InitLoggingFromConfig("agent", config);
  baton::agent::Agent agent(config);
  if (baton::Status s = agent.Start(); !s.ok()) {
    spdlog::critical("cannot start: {}", s.ToString());
    // A bad value is a config error (exit 2, as LoadConfigOrExit does).
    if (s.code() == baton::StatusCode::kInvalidArgument) {
      std::cerr << "baton-agent: config error: " << s.message() << "\n";
      return 2;
    }
    return 1;
  }
  // Serving from here on, whether or not the gateway and an arbiter answer
  // yet (that is what /readyz and the status line say); an unreachable peer
  // is no reason to restart, and ready() reads the probe under its lock.
  const std::string gateway = config.GetString("agent.gateway");
  const auto status = [&]() -> std::string {
    if (agent.ready()) return "ready: gateway " + gateway + " answers, arbiter stream up";
    return "waiting for gateway " + gateway + " to answer and for an arbiter stream";
  };
  return baton::ServeUntilTerminated({.status = status}, [&] { agent.Stop(); });
}
