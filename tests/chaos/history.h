// The record of one chaos schedule: every client operation (invoked,
// completed with ok / fail / unknown, with steady-clock times and the gateway
// that answered), and what the monitor saw of every gateway and of every
// cluster's state in ZooKeeper. The checker (checker.h) reads it afterwards.
//
// Vocabulary:
// - A *write* is Insert, Update, Upsert or Remove; a *read* is GetObject.
// - Every write carries a tag unique in the run ("s3/c1/w0/17"), sent as the
//   object's metadata with a vector derived from it (VectorForTag), so a read
//   or the final state names exactly the write it shows.
// - kOk: the write was applied with `timestamp` (clients send timestamp 0,
//   so the gateway assigns one above the stored version: an OK write always
//   takes effect); the read answered (found or NOT_FOUND).
// - kFail: the write was certainly not applied (ALREADY_EXISTS, NOT_FOUND,
//   INVALID_ARGUMENT, or refused before it was logged: not the active, no
//   role, handing over, fenced at admission, never sent); the read got no
//   answer.
// - kUnknown: the write may or may not have been applied (timeout, sync
//   timeout, lost lease or role while waiting, connection cut).
//
// Thread-safety: History is thread-safe (clients and the monitor record
// concurrently); the checker reads a snapshot after every writer stopped.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "baton/v1/control.pb.h"
#include "common/mutex.h"

namespace baton::chaos {

using SteadyTime = std::chrono::steady_clock::time_point;

enum class OpType { kInsert, kUpdate, kUpsert, kRemove, kGet };
enum class Outcome { kPending, kOk, kFail, kUnknown };

const char* OpTypeName(OpType type);
const char* OutcomeName(Outcome outcome);
inline bool IsWrite(OpType type) { return type != OpType::kGet; }
inline bool IsPut(OpType type) { return type == OpType::kInsert || type == OpType::kUpdate || type == OpType::kUpsert; }

struct Op {
  uint64_t index = 0;  // position in the history (invocation order)
  int cluster = 0;     // index of the client's cluster
  int client = 0;      // index of the client within its cluster
  OpType type = OpType::kGet;
  std::string key;  // object id
  std::string tag;  // writes: unique in the run
  Outcome outcome = Outcome::kPending;
  int code = -1;  // gRPC status code of the answer
  std::string message;
  int gateway = -1;  // global gateway index the call went to
  SteadyTime invoked{};
  SteadyTime completed{};
  // kOk writes: the stored version's timestamp. Found reads: the object's.
  int64_t timestamp = 0;
  // Reads answered kOk: found or NOT_FOUND, the tag (metadata) found and
  // whether its vector is the one VectorForTag gives.
  bool found = false;
  std::string read_tag;
  bool read_vector_ok = true;
  // The gateway's epoch while it served the call, when the monitor saw the
  // same epoch on it right before and right after (0: unknown).
  uint64_t epoch = 0;
};

// What one GetState of a gateway answered (or that it did not).
struct GatewayObservation {
  int gateway = -1;
  SteadyTime sent{};
  SteadyTime received{};
  bool ok = false;
  v1::Role role = v1::ROLE_UNSPECIFIED;
  uint64_t epoch = 0;
  int64_t lease_remaining_ms = 0;
  bool fenced = false;
};

// A cluster's state as stored in ZooKeeper, read by the monitor.
struct ClusterStateObservation {
  int cluster = -1;
  SteadyTime at{};
  uint64_t epoch = 0;
  std::string active;
};

// What a schedule ends with, per cluster: the final object of every key
// (read from the cluster's active after quiescence).
struct FinalObject {
  bool found = false;
  std::string tag;
  int64_t timestamp = 0;
  bool vector_ok = true;
};

class History {
 public:
  // Records an invocation; returns the op's index for Complete().
  uint64_t Invoke(Op op) EXCLUDES(mu_);
  void Complete(uint64_t index, Outcome outcome, int code, std::string message, int64_t timestamp = 0,
                bool found = false, std::string read_tag = "", bool read_vector_ok = true) EXCLUDES(mu_);
  void Observe(const GatewayObservation& observation) EXCLUDES(mu_);
  void Observe(const ClusterStateObservation& observation) EXCLUDES(mu_);

  std::vector<Op> ops() const EXCLUDES(mu_);
  std::vector<GatewayObservation> gateway_observations() const EXCLUDES(mu_);
  std::vector<ClusterStateObservation> cluster_observations() const EXCLUDES(mu_);

 private:
  mutable Mutex mu_;
  std::vector<Op> ops_ GUARDED_BY(mu_);
  std::vector<GatewayObservation> gateway_observations_ GUARDED_BY(mu_);
  std::vector<ClusterStateObservation> cluster_observations_ GUARDED_BY(mu_);
};

// The vector a write with `tag` carries (dimension `dimension`).
std::vector<float> VectorForTag(const std::string& tag, int dimension);

// "#12 c1/w0 upsert k3 tag=s0/c1/w0/5 -> OK ts=... g2 e3 [+120ms, 3ms]"
// (times relative to `origin`).
std::string DescribeOp(const Op& op, SteadyTime origin, const std::vector<std::string>& gateway_names,
                       const std::vector<std::string>& cluster_names);

}  // namespace baton::chaos
