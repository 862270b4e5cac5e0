// A GatewayServer in a temp dir on ephemeral ports and a gRPC stub to it,
// with helpers to write and read through the real client API. Shared by the
// client API tests (client_api_test.cc, client_validation_test.cc,
// client_search_test.cc).
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "baton/v1/gateway.grpc.pb.h"
#include "gateway/gateway_server.h"
#include "tests/gateway/gateway_test_util.h"
#include "tests/support/fault_file_system.h"
#include "tests/support/temp_dir.h"

namespace baton::gateway::testing {

// Distinct 4-d contents for the tests (index.dimension is 4).
inline const std::vector<float> kV1 = {1, 0, 0, 0};
inline const std::vector<float> kV2 = {0, 1, 0, 0};
inline const std::vector<float> kV3 = {0, 0, 1, 0};

// What one write call answered.
struct Reply {
  grpc::Status status;
  int64_t timestamp = 0;
};

enum class Op { kInsert, kUpdate, kUpsert, kRemove };

inline const char* OpName(Op op) {
  switch (op) {
    case Op::kInsert: return "Insert";
    case Op::kUpdate: return "Update";
    case Op::kUpsert: return "Upsert";
    case Op::kRemove: return "Remove";
  }
  return "?";
}

struct Call {
  Op op;
  std::vector<float> vector = {};
  int64_t timestamp = 0;
  std::string metadata = "";
};

// A gateway in a temp dir and a stub to it. Subclasses choose the flags.
class GatewayFixture : public ::testing::Test {
 protected:
  void StartGateway(const Flags& extra = {}, FileSystem* fs = nullptr) {
    Config config = GatewayTestConfig(dir_.path(), extra);
    auto server = fs ? GatewayServer::Start(config, *fs) : GatewayServer::Start(config);
    ASSERT_TRUE(server.ok()) << server.status();
    server_ = std::move(server).value();
    stub_ = ConnectGateway(server_->grpc_port());
  }

  void TearDown() override {
    stub_.reset();
    if (server_) server_->Stop();
    server_.reset();
  }

  Reply Write(const std::string& id, const Call& call, const std::string& mirror_origin = "") {
    auto context = Ctx();
    if (!mirror_origin.empty()) context->AddMetadata("baton-mirror-origin", mirror_origin);
    v1::WriteResult result;
    Reply reply;
    v1::Object object = MakeObject(id, call.vector, call.timestamp, call.metadata);
    switch (call.op) {
      case Op::kInsert: {
        v1::InsertRequest request;
        *request.mutable_object() = object;
        reply.status = stub_->Insert(context.get(), request, &result);
        break;
      }
      case Op::kUpdate: {
        v1::UpdateRequest request;
        *request.mutable_object() = object;
        reply.status = stub_->Update(context.get(), request, &result);
        break;
      }
      case Op::kUpsert: {
        v1::UpsertRequest request;
        *request.mutable_object() = object;
        reply.status = stub_->Upsert(context.get(), request, &result);
        break;
      }
      case Op::kRemove: {
        v1::RemoveRequest request;
        request.set_id(id);
        request.set_timestamp(call.timestamp);
        reply.status = stub_->Remove(context.get(), request, &result);
        break;
      }
    }
    // gRPC carries no response message with a non-OK status: ALREADY_EXISTS
    // and NOT_FOUND answer without id or timestamp (Multi* items carry them).
    if (reply.status.ok()) {
      EXPECT_EQ(result.id(), id);
    }
    reply.timestamp = result.timestamp();
    return reply;
  }

  // A write the test needs to succeed; returns its timestamp.
  int64_t MustWrite(const std::string& id, const Call& call) {
    Reply reply = Write(id, call);
    EXPECT_TRUE(reply.status.ok()) << OpName(call.op) << "(" << id << "): " << reply.status.error_code() << " "
                                   << reply.status.error_message();
    return reply.timestamp;
  }

  Result<std::vector<v1::Neighbor>> Search(const std::vector<float>& vector, uint32_t k) {
    v1::SearchRequest request;
    request.mutable_vector()->Add(vector.begin(), vector.end());
    request.set_k(k);
    v1::SearchResponse response;
    auto context = Ctx();
    grpc::Status status = stub_->Search(context.get(), request, &response);
    if (!status.ok()) return Status(static_cast<StatusCode>(status.error_code()), status.error_message());
    return std::vector<v1::Neighbor>(response.results().begin(), response.results().end());
  }

  Result<std::vector<v1::Neighbor>> SearchByID(const std::string& id, uint32_t k) {
    v1::SearchByIDRequest request;
    request.set_id(id);
    request.set_k(k);
    v1::SearchResponse response;
    auto context = Ctx();
    grpc::Status status = stub_->SearchByID(context.get(), request, &response);
    if (!status.ok()) return Status(static_cast<StatusCode>(status.error_code()), status.error_message());
    return std::vector<v1::Neighbor>(response.results().begin(), response.results().end());
  }

  bool Exists(const std::string& id) {
    v1::ExistsRequest request;
    request.set_id(id);
    v1::ExistsResponse response;
    auto context = Ctx();
    grpc::Status status = stub_->Exists(context.get(), request, &response);
    EXPECT_TRUE(status.ok()) << status.error_message();
    return response.exists();
  }

  static std::vector<std::string> Ids(const std::vector<v1::Neighbor>& neighbors) {
    std::vector<std::string> ids;
    for (const auto& n : neighbors) ids.push_back(n.id());
    return ids;
  }

  ::baton::testing::TempDir dir_;                // outlives the server
  ::baton::testing::FaultFileSystem fault_fs_;  // outlives the server; used when a test asks for it
  std::unique_ptr<GatewayServer> server_;
  std::unique_ptr<v1::Gateway::Stub> stub_;
};

}  // namespace baton::gateway::testing
