// The client API end to end in one process: a GatewayServer on ephemeral
// ports, spoken to through a real gRPC channel. The status rules of
// PRODUCT.md sections 2 and 9 (one table row per rule), RemoveByTimestamp,
// Multi* per-item codes, server-assigned timestamps, GetObject/Exists, the
// mirror-origin marker, and the HTTP probes and metrics.
#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <thread>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "baton/v1/storage.pb.h"
#include "gateway/log/wal_reader.h"
#include "tests/gateway/gateway_fixture.h"
#include "tests/support/binaries.h"
#include "tests/support/metrics_text.h"

namespace baton::gateway::testing {
namespace {

using ::baton::testing::HttpGet;
using ::testing::HasSubstr;
using std::chrono::milliseconds;

class ClientApiTest : public GatewayFixture {
 protected:
  void SetUp() override { StartGateway(); }
};

// ---------------------------------------------------------------------------
// Status rules: one row per rule of write_planner.h / PRODUCT.md section 9.

enum class TsWant {
  kAssigned,  // a fresh server-assigned timestamp, newer than anything before
  kExplicit,  // the timestamp the call sent
  kPrevious,  // the stored version's (or tombstone's) timestamp: the last setup reply
  kZero,      // a non-OK answer carries no WriteResult over gRPC
};

enum class After {
  kAsCall,    // live with the call's vector, metadata and the reply timestamp
  kAsBefore,  // exactly what was there before the call
  kAbsent,    // GetObject answers NOT_FOUND
};

struct RuleCase {
  const char* name;
  std::vector<Call> setup;  // each must answer OK
  Call call;
  grpc::StatusCode want;
  TsWant ts;
  bool changes;  // the store's digest and the log move
  After after;
};

void PrintTo(const RuleCase& c, std::ostream* os) { *os << c.name; }

using grpc::StatusCode;

const RuleCase kRules[] = {
    {"InsertAbsent", {}, {Op::kInsert, kV1}, StatusCode::OK, TsWant::kAssigned, true, After::kAsCall},
    {"InsertExisting", {{Op::kInsert, kV1}}, {Op::kInsert, kV2}, StatusCode::ALREADY_EXISTS, TsWant::kZero,
     false, After::kAsBefore},
    {"InsertExistingSameContent", {{Op::kInsert, kV1}}, {Op::kInsert, kV1}, StatusCode::ALREADY_EXISTS,
     TsWant::kZero, false, After::kAsBefore},
    {"InsertExistingWithNewerExplicitTimestamp", {{Op::kInsert, kV1, 1000}}, {Op::kInsert, kV2, 2000},
     StatusCode::ALREADY_EXISTS, TsWant::kZero, false, After::kAsBefore},
    {"InsertWithExplicitTimestamp", {}, {Op::kInsert, kV1, 1234}, StatusCode::OK, TsWant::kExplicit, true,
     After::kAsCall},

    {"UpdateMissing", {}, {Op::kUpdate, kV1}, StatusCode::NOT_FOUND, TsWant::kZero, false, After::kAbsent},
    {"UpdateExisting", {{Op::kInsert, kV1}}, {Op::kUpdate, kV2}, StatusCode::OK, TsWant::kAssigned, true,
     After::kAsCall},
    {"UpdateMetadataOnly", {{Op::kInsert, kV1, 0, "x"}}, {Op::kUpdate, kV1, 0, "y"}, StatusCode::OK,
     TsWant::kAssigned, true, After::kAsCall},
    {"UpdateIdentical", {{Op::kInsert, kV1, 0, "x"}}, {Op::kUpdate, kV1, 0, "x"}, StatusCode::ALREADY_EXISTS,
     TsWant::kZero, false, After::kAsBefore},
    {"UpdateRemoved", {{Op::kInsert, kV1}, {Op::kRemove}}, {Op::kUpdate, kV2}, StatusCode::NOT_FOUND,
     TsWant::kZero, false, After::kAbsent},

    {"UpsertAbsentInserts", {}, {Op::kUpsert, kV1}, StatusCode::OK, TsWant::kAssigned, true, After::kAsCall},
    {"UpsertPresentUpdates", {{Op::kInsert, kV1}}, {Op::kUpsert, kV2}, StatusCode::OK, TsWant::kAssigned, true,
     After::kAsCall},
    {"UpsertIdentical", {{Op::kInsert, kV1, 0, "m"}}, {Op::kUpsert, kV1, 0, "m"}, StatusCode::ALREADY_EXISTS,
     TsWant::kZero, false, After::kAsBefore},
    {"UpsertRemovedInserts", {{Op::kInsert, kV1}, {Op::kRemove}}, {Op::kUpsert, kV2}, StatusCode::OK,
     TsWant::kAssigned, true, After::kAsCall},

    {"RemoveMissing", {}, {Op::kRemove}, StatusCode::NOT_FOUND, TsWant::kZero, false, After::kAbsent},
    {"RemoveExisting", {{Op::kInsert, kV1}}, {Op::kRemove}, StatusCode::OK, TsWant::kAssigned, true,
     After::kAbsent},
    {"RemoveRemoved", {{Op::kInsert, kV1}, {Op::kRemove}}, {Op::kRemove}, StatusCode::NOT_FOUND, TsWant::kZero,
     false, After::kAbsent},
    {"RemoveOlderThanStored", {{Op::kInsert, kV1, 2000}}, {Op::kRemove, {}, 1000}, StatusCode::OK,
     TsWant::kPrevious, false, After::kAsBefore},

    // Idempotent retries: a write not newer than what is stored answers OK
    // with the stored timestamp and changes nothing.
    {"RetryInsertSameTimestamp", {{Op::kInsert, kV1, 1000}}, {Op::kInsert, kV1, 1000}, StatusCode::OK,
     TsWant::kPrevious, false, After::kAsBefore},
    {"RetryInsertOlderTimestamp", {{Op::kInsert, kV1, 1000}}, {Op::kInsert, kV2, 999}, StatusCode::OK,
     TsWant::kPrevious, false, After::kAsBefore},
    {"RetryInsertAfterLaterUpdate", {{Op::kInsert, kV1, 1000}, {Op::kUpdate, kV2, 2000}},
     {Op::kInsert, kV1, 1000}, StatusCode::OK, TsWant::kPrevious, false, After::kAsBefore},
    {"RetryUpdateSameTimestamp", {{Op::kInsert, kV1, 1000}, {Op::kUpdate, kV2, 2000}}, {Op::kUpdate, kV2, 2000},
     StatusCode::OK, TsWant::kPrevious, false, After::kAsBefore},
    {"RetryUpsertSameTimestamp", {{Op::kUpsert, kV1, 1000}}, {Op::kUpsert, kV1, 1000}, StatusCode::OK,
     TsWant::kPrevious, false, After::kAsBefore},
    {"RetryRemoveSameTimestamp", {{Op::kInsert, kV1, 1000}, {Op::kRemove, {}, 2000}}, {Op::kRemove, {}, 2000},
     StatusCode::OK, TsWant::kPrevious, false, After::kAbsent},
    {"RetryRemoveAfterReinsert", {{Op::kInsert, kV1, 1000}, {Op::kRemove, {}, 2000}, {Op::kInsert, kV2, 3000}},
     {Op::kRemove, {}, 2000}, StatusCode::OK, TsWant::kPrevious, false, After::kAsBefore},

    // Remove then insert: an older write never resurrects, a newer one does.
    {"RemoveThenInsertOlder", {{Op::kInsert, kV1, 1000}, {Op::kRemove, {}, 2000}}, {Op::kInsert, kV2, 1500},
     StatusCode::OK, TsWant::kPrevious, false, After::kAbsent},
    {"RemoveThenInsertSameTimestamp", {{Op::kInsert, kV1, 1000}, {Op::kRemove, {}, 2000}},
     {Op::kInsert, kV2, 2000}, StatusCode::OK, TsWant::kPrevious, false, After::kAbsent},
    {"RemoveThenUpsertOlder", {{Op::kInsert, kV1, 1000}, {Op::kRemove, {}, 2000}}, {Op::kUpsert, kV2, 1500},
     StatusCode::OK, TsWant::kPrevious, false, After::kAbsent},
    {"RemoveThenUpdateOlder", {{Op::kInsert, kV1, 1000}, {Op::kRemove, {}, 2000}}, {Op::kUpdate, kV2, 1500},
     StatusCode::OK, TsWant::kPrevious, false, After::kAbsent},
    {"RemoveThenInsertNewerExplicit", {{Op::kInsert, kV1, 1000}, {Op::kRemove, {}, 2000}},
     {Op::kInsert, kV2, 3000}, StatusCode::OK, TsWant::kExplicit, true, After::kAsCall},
    {"RemoveThenInsertTimestampZero", {{Op::kInsert, kV1}, {Op::kRemove}}, {Op::kInsert, kV2}, StatusCode::OK,
     TsWant::kAssigned, true, After::kAsCall},
    {"RemoveExplicitThenInsertTimestampZero", {{Op::kInsert, kV1, 1000}, {Op::kRemove, {}, 2000}},
     {Op::kInsert, kV3}, StatusCode::OK, TsWant::kAssigned, true, After::kAsCall},
};

class StatusRules : public GatewayFixture, public ::testing::WithParamInterface<RuleCase> {
 protected:
  void SetUp() override { StartGateway(); }
};

TEST_P(StatusRules, Rule) {
  const RuleCase& rule = GetParam();
  const std::string id = std::string("obj-") + rule.name;

  int64_t last_ts = 0;
  int64_t max_ts = 0;
  for (const Call& step : rule.setup) {
    Reply reply = Write(id, step);
    ASSERT_TRUE(reply.status.ok()) << "setup " << OpName(step.op) << ": " << reply.status.error_message();
    ASSERT_GT(reply.timestamp, 0);
    last_ts = reply.timestamp;
    max_ts = std::max(max_ts, reply.timestamp);
  }

  const uint64_t digest_before = server_->store().digest();
  const size_t size_before = server_->store().size();
  const LogPosition log_before = server_->wal().durable_position();
  const std::optional<v1::Object> object_before = GetObject(*stub_, id);

  Reply reply = Write(id, rule.call);
  EXPECT_EQ(reply.status.error_code(), rule.want) << reply.status.error_message();
  if (rule.want != StatusCode::OK) {
    EXPECT_THAT(reply.status.error_message(), HasSubstr(id)) << "the message names the object";
  }

  switch (rule.ts) {
    case TsWant::kAssigned:
      EXPECT_GT(reply.timestamp, max_ts);
      EXPECT_EQ(reply.timestamp, server_->store().last_assigned_timestamp()) << "the newest one assigned";
      break;
    case TsWant::kExplicit:
      EXPECT_EQ(reply.timestamp, rule.call.timestamp);
      break;
    case TsWant::kPrevious:
      EXPECT_EQ(reply.timestamp, last_ts);
      break;
    case TsWant::kZero:
      EXPECT_EQ(reply.timestamp, 0);
      break;
  }

  const LogPosition log_after = server_->wal().durable_position();
  if (rule.changes) {
    EXPECT_NE(server_->store().digest(), digest_before);
    EXPECT_EQ(log_after.seq, log_before.seq + 1) << "one record per applied write";
  } else {
    EXPECT_EQ(server_->store().digest(), digest_before) << "nothing may change";
    EXPECT_EQ(server_->store().size(), size_before);
    EXPECT_EQ(log_after, log_before) << "nothing may be logged";
  }

  const std::optional<v1::Object> object_after = GetObject(*stub_, id);
  switch (rule.after) {
    case After::kAsCall:
      ASSERT_TRUE(object_after.has_value());
      EXPECT_EQ(VectorOf(*object_after), rule.call.vector);
      EXPECT_EQ(object_after->metadata(), rule.call.metadata);
      EXPECT_EQ(object_after->timestamp(), reply.timestamp);
      break;
    case After::kAsBefore:
      ASSERT_EQ(object_after.has_value(), object_before.has_value());
      if (object_after) {
        EXPECT_EQ(object_after->SerializeAsString(), object_before->SerializeAsString());
      }
      break;
    case After::kAbsent:
      EXPECT_FALSE(object_after.has_value()) << "found " << object_after->ShortDebugString();
      EXPECT_FALSE(Exists(id));
      break;
  }
}

INSTANTIATE_TEST_SUITE_P(Api, StatusRules, ::testing::ValuesIn(kRules),
                         [](const auto& info) { return std::string(info.param.name); });

// ---------------------------------------------------------------------------

TEST_F(ClientApiTest, RemoveByTimestampRemovesStrictlyOlderObjects) {
  MustWrite("a", {Op::kInsert, kV1, 100});
  MustWrite("b", {Op::kInsert, kV2, 200});
  MustWrite("c", {Op::kInsert, kV3, 300});

  v1::RemoveByTimestampRequest request;
  request.set_before(250);
  v1::MultiWriteResult result;
  auto context = Ctx();
  grpc::Status status = stub_->RemoveByTimestamp(context.get(), request, &result);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(result.results_size(), 2);
  std::set<std::string> removed;
  for (const auto& item : result.results()) {
    removed.insert(item.id());
    EXPECT_EQ(item.code(), 0);
    EXPECT_GT(item.timestamp(), 300);
  }
  EXPECT_EQ(removed, (std::set<std::string>{"a", "b"}));
  EXPECT_FALSE(GetObject(*stub_, "a"));
  EXPECT_FALSE(GetObject(*stub_, "b"));
  EXPECT_TRUE(GetObject(*stub_, "c"));

  // c's timestamp is 300: "before 300" is strictly less, so nothing matches.
  const uint64_t digest = server_->store().digest();
  request.set_before(300);
  result.Clear();
  auto context2 = Ctx();
  status = stub_->RemoveByTimestamp(context2.get(), request, &result);
  EXPECT_EQ(status.error_code(), StatusCode::NOT_FOUND) << status.error_message();
  EXPECT_EQ(result.results_size(), 0);
  EXPECT_EQ(server_->store().digest(), digest);
  EXPECT_TRUE(GetObject(*stub_, "c"));

  request.set_before(301);
  result.Clear();
  auto context3 = Ctx();
  status = stub_->RemoveByTimestamp(context3.get(), request, &result);
  ASSERT_TRUE(status.ok()) << status.error_message();
  ASSERT_EQ(result.results_size(), 1);
  EXPECT_EQ(result.results(0).id(), "c");
  EXPECT_FALSE(GetObject(*stub_, "c"));
  EXPECT_EQ(server_->store().size(), 0u);
}

TEST_F(ClientApiTest, MultiWritesAnswerPerItemInOrder) {
  auto expect_items = [](const v1::MultiWriteResult& result, std::vector<std::pair<std::string, StatusCode>> want) {
    ASSERT_EQ(result.results_size(), static_cast<int>(want.size())) << result.ShortDebugString();
    for (size_t i = 0; i < want.size(); ++i) {
      SCOPED_TRACE("item " + std::to_string(i));
      EXPECT_EQ(result.results(static_cast<int>(i)).id(), want[i].first);
      EXPECT_EQ(result.results(static_cast<int>(i)).code(), static_cast<int>(want[i].second))
          << result.results(static_cast<int>(i)).message();
    }
  };

  {
    v1::MultiInsertRequest request;
    *request.add_requests()->mutable_object() = MakeObject("a", kV1);
    *request.add_requests()->mutable_object() = MakeObject("b", kV2);
    *request.add_requests()->mutable_object() = MakeObject("a", kV3);  // exists by now
    v1::MultiWriteResult result;
    auto context = Ctx();
    grpc::Status status = stub_->MultiInsert(context.get(), request, &result);
    ASSERT_TRUE(status.ok()) << status.error_message();
    expect_items(result, {{"a", StatusCode::OK}, {"b", StatusCode::OK}, {"a", StatusCode::ALREADY_EXISTS}});
    EXPECT_LT(result.results(0).timestamp(), result.results(1).timestamp()) << "assigned in order";
    EXPECT_EQ(result.results(2).timestamp(), result.results(0).timestamp()) << "the stored version's";
  }
  {
    v1::MultiUpdateRequest request;
    *request.add_requests()->mutable_object() = MakeObject("a", kV2);
    *request.add_requests()->mutable_object() = MakeObject("missing", kV2);
    *request.add_requests()->mutable_object() = MakeObject("b", kV2);  // identical
    v1::MultiWriteResult result;
    auto context = Ctx();
    grpc::Status status = stub_->MultiUpdate(context.get(), request, &result);
    ASSERT_TRUE(status.ok()) << status.error_message();
    expect_items(result, {{"a", StatusCode::OK}, {"missing", StatusCode::NOT_FOUND}, {"b", StatusCode::ALREADY_EXISTS}});
  }
  {
    v1::MultiUpsertRequest request;
    *request.add_requests()->mutable_object() = MakeObject("c", kV1);
    *request.add_requests()->mutable_object() = MakeObject("a", kV2);  // identical
    *request.add_requests()->mutable_object() = MakeObject("b", kV3);
    v1::MultiWriteResult result;
    auto context = Ctx();
    grpc::Status status = stub_->MultiUpsert(context.get(), request, &result);
    ASSERT_TRUE(status.ok()) << status.error_message();
    expect_items(result, {{"c", StatusCode::OK}, {"a", StatusCode::ALREADY_EXISTS}, {"b", StatusCode::OK}});
  }
  {
    v1::MultiRemoveRequest request;
    request.add_requests()->set_id("a");
    request.add_requests()->set_id("missing");
    request.add_requests()->set_id("a");  // removed by item 0
    v1::MultiWriteResult result;
    auto context = Ctx();
    grpc::Status status = stub_->MultiRemove(context.get(), request, &result);
    ASSERT_TRUE(status.ok()) << status.error_message();
    expect_items(result, {{"a", StatusCode::OK}, {"missing", StatusCode::NOT_FOUND}, {"a", StatusCode::NOT_FOUND}});
  }

  EXPECT_FALSE(GetObject(*stub_, "a"));
  EXPECT_FALSE(GetObject(*stub_, "missing"));
  auto b = GetObject(*stub_, "b");
  ASSERT_TRUE(b);
  EXPECT_EQ(VectorOf(*b), kV3);
  auto c = GetObject(*stub_, "c");
  ASSERT_TRUE(c);
  EXPECT_EQ(VectorOf(*c), kV1);
  EXPECT_EQ(server_->store().size(), 2u);
}

TEST_F(ClientApiTest, ServerAssignedTimestampsStrictlyIncrease) {
  std::mt19937_64 rng(7);
  int64_t previous = 0;
  for (int i = 0; i < 100; ++i) {
    const std::string id = "t" + std::to_string(i % 10);
    // Every fifth write removes the id the write before upserted.
    const bool remove = i % 5 == 4;
    Call call = remove ? Call{Op::kRemove} : Call{Op::kUpsert, RandomVector(rng, 4)};
    Reply reply = Write(remove ? "t" + std::to_string((i - 1) % 10) : id, call);
    ASSERT_TRUE(reply.status.ok()) << i << ": " << reply.status.error_message();
    EXPECT_GT(reply.timestamp, previous) << "write " << i;
    previous = reply.timestamp;
  }

  // Within one Multi* call, item by item.
  v1::MultiUpsertRequest multi;
  for (int i = 0; i < 5; ++i) *multi.add_requests()->mutable_object() = MakeObject("m" + std::to_string(i), kV1);
  v1::MultiWriteResult result;
  auto context = Ctx();
  ASSERT_TRUE(stub_->MultiUpsert(context.get(), multi, &result).ok());
  ASSERT_EQ(result.results_size(), 5);
  for (const auto& item : result.results()) {
    EXPECT_GT(item.timestamp(), previous);
    previous = item.timestamp();
  }

  // Concurrent writers (sharing group-commit batches) never get the same one.
  constexpr int kThreads = 8, kPerThread = 40;
  std::vector<std::vector<int64_t>> seen(kThreads);
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      auto stub = ConnectGateway(server_->grpc_port());
      for (int i = 0; i < kPerThread; ++i) {
        v1::UpsertRequest request;
        *request.mutable_object() = MakeObject("c" + std::to_string(t) + "-" + std::to_string(i), kV2);
        v1::WriteResult out;
        auto ctx = Ctx();
        grpc::Status status = stub->Upsert(ctx.get(), request, &out);
        if (!status.ok()) {
          ADD_FAILURE() << status.error_message();
          return;
        }
        seen[t].push_back(out.timestamp());
      }
    });
  }
  for (auto& thread : threads) thread.join();
  std::set<int64_t> all;
  for (const auto& per_thread : seen) {
    ASSERT_EQ(per_thread.size(), static_cast<size_t>(kPerThread));
    EXPECT_TRUE(std::is_sorted(per_thread.begin(), per_thread.end()));
    for (int64_t ts : per_thread) {
      EXPECT_GT(ts, previous);
      all.insert(ts);
    }
  }
  EXPECT_EQ(all.size(), static_cast<size_t>(kThreads * kPerThread)) << "timestamps must be unique";
}

TEST_F(ClientApiTest, GetObjectAndExists) {
  const int64_t ts = MustWrite("x", {Op::kInsert, kV2, 0, std::string("meta\0data", 9)});
  auto object = GetObject(*stub_, "x");
  ASSERT_TRUE(object);
  EXPECT_EQ(object->id(), "x");
  EXPECT_EQ(VectorOf(*object), kV2);
  EXPECT_EQ(object->timestamp(), ts);
  EXPECT_EQ(object->metadata(), std::string("meta\0data", 9));
  EXPECT_TRUE(Exists("x"));
  EXPECT_FALSE(Exists("y"));
  EXPECT_FALSE(GetObject(*stub_, "y"));

  MustWrite("x", {Op::kRemove});
  v1::GetObjectRequest request;
  request.set_id("x");
  v1::Object out;
  auto context = Ctx();
  grpc::Status status = stub_->GetObject(context.get(), request, &out);
  EXPECT_EQ(status.error_code(), StatusCode::NOT_FOUND);
  EXPECT_THAT(status.error_message(), HasSubstr("x"));
  EXPECT_FALSE(Exists("x"));
}

TEST_F(ClientApiTest, MirrorOriginMetadataMarksTheWriteAsMirrored) {
  ASSERT_TRUE(Write("mirrored", {Op::kInsert, kV1, 5000}, "c2").status.ok());
  ASSERT_TRUE(Write("local", {Op::kInsert, kV2}).status.ok());
  ASSERT_TRUE(Write("mirrored-rm", {Op::kInsert, kV3}).status.ok());
  ASSERT_TRUE(Write("mirrored-rm", {Op::kRemove}, "c3").status.ok());

  std::map<std::string, std::vector<std::string>> origins;  // id -> mirror_origin of each record touching it
  auto reader = server_->wal().NewReader(server_->wal().first_seq());
  for (int i = 0; i < 100; ++i) {
    auto entry = reader->Next(milliseconds(0));
    ASSERT_TRUE(entry.ok()) << entry.status();
    if (!entry->has_value()) break;
    if ((*entry)->type != RecordType::kWrite) continue;
    v1::WriteRecord record;
    ASSERT_TRUE(record.ParseFromString((*entry)->payload));
    for (const auto& m : record.mutations()) {
      const std::string& id = m.has_put() ? m.put().id() : m.remove().id();
      origins[id].push_back(record.mirror_origin());
    }
  }
  EXPECT_EQ(origins["mirrored"], std::vector<std::string>{"c2"});
  EXPECT_EQ(origins["local"], std::vector<std::string>{""});
  EXPECT_EQ(origins["mirrored-rm"], (std::vector<std::string>{"", "c3"}));
}

TEST_F(ClientApiTest, ProbesAndMetrics) {
  MustWrite("h", {Op::kInsert, kV1});
  EXPECT_EQ(Write("h", {Op::kInsert, kV2}).status.error_code(), StatusCode::ALREADY_EXISTS);
  ASSERT_TRUE(Search(kV1, 1).ok());

  auto healthz = HttpGet(server_->http_port(), "/healthz");
  ASSERT_TRUE(healthz.ok()) << healthz.status();
  EXPECT_EQ(healthz->first, 200);
  auto readyz = HttpGet(server_->http_port(), "/readyz");
  ASSERT_TRUE(readyz.ok()) << readyz.status();
  EXPECT_EQ(readyz->first, 200);

  auto metrics = HttpGet(server_->http_port(), "/metrics");
  ASSERT_TRUE(metrics.ok()) << metrics.status();
  ASSERT_EQ(metrics->first, 200);
  const std::string& body = metrics->second;
  EXPECT_GE(baton::testing::MetricValue(body, "baton_gateway_writes_total", {{"op", "insert"}, {"code", "OK"}}), 1) << body;
  EXPECT_GE(baton::testing::MetricValue(body, "baton_gateway_writes_total", {{"op", "insert"}, {"code", "ALREADY_EXISTS"}}), 1);
  EXPECT_THAT(body, HasSubstr("# TYPE baton_wal_fsync_duration_seconds histogram"));
  EXPECT_GE(baton::testing::MetricValue(body, "baton_wal_fsync_duration_seconds_count", {}), 1);
  EXPECT_GE(baton::testing::MetricValue(body, "baton_gateway_objects", {}), 1);

  if (!baton::testing::PromtoolAvailable()) {
    std::cout << "promtool not installed: /metrics lint skipped" << std::endl;
    return;
  }
  EXPECT_EQ(baton::testing::PromtoolProblems(body, dir_.Join("metrics.txt")), "");
}

}  // namespace
}  // namespace baton::gateway::testing
