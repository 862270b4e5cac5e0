#include "instance-agent/agent_config.h"

namespace baton::agent {

ConfigSchema AgentConfigSchema() {
  ConfigSchema schema = ConfigSchema::WithCommonKeys("127.0.0.1:7785");
  schema.Address("agent.gateway", "127.0.0.1:7700", "gRPC address of the gateway this agent looks after")
      .String("agent.gateway_pid_file", "", "Pid file of the gateway; lets the agent see the process exit at once")
      .List("arbiter.addresses", "", "gRPC addresses of the arbiter replicas")
      .Int("heartbeat_ms", 100, 10, 10000, "Interval of heartbeats to the arbiter");
  return schema;
}

}  // namespace baton::agent
