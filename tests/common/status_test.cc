#include "common/status.h"

#include <gtest/gtest.h>

namespace baton {
namespace {

Result<int> Half(int x) {
  if (x % 2 != 0) return Status::InvalidArgument("odd: " + std::to_string(x));
  return x / 2;
}

Result<int> Quarter(int x) {
  BATON_ASSIGN_OR_RETURN(int half, Half(x));
  BATON_ASSIGN_OR_RETURN(int quarter, Half(half));
  return quarter;
}

TEST(Status, OkByDefault) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(Status, ToStringUsesGrpcCodeNames) {
  EXPECT_EQ(Status::NotFound("wal 000042.log").ToString(), "NOT_FOUND: wal 000042.log");
  EXPECT_EQ(Status::FailedPrecondition("lease").ToString(), "FAILED_PRECONDITION: lease");
  EXPECT_EQ(static_cast<int>(StatusCode::kUnauthenticated), 16);
}

TEST(Status, WithContextKeepsCode) {
  Status s = Status::DataLoss("bad crc at offset 81920").WithContext("wal 000042.log");
  EXPECT_EQ(s.code(), StatusCode::kDataLoss);
  EXPECT_EQ(s.message(), "wal 000042.log: bad crc at offset 81920");
  EXPECT_TRUE(Status::Ok().WithContext("x").ok());
}

TEST(Result, CarriesValueOrStatus) {
  EXPECT_EQ(*Quarter(8), 2);
  Result<int> r = Quarter(6);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "odd: 3");
}

TEST(Result, OkStatusWithoutValueIsAnError) {
  Result<int> r = Status::Ok();
  EXPECT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), StatusCode::kInternal);
}

TEST(Result, ValueOfFailedResultAborts) {
  Result<int> r = Status::NotFound("x");
  EXPECT_DEATH({ (void)r.value(); }, "");
}

}  // namespace
}  // namespace baton
