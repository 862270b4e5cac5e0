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
  return baton::ServeUntilTerminated([] { return true; }, [&] { agent.Stop(); });
}
