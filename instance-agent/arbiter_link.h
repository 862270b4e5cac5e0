// ArbiterLink: the agent's one heartbeat stream (baton.v1.Arbiter/Heartbeats).
//
// Sends a heartbeat every `heartbeat_interval`, and at once on Nudge() (the
// probe saw the gateway change, e.g. its process exit). Remembers when each
// sequence number was sent, so that a granted answer becomes a lease that
// runs from the send time, never from the (later) receipt.
//
// Where it connects: the addresses in turn. A follower's answer names the
// leader and the link goes there at once; a stream that fails, or stops
// answering for `answer_timeout`, is dropped and the next address is tried
// after a backoff (50 ms first, growing to 1 s). Each attempt uses a fresh
// channel with a bounded connect, so gRPC's own reconnect backoff (seconds)
// never delays a failover.
#pragma once

#include <functional>
#include <map>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "baton/v1/arbiter.pb.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "instance-agent/agent_metrics.h"

namespace baton::agent {

struct LinkOptions {
  std::vector<std::string> addresses;  // non-empty
  Duration heartbeat_interval = std::chrono::milliseconds(100);
  // How long one attempt may take to establish the connection.
  Duration connect_timeout = std::chrono::seconds(1);
  // A leader answers every heartbeat; silence this long means it hangs.
  Duration answer_timeout = std::chrono::seconds(1);
  BackoffOptions backoff{.initial = std::chrono::milliseconds(50),
                         .max = std::chrono::seconds(1),
                         .multiplier = 2.0,
                         .jitter = 0.2};
  // The leader asked for a report now (HeartbeatResponse.report_now). Unset:
  // Nudge(). The agent instead sends one once a probe begun after the
  // request has completed, so the report is fresh. Must not block.
  std::function<void()> on_report_request;
};

// Start()/Stop() from the owner's thread. The stream is written by the
// "arbiter-link" thread and read by one reader thread per stream; Nudge()
// and the accessors are thread-safe. The source and sink run on those
// threads and must not block. `clock` and `metrics` must outlive the link.
class ArbiterLink {
 public:
  // Everything but `sequence`; nullopt = nothing to report yet (the
  // instance id is not known), the stream stays up but silent.
  using HeartbeatSource = std::function<std::optional<v1::Heartbeat>()>;
  // A granted assignment answering the heartbeat sent at `sent_at`.
  using GrantSink = std::function<void(const v1::Assignment& assignment, MonoTime sent_at)>;

  ArbiterLink(LinkOptions options, Clock& clock, AgentMetrics& metrics, HeartbeatSource source, GrantSink sink);
  ~ArbiterLink();  // Stop()
  ArbiterLink(const ArbiterLink&) = delete;
  ArbiterLink& operator=(const ArbiterLink&) = delete;

  void Start();
  void Stop() EXCLUDES(mu_);

  // Send a heartbeat now instead of at the next tick.
  void Nudge() EXCLUDES(mu_);

  // True while a stream is up and the arbiter has answered on it.
  bool connected() const EXCLUDES(mu_);
  // Address of the arbiter the current stream goes to ("" when none).
  std::string current_address() const EXCLUDES(mu_);

 private:
  struct SessionEnd {
    bool answered = false;       // a leader answered at least once
    std::string leader_address;  // a follower named the leader
    std::string reason;
  };

  void Loop() EXCLUDES(mu_);
  SessionEnd RunSession(const std::string& address) EXCLUDES(mu_);
  // Reader thread: one answer. Returns false to stop reading.
  bool HandleAnswer(const v1::HeartbeatResponse& answer, const std::string& address) EXCLUDES(mu_);
  // Sleeps `delay` unless stopped first; returns false when stopping.
  bool WaitBeforeRetry(Duration delay) EXCLUDES(mu_);

  const LinkOptions options_;
  Clock& clock_;
  AgentMetrics& metrics_;
  const HeartbeatSource source_;
  const GrantSink sink_;

  mutable Mutex mu_;
  CondVar cv_{&mu_};
  bool stop_ GUARDED_BY(mu_) = false;
  bool nudged_ GUARDED_BY(mu_) = false;
  uint64_t sequence_ GUARDED_BY(mu_) = 0;
  // Send time per sequence number, bounded (oldest dropped first).
  std::map<uint64_t, MonoTime> sent_at_ GUARDED_BY(mu_);
  // The current stream (one at a time).
  std::string address_ GUARDED_BY(mu_);
  bool connected_ GUARDED_BY(mu_) = false;
  bool session_over_ GUARDED_BY(mu_) = false;
  // Send time of the oldest heartbeat not yet followed by any answer.
  std::optional<MonoTime> unanswered_since_ GUARDED_BY(mu_);
  // So that Stop() can cancel a Write() blocked by flow control.
  grpc::ClientContext* context_ GUARDED_BY(mu_) = nullptr;
  SessionEnd end_ GUARDED_BY(mu_);
  std::thread thread_;
};

}  // namespace baton::agent
