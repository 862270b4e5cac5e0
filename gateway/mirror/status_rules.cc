#include "gateway/mirror/status_rules.h"

namespace baton::gateway {
namespace {

// The code every target may answer without it being an error: the write
// asked for something that is already so.
StatusCode ExpectedCode(v1::WriteOp op) {
  switch (op) {
    case v1::WRITE_OP_REMOVE:
    case v1::WRITE_OP_REMOVE_BY_TIMESTAMP:
      return StatusCode::kNotFound;
    default:
      return StatusCode::kAlreadyExists;
  }
}

}  // namespace

std::optional<v1::WriteOp> MirrorFollowUp(v1::WriteOp op, StatusCode answer) {
  if (op == v1::WRITE_OP_INSERT && answer == StatusCode::kAlreadyExists) return v1::WRITE_OP_UPDATE;
  if (op == v1::WRITE_OP_UPDATE && answer == StatusCode::kNotFound) return v1::WRITE_OP_INSERT;
  return std::nullopt;
}

Status AggregateMirrorStatus(v1::WriteOp op, std::span<const Status> answers) {
  const StatusCode expected = ExpectedCode(op);
  for (const Status& answer : answers) {
    if (!answer.ok() && answer.code() != expected) return answer;
  }
  for (const Status& answer : answers) {
    if (answer.code() != expected) return Status::Ok();
  }
  return answers.empty() ? Status::Ok() : answers.front();
}

bool MirrorAnswerSettles(v1::WriteOp op, StatusCode answer) {
  return answer == StatusCode::kOk || answer == ExpectedCode(op);
}

}  // namespace baton::gateway
