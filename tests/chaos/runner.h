// The chaos runner: N schedules, each with its own seed (seed + i), against
// a Mesh that is brought up once and reused while schedules pass (a failing
// schedule's mesh is kept for inspection and a new one is brought up).
//
// One schedule:
//  1. draw the fault schedule from its seed (nemesis.h) and print it;
//  2. start the monitor and the clients (2 per cluster by default) on keys
//     of this schedule only ("s<seed>k<j>"), so histories do not mix;
//  3. carry the faults out for `duration`; then heal everything, let the
//     clients go on for a moment, stop them;
//  4. wait for quiescence (with a deadline): every process running, one
//     active per cluster at the stored epoch with a lease, every other
//     member a standby at that epoch with the active's durable position and
//     digest, every mirror target at lag 0, the same digest everywhere,
//     twice in a row;
//  5. read every key from every cluster's active, and check (checker.h).
// A failure prints the seed, the replay command, the fault schedule as
// planned and as executed, the violations and the ops on the keys involved.
//
// Confined to the thread that calls Run() (it forks the processes).
#pragma once

#include <chrono>
#include <cstdint>
#include <iosfwd>
#include <map>
#include <memory>
#include <string>

#include "tests/chaos/mesh.h"
#include "tests/chaos/nemesis.h"

namespace baton::chaos {

struct RunOptions {
  int schedules = 1;
  uint64_t seed = 0;
  int clusters = 2;
  int duration_ms = 5000;
  int keys = 8;
  int clients_per_cluster = 2;
  int settle_ms = 1000;            // clients keep going this long after the heal
  int quiesce_timeout_ms = 90000;  // a schedule that does not quiesce fails
  int schedules_per_mesh = 0;      // 0: reuse one mesh while schedules pass
  bool use_netns = true;
  bool keep_going = true;          // run the remaining schedules after a failure
  bool keep_run_dirs = false;      // keep every mesh's run directory, not only failing ones
  NemesisOptions nemesis;
  MeshOptions mesh;
};

class Runner {
 public:
  Runner(RunOptions options, std::ostream& out);
  // Runs every schedule; returns the number that failed.
  int Run();

 private:
  struct ScheduleOutcome {
    bool ok = true;
    bool mesh_suspect = false;  // bring up a new mesh before the next schedule
  };
  Status BringUp();
  ScheduleOutcome RunSchedule(int index, uint64_t seed);

  const RunOptions options_;
  std::ostream& out_;
  std::unique_ptr<Mesh> mesh_;
  int schedules_on_mesh_ = 0;
  std::map<std::string, uint64_t> allowed_;  // summed over schedules
  std::map<std::string, uint64_t> stats_;
};

}  // namespace baton::chaos
