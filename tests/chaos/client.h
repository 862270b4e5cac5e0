// A chaos client: one thread doing Insert / Update / Upsert / Remove /
// GetObject on random keys of a small key space (so that ids collide, also
// across clusters), against whichever gateway of its cluster it believes
// active, recording every call in the History (history.h).
//
// Following the active, as a Baton client library should: UNAVAILABLE with
// `baton-active` moves it to the gateway named; any other failure that is
// not an answer about the data (timeout, refused, fenced) moves it to the
// next member. A gateway that just timed out is avoided for `suspect_for`.
//
// Each call has its own deadline; the loop is bounded by `max_ops` and by
// Stop(). Thread-safety: Start() and Stop() from one thread. The mesh and
// the history must outlive the client.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "tests/chaos/history.h"
#include "tests/chaos/mesh.h"

namespace baton::chaos {

struct ClientOptions {
  int cluster = 0;
  int client = 0;
  std::string tag_prefix;  // "s3/": makes tags unique across schedules
  std::vector<std::string> keys;
  uint64_t seed = 0;
  std::chrono::milliseconds rpc_timeout{1000};
  uint64_t max_ops = 100000;
  std::chrono::milliseconds pause_after_answer{3};
  std::chrono::milliseconds pause_after_failure{20};
  std::chrono::milliseconds suspect_for{1000};
  int dimension = 4;
};

class Client {
 public:
  Client(const Mesh& mesh, History& history, ClientOptions options);
  ~Client() { Stop(); }
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  void Start();
  void Stop();

 private:
  void Run();

  const Mesh& mesh_;
  History& history_;
  const ClientOptions options_;
  std::atomic<bool> stop_{false};
  std::thread thread_;
};

// How a write's failure is classified: kFail when the gateway certainly did
// not apply it (it answered about the data, or refused the call before
// logging it, or the call never left), kUnknown otherwise. Exposed for tests.
Outcome ClassifyWriteFailure(int code, const std::string& message);

}  // namespace baton::chaos
