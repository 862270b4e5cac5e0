// The status rules of mirroring (PRODUCT.md §6, Vald's mirror gateway), as
// pure functions shared by synchronous forwarding (the client waits for
// every cluster) and the log-driven sender:
//
//  - per target (the local store counts as one), Insert -> ALREADY_EXISTS is
//    answered by sending Update to that target, and Update -> NOT_FOUND by
//    sending Insert to it (FollowUp); the follow-up's answer is that
//    target's answer;
//  - then (Aggregate): any non-OK code other than the expected one is
//    returned as it is (the first such, in target order, local first); if
//    every target answered ALREADY_EXISTS (insert, update, upsert) or
//    NOT_FOUND (remove, remove-by-timestamp), that code; otherwise OK.
//
// Thread-safe: pure functions.
#pragma once

#include <optional>
#include <span>

#include "baton/v1/storage.pb.h"
#include "common/status.h"

namespace baton::gateway {

// The operation to send to the same target after it answered `answer` to
// `op`, or nullopt when its answer is final.
std::optional<v1::WriteOp> MirrorFollowUp(v1::WriteOp op, StatusCode answer);

// The answer of the whole mirrored write from every target's final answer.
// `answers` must not be empty.
Status AggregateMirrorStatus(v1::WriteOp op, std::span<const Status> answers);

// Whether a target's final answer means it holds the write (or something at
// least as new): OK, and the expected "nothing to do" code of `op`. The
// log-driven sender moves its cursor past such answers only.
bool MirrorAnswerSettles(v1::WriteOp op, StatusCode answer);

}  // namespace baton::gateway
