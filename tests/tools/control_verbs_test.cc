// `batonctl control assign|renew|state` against an in-process fake
// GatewayControl server: what reaches the server, what is printed, and the
// exit codes (0 ok, 1 server error, 2 usage), including a server that does
// not implement GatewayControl and an address where nothing listens.
#include <iostream>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gmock/gmock.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "baton/v1/control.grpc.pb.h"
#include "baton/v1/gateway.grpc.pb.h"
#include "common/mutex.h"
#include "tests/support/test_util.h"
#include "tests/tools/batonctl_runner.h"
#include "tools/batonctl.h"
#include "tools/control_verbs.h"

namespace baton::tools {
namespace {

using ::testing::HasSubstr;

class FakeControl final : public v1::GatewayControl::Service {
 public:
  grpc::Status AssignRole(grpc::ServerContext*, const v1::AssignRoleRequest* request,
                          v1::AssignRoleResponse*) override {
    MutexLock lock(&mu_);
    ++calls_;
    assign_ = *request;
    return answer_;
  }
  grpc::Status RenewLease(grpc::ServerContext*, const v1::RenewLeaseRequest* request,
                          v1::RenewLeaseResponse*) override {
    MutexLock lock(&mu_);
    ++calls_;
    renew_ = *request;
    return answer_;
  }
  grpc::Status GetState(grpc::ServerContext*, const v1::GetStateRequest*, v1::GetStateResponse* response) override {
    MutexLock lock(&mu_);
    ++calls_;
    *response = state_;
    return answer_;
  }

  void SetAnswer(grpc::Status s) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    answer_ = std::move(s);
  }
  void SetState(v1::GetStateResponse s) EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    state_ = std::move(s);
  }
  v1::AssignRoleRequest assign() const EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return assign_;
  }
  v1::RenewLeaseRequest renew() const EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return renew_;
  }
  int calls() const EXCLUDES(mu_) {
    MutexLock lock(&mu_);
    return calls_;
  }

 private:
  mutable Mutex mu_;
  grpc::Status answer_ GUARDED_BY(mu_);
  v1::GetStateResponse state_ GUARDED_BY(mu_);
  v1::AssignRoleRequest assign_ GUARDED_BY(mu_);
  v1::RenewLeaseRequest renew_ GUARDED_BY(mu_);
  int calls_ GUARDED_BY(mu_) = 0;
};

// Every Gateway method answers UNIMPLEMENTED: a server that serves something,
// but not GatewayControl.
class NotControl final : public v1::Gateway::Service {};

class ControlVerbsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    grpc::ServerBuilder builder;
    int port = 0;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterService(&fake_);
    server_ = builder.BuildAndStart();
    ASSERT_NE(server_, nullptr);
    ASSERT_GT(port, 0);
    address_ = "127.0.0.1:" + std::to_string(port);
  }
  void TearDown() override {
    if (server_) server_->Shutdown();
  }

  static v1::GetStateResponse SampleState() {
    v1::GetStateResponse s;
    s.set_instance_id("g1");
    s.set_cluster("c1");
    s.set_role(v1::ROLE_ACTIVE);
    s.set_epoch(3);
    s.mutable_durable()->set_epoch(3);
    s.mutable_durable()->set_seq(42);
    s.mutable_applied()->set_epoch(3);
    s.mutable_applied()->set_seq(41);
    s.set_health(v1::HEALTH_OK);
    s.set_pid(1234);
    auto* h = s.add_epoch_history();
    h->set_epoch(1);
    h->set_first_seq(1);
    auto* sb = s.add_standbys();
    sb->set_instance_id("g2");
    sb->set_address("127.0.0.1:7701");
    sb->set_connected(true);
    sb->set_sync(true);
    sb->mutable_acked()->set_epoch(3);
    sb->mutable_acked()->set_seq(40);
    sb->set_lag_entries(2);
    sb->set_lag_seconds(0.25);
    s.set_object_count(7);
    s.set_digest(0xabcdef);
    return s;
  }

  FakeControl fake_;
  std::unique_ptr<grpc::Server> server_;
  std::string address_;
};

TEST_F(ControlVerbsTest, AssignActiveFillsEveryField) {
  CtlRun r = Batonctl({"--gateway", address_, "control", "assign", "--role", "active", "--epoch", "7", "--lease-ms",
                    "2000", "--active-address", "127.0.0.1:1", "--standby", "g2=127.0.0.1:2", "--standby",
                    "g3=127.0.0.1:3", "--sync", "g2", "--sync", "g3", "--sync-standbys", "2", "--failsafe"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("assigned active at epoch 7"));
  const v1::Assignment a = fake_.assign().assignment();
  EXPECT_EQ(a.role(), v1::ROLE_ACTIVE);
  EXPECT_EQ(a.epoch(), 7u);
  EXPECT_EQ(a.lease_ms(), 2000u);
  EXPECT_EQ(a.active_address(), "127.0.0.1:1");
  ASSERT_EQ(a.standbys_size(), 2);
  EXPECT_EQ(a.standbys().at("g2"), "127.0.0.1:2");
  EXPECT_EQ(a.standbys().at("g3"), "127.0.0.1:3");
  ASSERT_EQ(a.sync_set_size(), 2);
  EXPECT_EQ(a.sync_set(0), "g2");
  EXPECT_EQ(a.sync_set(1), "g3");
  EXPECT_EQ(a.sync_standbys(), 2u);
  EXPECT_TRUE(a.failsafe());
}

TEST_F(ControlVerbsTest, AssignStandbyDefaults) {
  CtlRun r = Batonctl({"--gateway", address_, "--json", "control", "assign", "--role", "standby", "--epoch", "1",
                    "--active-address", "127.0.0.1:9"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_EQ(nlohmann::json::parse(r.out), (nlohmann::json{{"role", "standby"}, {"epoch", 1}}));
  const v1::Assignment a = fake_.assign().assignment();
  EXPECT_EQ(a.role(), v1::ROLE_STANDBY);
  EXPECT_EQ(a.lease_ms(), 0u);  // no lease
  EXPECT_EQ(a.sync_standbys(), 1u);
  EXPECT_FALSE(a.failsafe());
  EXPECT_EQ(a.standbys_size(), 0);
}

TEST_F(ControlVerbsTest, AssignUsageErrorsNeverReachTheServer) {
  const std::vector<std::vector<std::string>> bad = {
      {"control", "assign", "--role", "active"},                                   // no --epoch
      {"control", "assign", "--epoch", "1"},                                       // no --role
      {"control", "assign", "--role", "leader", "--epoch", "1"},                   // unknown role
      {"control", "assign", "--role", "active", "--epoch", "-1"},                  // negative
      {"control", "assign", "--role", "active", "--epoch", "x"},
      {"control", "assign", "--role", "active", "--epoch", "1", "--lease-ms", "4294967296"},  // > uint32
      {"control", "assign", "--role", "active", "--epoch", "1", "--sync-standbys", "-1"},
      {"control", "assign", "--role", "active", "--epoch", "1", "--standby", "g2"},  // not ID=ADDR
      {"control", "assign", "--role", "active", "--epoch", "1", "--standby", "=a"},
      {"control", "assign", "--role", "active", "--epoch", "1", "--standby", "g2="},
      {"control", "assign", "--role", "active", "--epoch", "1", "--standby", "g2=a", "--standby", "g2=b"},
      {"control", "renew", "--epoch", "1"},  // no --lease-ms
      {"control", "renew", "--epoch", "1", "--lease-ms", "-5"},
      {"control"},                           // no verb
      {"control", "frobnicate"},
  };
  for (auto args : bad) {
    args.insert(args.begin(), {"--gateway", address_});
    CtlRun r = Batonctl(args);
    EXPECT_EQ(r.rc, 2) << ::testing::PrintToString(args) << "\n" << r.out << r.err;
  }
  EXPECT_EQ(fake_.calls(), 0);
}

TEST_F(ControlVerbsTest, Renew) {
  CtlRun r = Batonctl({"--gateway", address_, "control", "renew", "--epoch", "4", "--lease-ms", "1500"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("renewed epoch 4 for 1500 ms"));
  EXPECT_EQ(fake_.renew().epoch(), 4u);
  EXPECT_EQ(fake_.renew().lease_ms(), 1500u);
}

TEST_F(ControlVerbsTest, StateJsonKeepsProtoFieldNamesOnOneLine) {
  fake_.SetState(SampleState());
  for (const auto& args : std::vector<std::vector<std::string>>{
           {"--gateway", address_, "control", "state", "--json"},
           {"--gateway", address_, "--json", "control", "state"}}) {
    CtlRun r = Batonctl(args);
    ASSERT_EQ(r.rc, 0) << r.err;
    ASSERT_EQ(r.out.find('\n'), r.out.size() - 1) << "not one line: " << r.out;
    auto j = nlohmann::json::parse(r.out);
    EXPECT_EQ(j["instance_id"], "g1");
    EXPECT_EQ(j["role"], "ROLE_ACTIVE");
    EXPECT_EQ(j["durable"]["seq"], "42");  // proto3 JSON: 64-bit integers as strings
    EXPECT_EQ(j["lease_remaining_ms"], "0");  // zero values are printed too
    EXPECT_EQ(j["fenced"], false);
    ASSERT_EQ(j["standbys"].size(), 1u);
    EXPECT_EQ(j["standbys"][0]["instance_id"], "g2");
    EXPECT_EQ(j["standbys"][0]["connected"], true);
    EXPECT_EQ(j["standbys"][0]["lag_entries"], "2");
    EXPECT_DOUBLE_EQ(j["standbys"][0]["lag_seconds"].get<double>(), 0.25);
    EXPECT_EQ(j["standbys"][0]["last_error"], "");
  }
}

TEST_F(ControlVerbsTest, StateText) {
  fake_.SetState(SampleState());
  CtlRun r = Batonctl({"--gateway", address_, "control", "state"});
  ASSERT_EQ(r.rc, 0) << r.err;
  EXPECT_THAT(r.out, HasSubstr("instance_id         g1\n"));
  EXPECT_THAT(r.out, HasSubstr("role                active\n"));
  EXPECT_THAT(r.out, HasSubstr("durable             epoch 3 seq 42\n"));
  EXPECT_THAT(r.out, HasSubstr("health              ok\n"));
  EXPECT_THAT(r.out, HasSubstr("digest              0000000000abcdef\n"));
  EXPECT_THAT(r.out, HasSubstr("standbys            1\n"));
  EXPECT_THAT(r.out, HasSubstr("INSTANCE"));
  EXPECT_THAT(r.out, ::testing::ContainsRegex("g2 +127\\.0\\.0\\.1:7701 +yes +yes +3/40 +2 +0\\.250 +-"));
}

TEST_F(ControlVerbsTest, ServerErrorPrintsCodeAndMessage) {
  fake_.SetAnswer(grpc::Status(grpc::StatusCode::FAILED_PRECONDITION, "stale epoch 1 < 3"));
  CtlRun r = Batonctl({"--gateway", address_, "control", "renew", "--epoch", "1", "--lease-ms", "100"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.err, HasSubstr("FAILED_PRECONDITION: stale epoch 1 < 3"));

  r = Batonctl({"--gateway", address_, "control", "state", "--json"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_EQ(nlohmann::json::parse(r.out),
            (nlohmann::json{{"code", "FAILED_PRECONDITION"}, {"message", "stale epoch 1 < 3"}}));
}

TEST(ControlVerbsNoServiceTest, UnimplementedAndUnreachable) {
  NotControl other;
  grpc::ServerBuilder builder;
  int port = 0;
  builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
  builder.RegisterService(&other);
  auto server = builder.BuildAndStart();
  ASSERT_NE(server, nullptr);
  const std::string address = "127.0.0.1:" + std::to_string(port);
  CtlRun r = Batonctl({"--gateway", address, "control", "state"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.err, HasSubstr("UNIMPLEMENTED"));
  r = Batonctl({"--gateway", address, "control", "assign", "--role", "active", "--epoch", "1"});
  EXPECT_EQ(r.rc, 1);
  EXPECT_THAT(r.err, HasSubstr("UNIMPLEMENTED"));
  server->Shutdown();

  const std::string nobody = "127.0.0.1:" + std::to_string(baton::testing::PickFreePort());
  r = Batonctl({"--gateway", nobody, "--timeout-ms", "2000", "control", "state"});
  EXPECT_EQ(r.rc, 1);
  // Connection refused fails fast; a slow refusal may hit the deadline first.
  EXPECT_THAT(r.err, ::testing::AnyOf(HasSubstr("UNAVAILABLE"), HasSubstr("DEADLINE_EXCEEDED")));
}

}  // namespace
}  // namespace baton::tools
