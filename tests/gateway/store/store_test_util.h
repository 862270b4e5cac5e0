// Helpers shared by the store and index tests.
#pragma once

#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <random>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "gateway/store/store.h"
#include "gateway/store/write_planner.h"

namespace baton::gateway::testing {

// The record the gateway would log for these outcomes.
inline v1::WriteRecord RecordOf(const std::vector<WriteOutcome>& outcomes, const std::string& mirror_origin = "") {
  v1::WriteRecord record;
  for (const WriteOutcome& o : outcomes) {
    for (const v1::Mutation& m : o.mutations) *record.add_mutations() = m;
  }
  record.set_mirror_origin(mirror_origin);
  return record;
}

// Plans `request` in a batch of its own and applies it, as the gateway does.
inline WriteOutcome Write(ObjectStore& store, const WriteRequest& request) {
  WriteBatchPlanner planner(store);
  WriteOutcome out = planner.Plan(request);
  Status s = store.Apply(RecordOf({out}, request.mirrored ? request.origin_cluster : ""));
  EXPECT_TRUE(s.ok()) << s;
  return out;
}

inline WriteRequest Put(v1::WriteOp op, std::string id, std::vector<float> vector, int64_t ts = 0,
                        std::string origin = "c1", std::string metadata = "") {
  WriteRequest r;
  r.op = op;
  r.id = std::move(id);
  r.vector = std::move(vector);
  r.timestamp = ts;
  r.origin_cluster = std::move(origin);
  r.metadata = std::move(metadata);
  return r;
}

inline std::vector<float> RandomVector(std::mt19937_64& rng, int dimension) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(dimension);
  for (float& x : v) x = dist(rng);
  return v;
}

// A seed from BATON_TEST_SEED when set, else from the clock; printed so that a
// failure can be replayed.
inline uint64_t TestSeed() {
  uint64_t seed;
  if (const char* env = std::getenv("BATON_TEST_SEED")) {
    seed = std::strtoull(env, nullptr, 10);
  } else {
    seed = std::random_device{}();
  }
  std::cout << "seed=" << seed << " (set BATON_TEST_SEED to replay)\n";
  return seed;
}

}  // namespace baton::gateway::testing
