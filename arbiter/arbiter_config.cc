#include "arbiter/arbiter_config.h"

namespace baton::arbiter {

ConfigSchema ArbiterConfigSchema() {
  ConfigSchema schema = ConfigSchema::WithCommonKeys("127.0.0.1:7790");
  schema.Address("grpc.listen", "127.0.0.1:7791", "host:port for agent heartbeat streams (gRPC)")
      .String("arbiter.id", "", "Name of this replica in logs, status and the election (empty: host:grpc port)")
      .String("arbiter.advertise_grpc", "",
              "gRPC address agents use to reach this replica when it leads (empty: grpc.listen)")
      .String("arbiter.advertise_http", "", "REST address of this replica for operators (empty: http.listen)")
      .List("zookeeper.connect", "127.0.0.1:2181", "ZooKeeper servers, host:port,host:port")
      .String("zookeeper.root", "/baton", "Root znode under which all Baton state lives")
      .Int("zookeeper.session_timeout_ms", 4000, 1000, 60000,
           "ZooKeeper session timeout; longer than a lease so a ZooKeeper hiccup does not depose the leader first")
      .Int("lease_ms", 2000, 200, 60000, "How long an active may acknowledge writes after its last lease renewal")
      .Int("lease_margin_ms", 40, 0, 10000,
           "Added to every lease bound before promoting: clock rate differences and delivery time")
      .Bool("failsafe", true,
            "Let an active outlive its lease while every standby acks and none can reach the arbiter "
            "(arbiter or ZooKeeper down)")
      .Int("decision_interval_ms", 10, 1, 1000, "How often the leader evaluates every cluster")
      .Int("status.publish_interval_ms", 500, 50, 60000,
           "How often the leader publishes what it observes (positions, health) for followers' REST answers")
      .List("mirror.targets", "",
            "Mirror targets created in ZooKeeper at start-up when none of that name exists yet, "
            "NAME=CLUSTER@HOST:PORT[+HOST:PORT...] (REST changes are never overwritten)")
      .Int("events.max_history", 1000, 10, 100000, "Events kept in ZooKeeper for GET /v1/events")
      .Add({.name = "api.token", .type = ConfigType::kString,
            .help = "Bearer token required on REST mutations (empty = no auth)", .secret = true});
  return schema;
}

}  // namespace baton::arbiter
