// FollowingWriter: a client that keeps writing to whichever gateway of a
// GatewayCluster is active, the way a Baton client library should: it writes
// to the gateway it believes active; UNAVAILABLE with `baton-active` moves it
// to the named gateway; any other failure (refused, fenced, timeout) moves it
// to the next member. A gateway that just timed out (hung, or stopped) is
// suspect for `suspect_for`: a redirect back to it is not followed meanwhile
// (the next member is tried instead), so a client does not spend one RPC
// timeout per redirect on a gateway the standbys still name. Each write upserts a fresh id ("w<n>") with a vector
// derived from n, so every acknowledged write can be checked afterwards.
//
// It records every acknowledgement (id, vector, time, gateway) and keeps the
// longest gap between consecutive acks after a given moment (the outage a
// client saw). Bounded: stops after `max_writes` or Stop().
//
// Thread-safety: Start()/Stop() from one thread; the accessors from any. The
// cluster must outlive the writer.
#pragma once

#include <atomic>
#include <chrono>
#include <cstdint>
#include <string>
#include <thread>
#include <vector>

#include "common/mutex.h"
#include "tests/support/gateway_cluster.h"

namespace baton::testing {

class FollowingWriter {
 public:
  struct Ack {
    std::string id;
    std::vector<float> vector;
    std::chrono::steady_clock::time_point at;
    int gateway = -1;
  };

  struct Options {
    int dimension = 4;
    // Per write; a hung active costs at most this much before trying another.
    std::chrono::milliseconds rpc_timeout{300};
    uint64_t max_writes = 1'000'000;
    // Pause after a failed write before the next attempt (not after acks).
    std::chrono::milliseconds retry_pause{5};
    std::chrono::milliseconds suspect_for{1000};
  };

  FollowingWriter(const GatewayCluster& cluster, Options options);
  ~FollowingWriter() { Stop(); }

  void Start(int first_gateway);
  void Stop();

  std::vector<Ack> acks() const EXCLUDES(mu_);
  uint64_t ack_count() const EXCLUDES(mu_);
  uint64_t failures() const { return failures_.load(); }
  // Failed writes other than UNAVAILABLE naming the active in `baton-active`
  // (the one answer a planned switchover may give), and the first few of
  // them as text.
  uint64_t unexpected_failures() const { return unexpected_failures_.load(); }
  std::vector<std::string> unexpected_errors() const EXCLUDES(mu_);
  // "g2: DEADLINE_EXCEEDED ..." of the last failed write, and how the writes
  // after the last ack went (for failure messages).
  std::string last_error() const EXCLUDES(mu_);
  // The acked writes after `since`'s last ack before it: the longest gap
  // between two consecutive acks that starts at or after the last ack
  // before `since`. Zero when there was no ack after `since`.
  std::chrono::nanoseconds LongestGapAfter(std::chrono::steady_clock::time_point since) const EXCLUDES(mu_);
  // Waits until `n` more acks than now have arrived after this call.
  bool WaitForMoreAcks(uint64_t n, std::chrono::milliseconds timeout) const;

  static std::vector<float> VectorFor(uint64_t n, int dimension);

 private:
  void Run(int gateway);
  int IndexOf(const std::string& address) const;

  const GatewayCluster& cluster_;
  const Options options_;
  std::atomic<bool> stop_{false};
  std::atomic<uint64_t> failures_{0};
  std::atomic<uint64_t> unexpected_failures_{0};
  std::thread thread_;
  mutable Mutex mu_;
  std::vector<Ack> acks_ GUARDED_BY(mu_);
  std::string last_error_ GUARDED_BY(mu_);
  std::vector<std::string> unexpected_errors_ GUARDED_BY(mu_);
};

// Every acknowledged write of `acks` read back from gateway `i`: one line per
// write that is missing or has another vector (at most `max_reported`, then a
// count). Empty when all are there.
std::vector<std::string> MissingAcks(GatewayCluster& gateways, int i, const std::vector<FollowingWriter::Ack>& acks,
                                     size_t max_reported = 5);

}  // namespace baton::testing
