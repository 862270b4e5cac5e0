// baton-arbiter: elects actives over ZooKeeper and answers operators.
#include <spdlog/spdlog.h>

#include "arbiter/arbiter.h"
#include "arbiter/arbiter_config.h"
#include "common/daemon.h"
#include "common/logging.h"

int main(int argc, char** argv) {
  baton::BlockTerminationSignals();
  const baton::Config config =
      baton::LoadConfigOrExit(baton::arbiter::ArbiterConfigSchema(), "baton-arbiter", argc, argv);
  baton::InitLoggingFromConfig("arbiter", config);
  baton::arbiter::Arbiter arbiter(config);
  if (baton::Status s = arbiter.Start(); !s.ok()) {
    spdlog::critical("cannot start: {}", s.ToString());
    return 1;
  }
  // ZooKeeper being down is no reason to restart (the supervisor reconnects),
  // so health is not checked beyond the status line being readable (a
  // follower's reads the leader under the arbiter's lock, so a deadlock there
  // stops the watchdog pings as well).
  const auto status = [&]() -> std::string {
    const std::string replica = " (replica " + arbiter.id() + ")";
    if (!arbiter.zookeeper_connected()) return "connecting to ZooKeeper" + replica;
    if (arbiter.is_leader()) return "leader" + replica;
    const auto leader = arbiter.leader();
    return (leader ? "follower of " + leader->id : std::string("follower, no leader yet")) + replica;
  };
  return baton::ServeUntilTerminated({.status = status}, [&] { arbiter.Stop(); });
}
