#include "instance-agent/agent_config.h"

namespace baton::agent {

ConfigSchema AgentConfigSchema() {
  ConfigSchema schema = ConfigSchema::WithCommonKeys("127.0.0.1:7785");
  schema.Address("agent.gateway", "127.0.0.1:7700", "gRPC address of the gateway this agent looks after")
      .String("agent.gateway_pid_file", "",
              "Pid file of the gateway; lets the agent see the process exit at once (empty: judge by refused "
              "connections)")
      .String("agent.advertise_address", "",
              "Address of the gateway reported to the arbiter for clients and peers (empty: agent.gateway)")
      .Int("agent.priority", 1, 0, 1'000'000,
           "Promotion priority of this instance; 0 = never promote it nor count it as a sync standby")
      .Int("agent.probe_interval_ms", 25, 1, 10'000, "Interval between probes of the gateway (GetState + pid)")
      .Int("agent.probe_timeout_ms", 200, 1, 60'000,
           "Deadline of each probe and of each AssignRole/RenewLease call to the gateway")
      .List("arbiter.addresses", "", "gRPC addresses of the arbiter replicas (at least one)")
      .Int("heartbeat_ms", 100, 10, 10'000, "Interval of heartbeats to the arbiter");
  return schema;
}

}  // namespace baton::agent
