// baton-chaos: randomized fault schedules against the real binaries, with a
// history checker (docs/testing.md, "Randomized fault schedules").
//
//   baton-chaos --schedules 20 --seed 42 [--clusters 2|3] [--duration-s 5]
//
// Prints the seed first; schedule i runs with seed + i, and
// `--seed <that> --schedules 1` replays it. Exit 0 when every schedule
// passed, 1 when one failed, 2 on bad flags, 77 when ZooKeeper is not
// installed (CTest counts that as skipped).
#include <signal.h>
#include <unistd.h>

#include <cstdlib>
#include <cstring>
#include <iostream>
#include <random>
#include <sstream>
#include <string>
#include <thread>

#include <spdlog/spdlog.h>

#include "common/process.h"
#include "tests/chaos/netns.h"
#include "tests/chaos/runner.h"
#include "tests/support/zookeeper_server.h"

namespace {

using baton::chaos::RunOptions;

int signal_pipe[2] = {-1, -1};

void OnSignal(int signal) {
  const unsigned char s = static_cast<unsigned char>(signal);
  (void)!::write(signal_pipe[1], &s, 1);
}

// On SIGINT / SIGTERM: remove the network namespaces this run created, then
// exit; the children die with us (PR_SET_PDEATHSIG).
void WatchSignals() {
  if (::pipe(signal_pipe) != 0) return;
  struct sigaction action {};
  action.sa_handler = OnSignal;
  ::sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  std::thread([] {
    unsigned char s = 0;
    while (::read(signal_pipe[0], &s, 1) != 1) {
    }
    std::cerr << "\nbaton-chaos: " << ::strsignal(s) << ": removing network namespaces and exiting" << std::endl;
    for (const std::string& ns : baton::chaos::Network::LiveNamespaces()) {
      auto child = baton::ChildProcess::Spawn({.argv = {"ip", "netns", "del", ns}});
      if (child.ok()) (void)(*child)->Wait(std::chrono::seconds(5));
    }
    ::_exit(128 + s);
  }).detach();
}

[[noreturn]] void Usage(const std::string& problem) {
  if (!problem.empty()) std::cerr << "baton-chaos: " << problem << "\n";
  std::cerr << "usage: baton-chaos [--schedules N] [--seed S] [--clusters 2|3] [--duration-s D]\n"
               "                   [--keys K] [--clients-per-cluster C] [--faults MIN-MAX] [--max-concurrent M]\n"
               "                   [--quiesce-timeout-s T] [--schedules-per-mesh N] [--lease-ms L]\n"
               "                   [--no-netns] [--stop-on-failure] [--keep] [--log-level LEVEL]\n";
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  RunOptions options;
  std::random_device device;
  options.seed = (static_cast<uint64_t>(device()) << 20) ^ device();
  options.seed %= 1'000'000'000'000ull;
  bool seed_given = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) Usage(flag + " needs a value");
      return argv[++i];
    };
    auto number = [&](long long lo, long long hi) -> long long {
      const std::string v = value();
      char* end = nullptr;
      const long long n = std::strtoll(v.c_str(), &end, 10);
      if (v.empty() || *end != '\0' || n < lo || n > hi) {
        Usage(flag + " " + v + ": expected an integer in [" + std::to_string(lo) + ", " + std::to_string(hi) + "]");
      }
      return n;
    };
    if (flag == "--schedules") {
      options.schedules = static_cast<int>(number(1, 1'000'000));
    } else if (flag == "--seed") {
      options.seed = static_cast<uint64_t>(number(0, 1'000'000'000'000'000'000ll));
      seed_given = true;
    } else if (flag == "--clusters") {
      options.clusters = static_cast<int>(number(2, 3));
    } else if (flag == "--duration-s") {
      const std::string v = value();
      char* end = nullptr;
      const double d = std::strtod(v.c_str(), &end);
      if (v.empty() || *end != '\0' || d < 1 || d > 3600) Usage("--duration-s " + v + ": expected 1..3600 seconds");
      options.duration_ms = static_cast<int>(d * 1000);
    } else if (flag == "--keys") {
      options.keys = static_cast<int>(number(1, 10000));
    } else if (flag == "--clients-per-cluster") {
      options.clients_per_cluster = static_cast<int>(number(1, 32));
    } else if (flag == "--faults") {
      const std::string v = value();
      int lo = 0, hi = 0;
      char dash = 0;
      std::istringstream in(v);
      if (!(in >> lo >> dash >> hi) || dash != '-' || lo < 0 || hi < lo || hi > 100) {
        Usage("--faults " + v + ": expected MIN-MAX, e.g. 2-4");
      }
      options.nemesis.min_faults = lo;
      options.nemesis.max_faults = hi;
    } else if (flag == "--max-concurrent") {
      options.nemesis.max_concurrent = static_cast<int>(number(1, 10));
    } else if (flag == "--quiesce-timeout-s") {
      options.quiesce_timeout_ms = static_cast<int>(number(5, 3600)) * 1000;
    } else if (flag == "--schedules-per-mesh") {
      options.schedules_per_mesh = static_cast<int>(number(0, 1'000'000));
    } else if (flag == "--lease-ms") {
      options.mesh.lease_ms = static_cast<uint32_t>(number(200, 60000));
    } else if (flag == "--no-netns") {
      options.use_netns = false;
    } else if (flag == "--keep") {
      options.keep_run_dirs = true;
    } else if (flag == "--stop-on-failure") {
      options.keep_going = false;
    } else if (flag == "--log-level") {
      options.mesh.log_level = value();
    } else if (flag == "--help" || flag == "-h") {
      Usage("");
    } else {
      Usage("unknown flag " + flag);
    }
  }
  if (const char* env = std::getenv("BATON_CHAOS_SEED"); !seed_given && env != nullptr && *env != '\0') {
    options.seed = std::strtoull(env, nullptr, 10);
    seed_given = true;
  }
  std::cout << "baton-chaos seed " << options.seed << (seed_given ? "" : " (random)") << ": " << options.schedules
            << " schedule(s), " << options.clusters << " clusters, " << options.duration_ms / 1000.0
            << " s of faults each" << std::endl;
  if (!baton::testing::ZookeeperAvailable()) {
    std::cout << "SKIPPED: " << baton::testing::ZookeeperUnavailableReason() << std::endl;
    return 77;
  }
  if (std::getenv("BATON_BUILD_DIR") == nullptr) {
    // Run by hand: the build dir is three levels above <build>/tests/chaos/baton-chaos.
    char exe[4096] = {};
    const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
    std::string path(exe, n > 0 ? static_cast<size_t>(n) : 0);
    for (int up = 0; up < 3 && path.rfind('/') != std::string::npos; ++up) path.resize(path.rfind('/'));
    ::setenv("BATON_BUILD_DIR", path.c_str(), 0);
  }
  WatchSignals();
  // The ZooKeeper client's connection chatter. The default logger's own
  // level, not spdlog::set_level: that one locks the registry inside
  // libspdlog, whose calls TSan's suppressions hide, so TSan took the
  // unlock it saw for an unlock of an unlocked mutex.
  spdlog::default_logger()->set_level(spdlog::level::err);
  // Gateways run with small snapshots and segments so that snapshots, log
  // trimming and snapshot catch-up happen under the faults too.
  options.mesh.gateway_args = {"--replication.sync_timeout_ms", "2000",  "--mirror.cursor_interval_ms", "100",
                               "--mirror.timeout_ms",           "1500",  "--snapshot.interval_records", "3000",
                               "--wal.segment_bytes",           "1048576"};
  baton::chaos::Runner runner(options, std::cout);
  return runner.Run() == 0 ? 0 : 1;
}
