#include "tests/chaos/history.h"

#include <cstdio>

#include "common/status.h"

namespace baton::chaos {

const char* OpTypeName(OpType type) {
  switch (type) {
    case OpType::kInsert: return "insert";
    case OpType::kUpdate: return "update";
    case OpType::kUpsert: return "upsert";
    case OpType::kRemove: return "remove";
    case OpType::kGet: return "get";
  }
  return "?";
}

const char* OutcomeName(Outcome outcome) {
  switch (outcome) {
    case Outcome::kPending: return "pending";
    case Outcome::kOk: return "ok";
    case Outcome::kFail: return "fail";
    case Outcome::kUnknown: return "unknown";
  }
  return "?";
}

uint64_t History::Invoke(Op op) {
  MutexLock lock(&mu_);
  op.index = ops_.size();
  ops_.push_back(std::move(op));
  return ops_.size() - 1;
}

void History::Complete(uint64_t index, Outcome outcome, int code, std::string message, int64_t timestamp, bool found,
                       std::string read_tag, bool read_vector_ok) {
  const SteadyTime now = std::chrono::steady_clock::now();
  MutexLock lock(&mu_);
  Op& op = ops_[index];
  op.completed = now;
  op.outcome = outcome;
  op.code = code;
  op.message = std::move(message);
  op.timestamp = timestamp;
  op.found = found;
  op.read_tag = std::move(read_tag);
  op.read_vector_ok = read_vector_ok;
}

void History::Observe(const GatewayObservation& observation) {
  MutexLock lock(&mu_);
  gateway_observations_.push_back(observation);
}

void History::Observe(const ClusterStateObservation& observation) {
  MutexLock lock(&mu_);
  cluster_observations_.push_back(observation);
}

std::vector<Op> History::ops() const {
  MutexLock lock(&mu_);
  return ops_;
}

std::vector<GatewayObservation> History::gateway_observations() const {
  MutexLock lock(&mu_);
  return gateway_observations_;
}

std::vector<ClusterStateObservation> History::cluster_observations() const {
  MutexLock lock(&mu_);
  return cluster_observations_;
}

std::vector<float> VectorForTag(const std::string& tag, int dimension) {
  // FNV-1a of the tag, then one value per dimension from it: distinct tags
  // get distinct vectors with overwhelming probability.
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : tag) h = (h ^ c) * 1099511628211ull;
  std::vector<float> v(dimension);
  for (int d = 0; d < dimension; ++d) {
    h = (h ^ static_cast<uint64_t>(d + 1)) * 1099511628211ull;
    v[d] = static_cast<float>(h % 100000) / 1000.0f;
  }
  return v;
}

std::string DescribeOp(const Op& op, SteadyTime origin, const std::vector<std::string>& gateway_names,
                       const std::vector<std::string>& cluster_names) {
  auto ms = [&](SteadyTime t) {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t - origin).count();
  };
  char times[96];
  std::snprintf(times, sizeof times, "[%+lldms..%+lldms]", static_cast<long long>(ms(op.invoked)),
                static_cast<long long>(op.outcome == Outcome::kPending ? -1 : ms(op.completed)));
  std::string text = "#" + std::to_string(op.index) + " " + times + " " +
                     (op.cluster >= 0 && op.cluster < static_cast<int>(cluster_names.size())
                          ? cluster_names[op.cluster]
                          : "c?") +
                     "/client" + std::to_string(op.client) + " " + OpTypeName(op.type) + " " + op.key;
  if (IsWrite(op.type)) text += " tag=" + op.tag;
  text += " via " +
          (op.gateway >= 0 && op.gateway < static_cast<int>(gateway_names.size()) ? gateway_names[op.gateway]
                                                                                 : std::string("?"));
  text += op.epoch ? " epoch=" + std::to_string(op.epoch) : " epoch=?";
  text += std::string(" -> ") + OutcomeName(op.outcome);
  if (op.code >= 0) text += " " + std::string(StatusCodeName(static_cast<StatusCode>(op.code)));
  if (op.outcome == Outcome::kOk && IsWrite(op.type)) text += " ts=" + std::to_string(op.timestamp);
  if (op.type == OpType::kGet && op.outcome == Outcome::kOk) {
    text += op.found ? " found tag=" + op.read_tag + " ts=" + std::to_string(op.timestamp) +
                           (op.read_vector_ok ? "" : " (VECTOR MISMATCH)")
                     : " not found";
  }
  if (op.outcome != Outcome::kOk && !op.message.empty()) text += " '" + op.message.substr(0, 160) + "'";
  return text;
}

}  // namespace baton::chaos
