// The nemesis: a fault schedule drawn from a seed, then carried out against
// a Mesh on the thread that built it.
//
// A schedule is a list of faults, each with a start and an end (ms from the
// schedule's start), at most `max_concurrent` at once:
//   kill -9 / SIGSTOP of a gateway (the active or a standby of a cluster),
//   of an agent (the active's or a standby's), of an arbiter replica (the
//   leader or a follower); ZooKeeper down; and with network namespaces,
//   partitions: the active from one standby, one cluster from another, a
//   gateway's host from every arbiter.
// The end of a fault undoes it (restart, SIGCONT, start, heal). Targets are
// roles, resolved when the fault starts ("the active of c1" is whoever
// serves as active then); the executed log says who it was.
//
// Thread-compatible; Run() and HealEverything() on the Mesh's thread.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <random>
#include <string>
#include <vector>

#include "tests/chaos/mesh.h"

namespace baton::chaos {

enum class FaultKind {
  kKillGateway,
  kPauseGateway,
  kKillAgent,
  kPauseAgent,
  kKillArbiter,
  kPauseArbiter,
  kZookeeperDown,
  kPartitionActiveStandby,
  kPartitionClusters,
  kPartitionFromArbiters,
};

struct Fault {
  FaultKind kind = FaultKind::kKillGateway;
  int cluster = 0;      // the cluster whose member is hit (or the first of two)
  int other = 0;        // kPartitionClusters: the second cluster
  bool active = true;   // gateway and agent faults: the active's (else a standby's); arbiters: the leader
  int start_ms = 0;
  int end_ms = 0;
};

struct NemesisOptions {
  int duration_ms = 5000;
  int min_faults = 2;
  int max_faults = 4;
  int max_concurrent = 2;
  int min_fault_ms = 300;
  int max_fault_ms = 3000;
  bool partitions = true;  // the mesh has network namespaces
};

// Draws a schedule for `clusters` clusters.
std::vector<Fault> DrawSchedule(std::mt19937_64& rng, const NemesisOptions& options, int clusters);
// "+840..2100ms kill -9 the active gateway of c1"
std::string Describe(const Fault& fault);

class Nemesis {
 public:
  Nemesis(Mesh& mesh, std::vector<Fault> faults, uint64_t seed);

  // Carries the schedule out from `start` until every fault has ended or
  // `stop_at`; `tick` runs between events (at least every 50 ms) so the
  // caller can collect crashed processes.
  void Run(std::chrono::steady_clock::time_point start, const std::function<void()>& tick);
  // Ends every fault still on, then makes sure every process runs, none is
  // stopped, ZooKeeper serves and no partition is left. Returns problems
  // (e.g. a process that cannot be restarted); empty when all went well.
  std::vector<std::string> HealEverything();

  // What was done, one line per action, with times from `start`.
  const std::vector<std::string>& executed() const { return executed_; }

 private:
  struct Applied {
    bool on = false;
    std::string what;
    std::function<Status()> undo;
  };
  void Begin(size_t i);
  void End(size_t i);
  void Log(const std::string& line);
  int ActiveOf(int cluster);
  int StandbyOf(int cluster, int active);

  Mesh& mesh_;
  const std::vector<Fault> faults_;
  std::mt19937_64 rng_;
  std::vector<Applied> applied_;
  std::vector<std::string> executed_;
  std::chrono::steady_clock::time_point start_{};
};

}  // namespace baton::chaos
