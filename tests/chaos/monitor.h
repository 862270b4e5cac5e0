// The monitor: one thread per gateway asking GetState every `interval` (each
// with its own connection and a short deadline, so a stopped gateway delays
// nobody else), and one thread reading every cluster's stored state from
// ZooKeeper; everything goes into the History as observations. The checker
// resolves the epoch each op was served at from them, and checks epochs and
// leases over time.
//
// Thread-safety: Start() and Stop() from one thread. The mesh and the
// history must outlive the monitor.
#pragma once

#include <atomic>
#include <chrono>
#include <thread>
#include <vector>

#include "tests/chaos/history.h"
#include "tests/chaos/mesh.h"

namespace baton::chaos {

class Monitor {
 public:
  Monitor(const Mesh& mesh, History& history, std::chrono::milliseconds interval = std::chrono::milliseconds(20));
  ~Monitor() { Stop(); }
  Monitor(const Monitor&) = delete;
  Monitor& operator=(const Monitor&) = delete;

  void Start();
  void Stop();

 private:
  void PollGateway(int g);
  void PollClusters();

  const Mesh& mesh_;
  History& history_;
  const std::chrono::milliseconds interval_;
  std::atomic<bool> stop_{false};
  std::vector<std::thread> threads_;
};

}  // namespace baton::chaos
