#include "gateway/store/validation.h"

#include <cmath>
#include <limits>
#include <string>

#include <gtest/gtest.h>

namespace baton::gateway {
namespace {

constexpr int kDim = 4;
const ValidationOptions kOptions{kDim, 1000};

v1::Object GoodObject() {
  v1::Object o;
  o.set_id("obj-1");
  for (int i = 0; i < kDim; ++i) o.add_vector(0.5f * i);
  o.set_timestamp(0);
  o.set_metadata("meta");
  return o;
}

v1::InsertRequest InsertOf(const v1::Object& o) {
  v1::InsertRequest r;
  *r.mutable_object() = o;
  return r;
}

void ExpectInvalid(const Status& s, const std::string& message) {
  EXPECT_EQ(s.code(), StatusCode::kInvalidArgument) << s;
  EXPECT_EQ(s.message(), message);
}

TEST(Validation, GoodRequestsPass) {
  EXPECT_TRUE(ValidateInsert(InsertOf(GoodObject()), kOptions).ok());
  v1::Object o = GoodObject();
  o.set_id(std::string(kMaxIdBytes, 'x'));
  o.set_metadata(std::string(kMaxMetadataBytes, 'm'));
  o.set_timestamp(123);
  EXPECT_TRUE(ValidateInsert(InsertOf(o), kOptions).ok());
  o.set_id("héllo ✓ 𝄞");  // 2-, 3- and 4-byte sequences
  EXPECT_TRUE(ValidateInsert(InsertOf(o), kOptions).ok());

  v1::RemoveRequest rm;
  rm.set_id("a");
  EXPECT_TRUE(ValidateRemove(rm).ok());
  v1::RemoveByTimestampRequest rbt;
  rbt.set_before(1);
  EXPECT_TRUE(ValidateRemoveByTimestamp(rbt).ok());
  v1::SearchRequest search;
  for (int i = 0; i < kDim; ++i) search.add_vector(1);
  search.set_k(1);
  EXPECT_TRUE(ValidateSearch(search, kOptions).ok());
  search.set_k(1000);
  EXPECT_TRUE(ValidateSearch(search, kOptions).ok());
  v1::MultiInsertRequest multi;
  *multi.add_requests() = InsertOf(GoodObject());
  EXPECT_TRUE(ValidateMultiInsert(multi, kOptions).ok());
}

TEST(Validation, ObjectFieldsAreNamed) {
  v1::Object o = GoodObject();
  o.add_vector(1);
  ExpectInvalid(ValidateInsert(InsertOf(o), kOptions), "object.vector: 5 values, index.dimension is 4");
  o = GoodObject();
  o.clear_vector();
  ExpectInvalid(ValidateInsert(InsertOf(o), kOptions), "object.vector: 0 values, index.dimension is 4");

  o = GoodObject();
  o.set_vector(2, std::nanf(""));
  ExpectInvalid(ValidateInsert(InsertOf(o), kOptions), "object.vector[2] is NaN");
  o = GoodObject();
  o.set_vector(3, std::numeric_limits<float>::infinity());
  ExpectInvalid(ValidateInsert(InsertOf(o), kOptions), "object.vector[3] is +Inf");
  o.set_vector(3, -std::numeric_limits<float>::infinity());
  ExpectInvalid(ValidateInsert(InsertOf(o), kOptions), "object.vector[3] is -Inf");

  o = GoodObject();
  o.set_id("");
  ExpectInvalid(ValidateInsert(InsertOf(o), kOptions), "object.id: empty");
  o.set_id(std::string(kMaxIdBytes + 1, 'x'));
  ExpectInvalid(ValidateInsert(InsertOf(o), kOptions), "object.id: 257 bytes, at most 256");
  o.set_id(std::string("ab\xff", 3));
  ExpectInvalid(ValidateInsert(InsertOf(o), kOptions), "object.id: not valid UTF-8 (byte 2)");

  o = GoodObject();
  o.set_metadata(std::string(kMaxMetadataBytes + 1, 'm'));
  ExpectInvalid(ValidateInsert(InsertOf(o), kOptions), "object.metadata: 65537 bytes, at most 65536");

  o = GoodObject();
  o.set_timestamp(-1);
  ExpectInvalid(ValidateInsert(InsertOf(o), kOptions), "object.timestamp: -1 is negative");

  // A missing object is an empty one: its id is the first thing missing.
  ExpectInvalid(ValidateUpdate(v1::UpdateRequest(), kOptions), "object.id: empty");
  v1::UpsertRequest up;
  *up.mutable_object() = GoodObject();
  up.mutable_object()->set_vector(0, std::nanf(""));
  ExpectInvalid(ValidateUpsert(up, kOptions), "object.vector[0] is NaN");
}

TEST(Validation, Utf8EdgeCases) {
  size_t bad = 0;
  EXPECT_TRUE(IsValidUtf8("plain", &bad));
  EXPECT_TRUE(IsValidUtf8("\xf4\x8f\xbf\xbf", &bad));          // U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xf4\x90\x80\x80", &bad));         // above U+10FFFF
  EXPECT_FALSE(IsValidUtf8("\xc0\xaf", &bad));                 // overlong '/'
  EXPECT_FALSE(IsValidUtf8("\xe0\x80\xaf", &bad));             // overlong
  EXPECT_FALSE(IsValidUtf8("\xed\xa0\x80", &bad));             // surrogate U+D800
  EXPECT_FALSE(IsValidUtf8("x\xe2\x82", &bad));                // truncated
  EXPECT_EQ(bad, 1u);
  EXPECT_FALSE(IsValidUtf8("\x80", &bad));                     // lone continuation
  EXPECT_FALSE(IsValidUtf8("\xe2\x28\xa1", &bad));             // bad continuation
}

TEST(Validation, RemoveAndRemoveByTimestamp) {
  v1::RemoveRequest rm;
  ExpectInvalid(ValidateRemove(rm), "id: empty");
  rm.set_id("a");
  rm.set_timestamp(-5);
  ExpectInvalid(ValidateRemove(rm), "timestamp: -5 is negative");

  v1::RemoveByTimestampRequest rbt;
  ExpectInvalid(ValidateRemoveByTimestamp(rbt), "before: 0 is not positive");
  rbt.set_before(-3);
  ExpectInvalid(ValidateRemoveByTimestamp(rbt), "before: -3 is not positive");
}

TEST(Validation, SearchKAndVector) {
  v1::SearchRequest s;
  for (int i = 0; i < kDim; ++i) s.add_vector(1);
  s.set_k(0);
  ExpectInvalid(ValidateSearch(s, kOptions), "k: 0 is outside 1..1000");
  s.set_k(1001);
  ExpectInvalid(ValidateSearch(s, kOptions), "k: 1001 is outside 1..1000");
  s.set_k(10);
  s.add_vector(1);
  ExpectInvalid(ValidateSearch(s, kOptions), "vector: 5 values, index.dimension is 4");
  s.clear_vector();
  for (int i = 0; i < kDim; ++i) s.add_vector(i == 1 ? std::nanf("") : 1);
  ExpectInvalid(ValidateSearch(s, kOptions), "vector[1] is NaN");

  v1::SearchByIDRequest by_id;
  by_id.set_k(5);
  ExpectInvalid(ValidateSearchByID(by_id, kOptions), "id: empty");
  by_id.set_id("a");
  by_id.set_k(0);
  ExpectInvalid(ValidateSearchByID(by_id, kOptions), "k: 0 is outside 1..1000");

  ExpectInvalid(ValidateGetObject(v1::GetObjectRequest()), "id: empty");
  v1::ExistsRequest ex;
  ex.set_id(std::string(300, 'z'));
  ExpectInvalid(ValidateExists(ex), "id: 300 bytes, at most 256");
}

TEST(Validation, MultiFormsNameTheItem) {
  v1::MultiInsertRequest mi;
  for (int i = 0; i < 5; ++i) *mi.add_requests() = InsertOf(GoodObject());
  mi.mutable_requests(3)->mutable_object()->set_id("");
  ExpectInvalid(ValidateMultiInsert(mi, kOptions), "requests[3].object.id: empty");
  // The first bad item is the one named.
  mi.mutable_requests(1)->mutable_object()->set_vector(2, std::nanf(""));
  ExpectInvalid(ValidateMultiInsert(mi, kOptions), "requests[1].object.vector[2] is NaN");

  v1::MultiUpdateRequest mu;
  *mu.add_requests()->mutable_object() = GoodObject();
  mu.mutable_requests(0)->mutable_object()->add_vector(0);
  ExpectInvalid(ValidateMultiUpdate(mu, kOptions), "requests[0].object.vector: 5 values, index.dimension is 4");

  v1::MultiUpsertRequest mup;
  *mup.add_requests()->mutable_object() = GoodObject();
  *mup.add_requests()->mutable_object() = GoodObject();
  mup.mutable_requests(1)->mutable_object()->set_timestamp(-7);
  ExpectInvalid(ValidateMultiUpsert(mup, kOptions), "requests[1].object.timestamp: -7 is negative");

  v1::MultiRemoveRequest mr;
  mr.add_requests()->set_id("a");
  mr.add_requests()->set_id("b");
  mr.add_requests()->set_id("");
  ExpectInvalid(ValidateMultiRemove(mr), "requests[2].id: empty");
  mr.mutable_requests(2)->set_id("c");
  mr.mutable_requests(0)->set_timestamp(-1);
  ExpectInvalid(ValidateMultiRemove(mr), "requests[0].timestamp: -1 is negative");
}

}  // namespace
}  // namespace baton::gateway
