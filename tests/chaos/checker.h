// The history checker: what a chaos schedule's history must satisfy
// (PRODUCT.md §3–§6, docs/failure-semantics.md "The guarantees"), and what
// it may do that is weaker than a linearizable store, counted rather than
// hidden.
//
// Versions are (timestamp, origin cluster), ordered as the store orders them
// (gateway/store/object.h): last writer wins in every cluster.
//
// Violations (each names the keys, clusters and ops involved):
// - final state: for every key, the final object in every cluster is at
//   least as new as the newest acknowledged write to it from any cluster
//   (value, or removal); a value there was written by a write that did not
//   certainly fail, with the timestamp its ack gave and its own vector; an
//   absent key whose newest ack is a put needs a remove of unknown outcome
//   to explain it; every cluster holds the same objects and every gateway
//   reports the same digest;
// - reads: a found object was written (tag known, not certainly failed,
//   invoked before the read completed, the acked timestamp, its vector);
//   reads of one gateway at one epoch never go back (monotonic); a read
//   served at epoch e reflects every write acknowledged in its cluster at an
//   epoch <= e that completed before the read was invoked;
// - epochs: each gateway's epoch and each cluster's stored epoch never go
//   down; no two gateways acknowledged writes in one cluster and epoch; no
//   write is acknowledged at an epoch after a write of a newer epoch of the
//   same cluster was acknowledged (real time); no gateway reports a running
//   lease at an epoch after another gateway of its cluster was seen active at
//   a newer epoch.
//
// Allowed, counted (Report::allowed): reads of writes not yet acknowledged;
// final values from writes of unknown outcome; absences explained only by a
// remove of unknown outcome; stale reads from a gateway at an older epoch
// than the write; reads older than an earlier read from another gateway or
// epoch; ops whose epoch could not be resolved (not checked where the epoch
// matters).
//
// Pure functions over values; thread-compatible.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "tests/chaos/history.h"

namespace baton::chaos {

struct CheckInput {
  std::vector<Op> ops;
  std::vector<GatewayObservation> gateway_observations;
  std::vector<ClusterStateObservation> cluster_observations;
  std::vector<std::string> cluster_names;  // index -> cluster id (the origin in versions)
  std::vector<std::string> gateway_names;  // global gateway index -> instance id
  std::vector<int> gateway_cluster;        // global gateway index -> cluster index
  std::vector<std::string> keys;           // every key the schedule used
  // Per cluster: key -> final object; a key not in the map is absent.
  std::vector<std::map<std::string, FinalObject>> final_state;
  // Per gateway: (digest, object count) at the end; nullopt = not read.
  std::vector<std::optional<std::pair<uint64_t, uint64_t>>> final_digests;
  SteadyTime origin{};  // for relative times in messages
};

struct CheckReport {
  std::vector<std::string> violations;
  std::set<std::string> keys;  // keys named by a violation
  std::set<int> clusters;      // clusters named by a violation
  std::map<std::string, uint64_t> allowed;
  std::map<std::string, std::string> allowed_example;
  std::map<std::string, uint64_t> stats;
  bool ok() const { return violations.empty(); }
};

// Fills Op::epoch from the gateway observations: an op gets epoch e when the
// last answered GetState of its gateway before the invocation and the first
// one sent after the completion both say e (a gateway's epoch never goes
// down, so it served the whole call at e).
void ResolveEpochs(std::vector<Op>& ops, const std::vector<GatewayObservation>& observations);

// Resolves the epochs of input.ops (in place, so that MinimalLog shows
// them) and runs every check above.
CheckReport Check(CheckInput& input);

// The ops on `keys` in invocation order, one line each, and the epoch and
// role changes of the gateways and clusters in `clusters`: what a failing
// schedule prints to be understood.
std::string MinimalLog(const CheckInput& input, const std::set<std::string>& keys, const std::set<int>& clusters,
                       size_t max_lines = 400);

}  // namespace baton::chaos
