// baton-agent: looks after one gateway instance for the arbiter.
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
    return 1;
  }
  baton::NotifyReady("serving");
  baton::Watchdog watchdog([] { return true; });
  int signal = baton::WaitForTerminationSignal();
  spdlog::info("signal {} received, stopping", signal);
  baton::NotifyStopping();
  agent.Stop();
  return 0;
}
