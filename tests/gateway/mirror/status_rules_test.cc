// The mirroring status rules of PRODUCT.md §6, one table row each.
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "gateway/mirror/status_rules.h"

namespace baton::gateway {
namespace {

using SC = StatusCode;

TEST(MirrorFollowUp, InsertAlreadyExistsBecomesUpdateAndUpdateNotFoundBecomesInsert) {
  EXPECT_EQ(MirrorFollowUp(v1::WRITE_OP_INSERT, SC::kAlreadyExists), v1::WRITE_OP_UPDATE);
  EXPECT_EQ(MirrorFollowUp(v1::WRITE_OP_UPDATE, SC::kNotFound), v1::WRITE_OP_INSERT);
  EXPECT_EQ(MirrorFollowUp(v1::WRITE_OP_INSERT, SC::kOk), std::nullopt);
  EXPECT_EQ(MirrorFollowUp(v1::WRITE_OP_UPDATE, SC::kAlreadyExists), std::nullopt);
  EXPECT_EQ(MirrorFollowUp(v1::WRITE_OP_UPSERT, SC::kAlreadyExists), std::nullopt);
  EXPECT_EQ(MirrorFollowUp(v1::WRITE_OP_REMOVE, SC::kNotFound), std::nullopt);
  EXPECT_EQ(MirrorFollowUp(v1::WRITE_OP_INSERT, SC::kUnavailable), std::nullopt);
}

struct AggregateCase {
  std::string name;
  v1::WriteOp op;
  std::vector<SC> answers;  // local first
  SC want;
};

void PrintTo(const AggregateCase& c, std::ostream* os) { *os << c.name; }

class AggregateMirrorStatusTest : public ::testing::TestWithParam<AggregateCase> {};

TEST_P(AggregateMirrorStatusTest, Case) {
  const AggregateCase& c = GetParam();
  std::vector<Status> answers;
  for (SC code : c.answers) answers.emplace_back(code, code == SC::kOk ? "" : std::string(StatusCodeName(code)));
  Status got = AggregateMirrorStatus(c.op, answers);
  EXPECT_EQ(got.code(), c.want) << got;
}

INSTANTIATE_TEST_SUITE_P(
    Table, AggregateMirrorStatusTest,
    ::testing::Values(
        AggregateCase{"AllOk", v1::WRITE_OP_INSERT, {SC::kOk, SC::kOk, SC::kOk}, SC::kOk},
        AggregateCase{"InsertAllAlreadyExist", v1::WRITE_OP_INSERT,
                      {SC::kAlreadyExists, SC::kAlreadyExists, SC::kAlreadyExists}, SC::kAlreadyExists},
        AggregateCase{"InsertSomeAlreadyExist", v1::WRITE_OP_INSERT, {SC::kOk, SC::kAlreadyExists, SC::kOk},
                      SC::kOk},
        AggregateCase{"UpdateAllAlreadyExist", v1::WRITE_OP_UPDATE, {SC::kAlreadyExists, SC::kAlreadyExists},
                      SC::kAlreadyExists},
        AggregateCase{"UpsertAllAlreadyExist", v1::WRITE_OP_UPSERT, {SC::kAlreadyExists, SC::kAlreadyExists},
                      SC::kAlreadyExists},
        AggregateCase{"RemoveAllNotFound", v1::WRITE_OP_REMOVE, {SC::kNotFound, SC::kNotFound, SC::kNotFound},
                      SC::kNotFound},
        AggregateCase{"RemoveSomeNotFound", v1::WRITE_OP_REMOVE, {SC::kNotFound, SC::kOk, SC::kNotFound}, SC::kOk},
        AggregateCase{"RemoveByTimestampAllNotFound", v1::WRITE_OP_REMOVE_BY_TIMESTAMP,
                      {SC::kNotFound, SC::kNotFound}, SC::kNotFound},
        AggregateCase{"InsertNotFoundIsAnError", v1::WRITE_OP_INSERT, {SC::kOk, SC::kNotFound}, SC::kNotFound},
        AggregateCase{"RemoveAlreadyExistsIsAnError", v1::WRITE_OP_REMOVE, {SC::kOk, SC::kAlreadyExists},
                      SC::kAlreadyExists},
        AggregateCase{"PeerUnavailableWins", v1::WRITE_OP_INSERT, {SC::kOk, SC::kUnavailable, SC::kAlreadyExists},
                      SC::kUnavailable},
        AggregateCase{"FirstErrorInTargetOrder", v1::WRITE_OP_UPDATE,
                      {SC::kAlreadyExists, SC::kInvalidArgument, SC::kUnavailable}, SC::kInvalidArgument},
        AggregateCase{"LocalOnly", v1::WRITE_OP_INSERT, {SC::kAlreadyExists}, SC::kAlreadyExists}));

TEST(MirrorAnswerSettles, OkAndTheExpectedCodeOnly) {
  EXPECT_TRUE(MirrorAnswerSettles(v1::WRITE_OP_INSERT, SC::kOk));
  EXPECT_TRUE(MirrorAnswerSettles(v1::WRITE_OP_UPDATE, SC::kAlreadyExists));
  EXPECT_TRUE(MirrorAnswerSettles(v1::WRITE_OP_REMOVE, SC::kNotFound));
  EXPECT_FALSE(MirrorAnswerSettles(v1::WRITE_OP_REMOVE, SC::kAlreadyExists));
  EXPECT_FALSE(MirrorAnswerSettles(v1::WRITE_OP_INSERT, SC::kNotFound));
  EXPECT_FALSE(MirrorAnswerSettles(v1::WRITE_OP_UPSERT, SC::kInvalidArgument));
}

}  // namespace
}  // namespace baton::gateway
