// Helpers for the in-process gateway tests (client API, recovery, disk full):
// a config for a GatewayServer in a temp dir on ephemeral ports, a gRPC stub
// to it, and small request builders.
#pragma once

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdlib>
#include <iostream>
#include <map>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "baton/v1/gateway.grpc.pb.h"
#include "common/config.h"
#include "gateway/gateway_config.h"

namespace baton::gateway::testing {

using Flags = std::vector<std::pair<std::string, std::string>>;

// A config for a gateway whose data lives in `data_dir`, listening on
// 127.0.0.1 port 0 (gRPC and HTTP). `extra` flags are added after (and so
// override) the defaults.
inline Config GatewayTestConfig(const std::string& data_dir, const Flags& extra = {}, int dimension = 4) {
  ConfigInputs inputs;
  inputs.flags = {{"data_dir", data_dir},
                  {"index.dimension", std::to_string(dimension)},
                  {"grpc.listen", "127.0.0.1:0"},
                  {"http.listen", "127.0.0.1:0"},
                  {"instance.cluster", "c1"}};
  for (const auto& flag : extra) {
    bool replaced = false;
    for (auto& existing : inputs.flags) {
      if (existing.first == flag.first) {
        existing.second = flag.second;
        replaced = true;
      }
    }
    if (!replaced) inputs.flags.push_back(flag);
  }
  auto config = Config::Load(GatewayConfigSchema(), inputs);
  if (!config.ok()) {
    ADD_FAILURE() << "test config does not load: " << config.status();
    std::abort();
  }
  return std::move(config).value();
}

inline std::unique_ptr<v1::Gateway::Stub> ConnectGateway(uint16_t port) {
  return v1::Gateway::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(port), grpc::InsecureChannelCredentials()));
}

// A context with a deadline, so that a hung server fails the test instead of
// hanging it.
inline std::unique_ptr<grpc::ClientContext> Ctx(std::chrono::milliseconds timeout = std::chrono::seconds(10)) {
  auto context = std::make_unique<grpc::ClientContext>();
  context->set_deadline(std::chrono::system_clock::now() + timeout);
  return context;
}

inline v1::Object MakeObject(const std::string& id, const std::vector<float>& vector, int64_t timestamp = 0,
                             const std::string& metadata = "") {
  v1::Object object;
  object.set_id(id);
  object.mutable_vector()->Add(vector.begin(), vector.end());
  object.set_timestamp(timestamp);
  object.set_metadata(metadata);
  return object;
}

inline std::vector<float> VectorOf(const v1::Object& object) {
  return std::vector<float>(object.vector().begin(), object.vector().end());
}

inline std::vector<float> RandomVector(std::mt19937_64& rng, int dimension) {
  std::uniform_real_distribution<float> dist(-1.0f, 1.0f);
  std::vector<float> v(static_cast<size_t>(dimension));
  for (float& x : v) x = dist(rng);
  return v;
}

// BATON_TEST_SEED when set, else from the clock; printed so a failure can be
// replayed.
inline uint64_t TestSeed() {
  uint64_t seed;
  if (const char* env = std::getenv("BATON_TEST_SEED")) {
    seed = std::strtoull(env, nullptr, 10);
  } else {
    seed = static_cast<uint64_t>(std::chrono::steady_clock::now().time_since_epoch().count());
  }
  std::cout << "seed: " << seed << " (replay with BATON_TEST_SEED=" << seed << ")" << std::endl;
  return seed;
}

// The stored object, or nullopt on NOT_FOUND (any other code fails the test).
inline std::optional<v1::Object> GetObject(v1::Gateway::Stub& stub, const std::string& id) {
  v1::GetObjectRequest request;
  request.set_id(id);
  v1::Object object;
  auto context = Ctx();
  grpc::Status status = stub.GetObject(context.get(), request, &object);
  if (status.error_code() == grpc::StatusCode::NOT_FOUND) return std::nullopt;
  EXPECT_TRUE(status.ok()) << "GetObject(" << id << "): " << status.error_code() << " " << status.error_message();
  if (!status.ok()) return std::nullopt;
  return object;
}

// What a client saw acknowledged, per id: the object (with the timestamp the
// gateway answered) or nullopt for removed. Thread-compatible.
struct AckedState {
  std::map<std::string, std::optional<v1::Object>> objects;
  int64_t max_timestamp = 0;

  void Put(v1::Object object) {
    max_timestamp = std::max(max_timestamp, object.timestamp());
    std::string id = object.id();
    objects[id] = std::move(object);
  }
  void Remove(const std::string& id, int64_t timestamp) {
    max_timestamp = std::max(max_timestamp, timestamp);
    objects[id] = std::nullopt;
  }
  size_t live() const {
    size_t n = 0;
    for (const auto& [id, object] : objects) n += object.has_value();
    return n;
  }

  // Every acknowledged write is what the gateway serves: same vector,
  // metadata and timestamp, or NOT_FOUND for a remove.
  void ExpectServedBy(v1::Gateway::Stub& stub) const {
    int mismatches = 0;
    for (const auto& [id, want] : objects) {
      std::optional<v1::Object> got = GetObject(stub, id);
      const bool same = want.has_value() == got.has_value() &&
                        (!want || want->SerializeAsString() == got->SerializeAsString());
      if (!same && ++mismatches <= 10) {
        ADD_FAILURE() << "object " << id << ": acknowledged "
                      << (want ? want->ShortDebugString() : std::string("removed")) << ", served "
                      << (got ? got->ShortDebugString() : std::string("NOT_FOUND"));
      }
    }
    EXPECT_EQ(mismatches, 0) << "of " << objects.size() << " ids";
  }
};

// `count` random writes (server-assigned timestamps) over ids k0..k<id_space>:
// upserts, updates and removes. Records what was acknowledged in *acked.
// Returns the first status that is neither OK nor an expected NOT_FOUND /
// ALREADY_EXISTS (and stops there).
inline grpc::Status RandomWrites(v1::Gateway::Stub& stub, std::mt19937_64& rng, int count, int id_space,
                                 size_t metadata_bytes, int dimension, AckedState* acked) {
  std::uniform_int_distribution<int> pick_id(0, id_space - 1);
  std::uniform_int_distribution<int> pick_op(0, 9);
  for (int i = 0; i < count; ++i) {
    const std::string id = "k" + std::to_string(pick_id(rng));
    const int op = pick_op(rng);
    auto context = Ctx();
    v1::WriteResult result;
    grpc::Status status;
    v1::Object object;
    if (op < 8) {
      std::string metadata(metadata_bytes, static_cast<char>('a' + i % 26));
      object = MakeObject(id, RandomVector(rng, dimension), 0, metadata);
      if (op < 6) {
        v1::UpsertRequest request;
        *request.mutable_object() = object;
        status = stub.Upsert(context.get(), request, &result);
      } else {
        v1::UpdateRequest request;
        *request.mutable_object() = object;
        status = stub.Update(context.get(), request, &result);
      }
      if (status.ok()) {
        object.set_timestamp(result.timestamp());
        acked->Put(object);
      }
    } else {
      v1::RemoveRequest request;
      request.set_id(id);
      status = stub.Remove(context.get(), request, &result);
      if (status.ok()) acked->Remove(id, result.timestamp());
    }
    if (!status.ok() && status.error_code() != grpc::StatusCode::NOT_FOUND &&
        status.error_code() != grpc::StatusCode::ALREADY_EXISTS) {
      return status;
    }
  }
  return grpc::Status::OK;
}

}  // namespace baton::gateway::testing
