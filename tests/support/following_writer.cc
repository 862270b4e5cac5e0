#include "tests/support/following_writer.h"

#include <algorithm>

#include "tests/support/test_util.h"

namespace baton::testing {

FollowingWriter::FollowingWriter(const GatewayCluster& cluster, Options options)
    : cluster_(cluster), options_(options) {}

std::vector<float> FollowingWriter::VectorFor(uint64_t n, int dimension) {
  std::vector<float> v(dimension);
  for (int d = 0; d < dimension; ++d) v[d] = static_cast<float>((n * 31 + d * 7) % 1000) / 1000.0f;
  return v;
}

void FollowingWriter::Start(int first_gateway) {
  stop_ = false;
  thread_ = std::thread([this, first_gateway] { Run(first_gateway); });
}

void FollowingWriter::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

int FollowingWriter::IndexOf(const std::string& address) const {
  for (int i = 0; i < cluster_.size(); ++i) {
    if (cluster_.address(i) == address) return i;
  }
  return -1;
}

void FollowingWriter::Run(int gateway) {
  std::vector<std::chrono::steady_clock::time_point> suspect_until(cluster_.size());
  for (uint64_t n = 0; n < options_.max_writes && !stop_;) {
    const std::string id = "w" + std::to_string(n);
    std::vector<float> vector = VectorFor(n, options_.dimension);
    auto outcome = cluster_.Upsert(gateway, GatewayCluster::MakeObject(id, vector), options_.rpc_timeout);
    // ALREADY_EXISTS: a retry of a write that was applied but not answered
    // (the old active died before acking it, and it reached this gateway by
    // replication); the object is stored with exactly this value.
    if (outcome.status.ok() || outcome.status.error_code() == grpc::StatusCode::ALREADY_EXISTS) {
      MutexLock lock(&mu_);
      acks_.push_back(Ack{id, std::move(vector), std::chrono::steady_clock::now(), gateway});
      ++n;
      continue;
    }
    // The same id is retried: an upsert of the same value is idempotent, so a
    // write that was applied but not acknowledged is harmless.
    failures_.fetch_add(1);
    const bool redirected =
        outcome.status.error_code() == grpc::StatusCode::UNAVAILABLE && !outcome.baton_active.empty();
    if (!redirected) unexpected_failures_.fetch_add(1);
    {
      MutexLock lock(&mu_);
      last_error_ = cluster_.id(gateway) + ": code " + std::to_string(outcome.status.error_code()) + " " +
                    outcome.status.error_message() + (outcome.baton_active.empty() ? "" : " (baton-active " +
                    outcome.baton_active + ")");
      constexpr size_t kKeptErrors = 20;
      if (!redirected && unexpected_errors_.size() < kKeptErrors) unexpected_errors_.push_back(last_error_);
    }
    const auto now = std::chrono::steady_clock::now();
    if (outcome.status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) suspect_until[gateway] = now + options_.suspect_for;
    const int named = outcome.baton_active.empty() ? -1 : IndexOf(outcome.baton_active);
    if (named >= 0 && named != gateway && suspect_until[named] <= now) {
      gateway = named;
    } else {
      // The next member that is not suspect (any, when all are).
      int next = (gateway + 1) % cluster_.size();
      for (int tries = 0; tries < cluster_.size() && suspect_until[next] > now; ++tries) next = (next + 1) % cluster_.size();
      gateway = next;
    }
    std::this_thread::sleep_for(options_.retry_pause);  // pacing a retry loop, not synchronisation
  }
}

std::vector<FollowingWriter::Ack> FollowingWriter::acks() const {
  MutexLock lock(&mu_);
  return acks_;
}

std::vector<std::string> FollowingWriter::unexpected_errors() const {
  MutexLock lock(&mu_);
  return unexpected_errors_;
}

std::string FollowingWriter::last_error() const {
  MutexLock lock(&mu_);
  return last_error_;
}

uint64_t FollowingWriter::ack_count() const {
  MutexLock lock(&mu_);
  return acks_.size();
}

std::chrono::nanoseconds FollowingWriter::LongestGapAfter(std::chrono::steady_clock::time_point since) const {
  MutexLock lock(&mu_);
  auto first_after = std::find_if(acks_.begin(), acks_.end(), [&](const Ack& a) { return a.at >= since; });
  if (first_after == acks_.end()) return std::chrono::nanoseconds(0);
  auto from = first_after == acks_.begin() ? first_after : first_after - 1;
  std::chrono::nanoseconds longest(0);
  for (auto it = from; it + 1 != acks_.end(); ++it) longest = std::max(longest, (it + 1)->at - it->at);
  return longest;
}

bool FollowingWriter::WaitForMoreAcks(uint64_t n, std::chrono::milliseconds timeout) const {
  const uint64_t target = ack_count() + n;
  return WaitFor([&] { return ack_count() >= target; }, timeout);
}

std::vector<std::string> MissingAcks(GatewayCluster& gateways, int i, const std::vector<FollowingWriter::Ack>& acks,
                                     size_t max_reported) {
  std::vector<std::string> problems;
  size_t missing = 0;
  for (const auto& ack : acks) {
    auto got = gateways.GetObject(i, ack.id, std::chrono::seconds(5));
    if (got.status.ok() && std::vector<float>(got.object.vector().begin(), got.object.vector().end()) == ack.vector) {
      continue;
    }
    if (++missing <= max_reported) {
      problems.push_back("acknowledged write " + ack.id + " (acked by " + gateways.id(ack.gateway) +
                         ") is missing or different on " + gateways.id(i) + ": " + got.status.error_message());
    }
  }
  if (missing > max_reported) {
    problems.push_back(std::to_string(missing) + " of " + std::to_string(acks.size()) + " acknowledged writes missing");
  }
  return problems;
}

}  // namespace baton::testing
