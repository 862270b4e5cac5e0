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
  return baton::ServeUntilTerminated([] { return true; }, [&] { arbiter.Stop(); });
}
