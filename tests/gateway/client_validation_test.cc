// Input validation through the client API: every bad input of issue 4 item
// 4 answers INVALID_ARGUMENT with a message that starts with the offending
// field's path, and changes neither the store nor the log; the limits
// themselves (256-byte id, 64 KiB metadata, k = 1 and 1000) are accepted.
#include <functional>
#include <limits>
#include <random>

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "tests/gateway/gateway_fixture.h"

namespace baton::gateway::testing {
namespace {

using ::testing::StartsWith;
using grpc::StatusCode;

class ValidationTest : public GatewayFixture {
 protected:
  void SetUp() override { StartGateway(); }
};

struct BadInput {
  const char* name;
  std::string field_prefix;  // the message starts with the field's path
  std::function<grpc::Status(v1::Gateway::Stub&)> call;
  std::vector<std::string> must_not_exist = {};  // valid items of a rejected Multi*
};

template <typename Request, typename Response>
using Method = grpc::Status (v1::Gateway::Stub::*)(grpc::ClientContext*, const Request&, Response*);

template <typename Request, typename Response>
std::function<grpc::Status(v1::Gateway::Stub&)> Rpc(Method<Request, Response> method, Request request) {
  return [method, request](v1::Gateway::Stub& stub) {
    Response response;
    auto context = Ctx();
    return (stub.*method)(context.get(), request, &response);
  };
}

template <typename Request>
Request WithObject(v1::Object object) {
  Request request;
  *request.mutable_object() = std::move(object);
  return request;
}

v1::RemoveRequest RemoveOf(const std::string& id, int64_t ts = 0) {
  v1::RemoveRequest r;
  r.set_id(id);
  r.set_timestamp(ts);
  return r;
}

v1::SearchRequest SearchOf(const std::vector<float>& vector, uint32_t k) {
  v1::SearchRequest r;
  r.mutable_vector()->Add(vector.begin(), vector.end());
  r.set_k(k);
  return r;
}

v1::SearchByIDRequest SearchByIdOf(const std::string& id, uint32_t k) {
  v1::SearchByIDRequest r;
  r.set_id(id);
  r.set_k(k);
  return r;
}

std::vector<BadInput> BadInputs() {
  using S = v1::Gateway::Stub;
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  const std::string long_id(257, 'i');
  const std::string big_metadata(64 * 1024 + 1, 'm');

  std::vector<BadInput> cases = {
      {"InsertShortVector", "object.vector:", Rpc(&S::Insert, WithObject<v1::InsertRequest>(MakeObject("n", {1, 2, 3})))},
      {"InsertLongVector", "object.vector:",
       Rpc(&S::Insert, WithObject<v1::InsertRequest>(MakeObject("n", {1, 2, 3, 4, 5})))},
      {"InsertEmptyVector", "object.vector:", Rpc(&S::Insert, WithObject<v1::InsertRequest>(MakeObject("n", {})))},
      {"UpdateWrongDimension", "object.vector:",
       Rpc(&S::Update, WithObject<v1::UpdateRequest>(MakeObject("p0", {1, 2})))},
      {"UpsertNaN", "object.vector[2]", Rpc(&S::Upsert, WithObject<v1::UpsertRequest>(MakeObject("n", {0, 0, nan, 0})))},
      {"InsertPlusInf", "object.vector[1]", Rpc(&S::Insert, WithObject<v1::InsertRequest>(MakeObject("n", {0, inf, 0, 0})))},
      {"UpdateMinusInf", "object.vector[0]",
       Rpc(&S::Update, WithObject<v1::UpdateRequest>(MakeObject("p0", {-inf, 0, 0, 0})))},
      {"InsertEmptyId", "object.id:", Rpc(&S::Insert, WithObject<v1::InsertRequest>(MakeObject("", kV1)))},
      {"Insert257ByteId", "object.id:", Rpc(&S::Insert, WithObject<v1::InsertRequest>(MakeObject(long_id, kV1)))},
      {"InsertOversizedMetadata", "object.metadata:",
       Rpc(&S::Insert, WithObject<v1::InsertRequest>(MakeObject("n", kV1, 0, big_metadata)))},
      {"UpsertOversizedMetadata", "object.metadata:",
       Rpc(&S::Upsert, WithObject<v1::UpsertRequest>(MakeObject("p0", kV2, 0, big_metadata)))},
      {"InsertNegativeTimestamp", "object.timestamp:",
       Rpc(&S::Insert, WithObject<v1::InsertRequest>(MakeObject("n", kV1, -1)))},
      {"UpdateNegativeTimestamp", "object.timestamp:",
       Rpc(&S::Update, WithObject<v1::UpdateRequest>(MakeObject("p0", kV2, std::numeric_limits<int64_t>::min())))},
      {"RemoveEmptyId", "id:", Rpc(&S::Remove, RemoveOf(""))},
      {"Remove257ByteId", "id:", Rpc(&S::Remove, RemoveOf(long_id))},
      {"RemoveNegativeTimestamp", "timestamp:", Rpc(&S::Remove, RemoveOf("p0", -5))},
      {"SearchKZero", "k:", Rpc(&S::Search, SearchOf(kV1, 0))},
      {"SearchK1001", "k:", Rpc(&S::Search, SearchOf(kV1, 1001))},
      {"SearchWrongDimension", "vector:", Rpc(&S::Search, SearchOf({1, 2, 3}, 5))},
      {"SearchNaN", "vector[1]", Rpc(&S::Search, SearchOf({0, nan, 0, 0}, 5))},
      {"SearchInf", "vector[3]", Rpc(&S::Search, SearchOf({0, 0, 0, -inf}, 5))},
      {"SearchByIdKZero", "k:", Rpc(&S::SearchByID, SearchByIdOf("p0", 0))},
      {"SearchByIdK1001", "k:", Rpc(&S::SearchByID, SearchByIdOf("p0", 1001))},
      {"SearchByIdEmptyId", "id:", Rpc(&S::SearchByID, SearchByIdOf("", 5))},
      {"GetObjectEmptyId", "id:", Rpc(&S::GetObject, [] {
         v1::GetObjectRequest r;
         return r;
       }())},
      {"ExistsLongId", "id:", Rpc(&S::Exists, [&] {
         v1::ExistsRequest r;
         r.set_id(long_id);
         return r;
       }())},
  };
  for (int64_t before : {int64_t{0}, int64_t{-1}}) {
    v1::RemoveByTimestampRequest r;
    r.set_before(before);
    cases.push_back({before == 0 ? "RemoveByTimestampZero" : "RemoveByTimestampNegative", "before:",
                     Rpc(&S::RemoveByTimestamp, r)});
  }
  {
    v1::MultiInsertRequest r;
    *r.add_requests()->mutable_object() = MakeObject("n0", kV1);
    *r.add_requests()->mutable_object() = MakeObject("n1", kV2);
    *r.add_requests()->mutable_object() = MakeObject("n2", {1, 2, 3});
    cases.push_back({"MultiInsertThirdItemBad", "requests[2].object.vector:", Rpc(&S::MultiInsert, r), {"n0", "n1"}});
  }
  {
    v1::MultiInsertRequest r;
    *r.add_requests()->mutable_object() = MakeObject("", kV1);
    *r.add_requests()->mutable_object() = MakeObject("n1", kV2);
    cases.push_back({"MultiInsertFirstItemBad", "requests[0].object.id:", Rpc(&S::MultiInsert, r), {"n1"}});
  }
  {
    v1::MultiUpdateRequest r;
    *r.add_requests()->mutable_object() = MakeObject("p0", kV3);
    *r.add_requests()->mutable_object() = MakeObject("p1", {nan, 0, 0, 0});
    cases.push_back({"MultiUpdateNaN", "requests[1].object.vector[0]", Rpc(&S::MultiUpdate, r)});
  }
  {
    v1::MultiUpsertRequest r;
    *r.add_requests()->mutable_object() = MakeObject("n0", kV1);
    *r.add_requests()->mutable_object() = MakeObject("p0", kV3, 0, big_metadata);
    cases.push_back({"MultiUpsertOversizedMetadata", "requests[1].object.metadata:", Rpc(&S::MultiUpsert, r), {"n0"}});
  }
  {
    v1::MultiRemoveRequest r;
    *r.add_requests() = RemoveOf("p0");
    *r.add_requests() = RemoveOf("p1");
    *r.add_requests() = RemoveOf("");
    cases.push_back({"MultiRemoveEmptyId", "requests[2].id:", Rpc(&S::MultiRemove, r)});
  }
  {
    v1::MultiRemoveRequest r;
    *r.add_requests() = RemoveOf("p0");
    *r.add_requests() = RemoveOf("p1", -1);
    cases.push_back({"MultiRemoveNegativeTimestamp", "requests[1].timestamp:", Rpc(&S::MultiRemove, r)});
  }
  return cases;
}

TEST_F(ValidationTest, BadInputIsInvalidArgumentNamingTheFieldAndChangesNothing) {
  std::mt19937_64 rng(1);
  std::vector<std::string> before;
  for (int i = 0; i < 5; ++i) {
    const std::string id = "p" + std::to_string(i);
    MustWrite(id, {Op::kInsert, RandomVector(rng, 4), 0, "meta"});
    before.push_back(GetObject(*stub_, id)->SerializeAsString());
  }
  const uint64_t digest = server_->store().digest();
  const size_t size = server_->store().size();
  const LogPosition log = server_->wal().durable_position();

  for (const BadInput& bad : BadInputs()) {
    SCOPED_TRACE(bad.name);
    grpc::Status status = bad.call(*stub_);
    EXPECT_EQ(status.error_code(), StatusCode::INVALID_ARGUMENT) << status.error_message();
    EXPECT_THAT(status.error_message(), StartsWith(bad.field_prefix));
    EXPECT_EQ(server_->store().digest(), digest);
    EXPECT_EQ(server_->store().size(), size);
    EXPECT_EQ(server_->wal().durable_position(), log) << "a rejected call must log nothing";
    for (const std::string& id : bad.must_not_exist) EXPECT_FALSE(Exists(id)) << id;
  }
  for (int i = 0; i < 5; ++i) {
    auto object = GetObject(*stub_, "p" + std::to_string(i));
    ASSERT_TRUE(object);
    EXPECT_EQ(object->SerializeAsString(), before[static_cast<size_t>(i)]);
  }
}

TEST_F(ValidationTest, LimitsAreInclusive) {
  const std::string id256(256, 'i');
  const std::string utf8_id = "objet-\xc3\xa9-\xe6\x97\xa5\xe6\x9c\xac";
  const std::string metadata(64 * 1024, 'm');
  MustWrite(id256, {Op::kInsert, kV1});
  MustWrite(utf8_id, {Op::kInsert, kV2, 0, metadata});
  MustWrite("z", {Op::kInsert, {0, 0, 0, std::numeric_limits<float>::max()}});
  auto object = GetObject(*stub_, utf8_id);
  ASSERT_TRUE(object);
  EXPECT_EQ(object->metadata().size(), metadata.size());
  EXPECT_TRUE(GetObject(*stub_, id256));

  auto one = Search(kV1, 1);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(Ids(*one), std::vector<std::string>{id256});
  auto all = Search(kV1, 1000);
  ASSERT_TRUE(all.ok()) << all.status();
  EXPECT_EQ(all->size(), 3u);
  auto by_id = SearchByID(id256, 1000);
  ASSERT_TRUE(by_id.ok()) << by_id.status();
  EXPECT_EQ(by_id->size(), 3u);
}

}  // namespace
}  // namespace baton::gateway::testing
