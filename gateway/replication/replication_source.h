// ReplicationSource: the active's side of log shipping. One sender per
// standby of the assignment streams the log to it (baton.v1.Replication
// Replicate: handshake with the epoch history, then entries in order, then
// heartbeats when idle) and records the durable position it acks. Writes
// wait in Await() until the assignment's sync rule holds for them:
// `sync_standbys` members of the sync set have the write, or, while only the
// failsafe keeps this active going, every standby has it.
//
// Thread-safe. `wal`, `history`, `role` and `clock` must outlive it.
#pragma once

#include <atomic>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <grpcpp/channel.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>

#include "baton/v1/control.pb.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/mutex.h"
#include "common/status.h"
#include "gateway/log/wal.h"
#include "gateway/replication/epoch_history.h"
#include "gateway/role.h"

namespace baton::gateway {

// A client channel to a peer gateway's Replication service, with short
// reconnect backoff (50 ms .. 1 s) and large messages allowed.
std::shared_ptr<grpc::Channel> NewReplicationChannel(const std::string& address);

struct ReplicationSourceOptions {
  std::string instance_id;
  // Idle senders send a heartbeat this often; the standby acks each.
  Duration heartbeat = std::chrono::milliseconds(50);
  // A write the sync rule does not accept within this fails UNAVAILABLE.
  Duration sync_timeout = std::chrono::seconds(5);
  // A standby counts as acking (failsafe) and as connected (GetState) if
  // it acked within this.
  Duration ack_window = std::chrono::milliseconds(500);
  size_t max_batch_records = 1024;
  size_t max_batch_bytes = 4u << 20;
};

class ReplicationSource {
 public:
  ReplicationSource(Wal& wal, EpochHistory& history, RoleState& role, Clock& clock, Metrics& metrics,
                    ReplicationSourceOptions options);
  ~ReplicationSource();

  // Runs senders for the standbys of `assignment` (this gateway is its
  // active): keeps a sender whose standby and epoch are unchanged, starts
  // new ones, stops the rest. Waiting writes are re-evaluated.
  void Configure(const v1::Assignment& assignment) EXCLUDES(mu_);
  // Stops every sender and fails waiting writes UNAVAILABLE (demotion).
  void Stop() EXCLUDES(mu_);

  // Calls `done` once the write at `position` may be acknowledged, or with
  // why not (UNAVAILABLE after sync_timeout; FAILED_PRECONDITION when fenced
  // or the epoch moved on). May call `done` before returning.
  void Await(LogPosition position, std::function<void(Status)> done) EXCLUDES(mu_);

  // Failsafe probe (gateway::FailsafeHolds): every standby of the assignment
  // streams at the current epoch, acked within ack_window, and its latest
  // ack did not report arbiter contact (false with no standbys).
  bool FailsafeHolds() const EXCLUDES(mu_);

  std::vector<v1::StandbyState> States() const EXCLUDES(mu_);

 private:
  class Sender;
  struct Waiter {
    LogPosition position;
    MonoTime deadline;
    MonoTime started;
    std::function<void(Status)> done;
  };

  // Completes the waiters whose fate is decided; call without mu_.
  void Evaluate() EXCLUDES(mu_);
  // Whether the sync rule holds for `seq`; mu_ held.
  bool SyncRuleHolds(uint64_t seq, bool all_standbys) const REQUIRES(mu_);
  void TimerLoop() EXCLUDES(mu_);
  void OnAck() { Evaluate(); }

  Wal& wal_;
  EpochHistory& history_;
  RoleState& role_;
  Clock& clock_;
  const ReplicationSourceOptions options_;
  prometheus::Histogram* ack_wait_seconds_;
  prometheus::Family<prometheus::Gauge>& lag_entries_;
  prometheus::Family<prometheus::Gauge>& lag_seconds_;

  mutable Mutex mu_;
  CondVar timer_cv_{&mu_};
  bool stopping_ GUARDED_BY(mu_) = false;
  // False after Stop() until the next Configure(): no write is acknowledged
  // (a standalone gateway, never configured, acks once durable).
  bool enabled_ GUARDED_BY(mu_) = true;
  v1::Assignment assignment_ GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<Sender>> senders_ GUARDED_BY(mu_);
  std::deque<Waiter> waiters_ GUARDED_BY(mu_);
  std::thread timer_;
};

}  // namespace baton::gateway
