// MirrorSender: delivers this cluster's writes to one mirror target from the
// log (PRODUCT.md §6, docs/mirroring.md). A thread reads the log after the
// target's cursor, waits until the records may be acknowledged locally (so
// a peer never gets a write that a failover here could take back), and
// sends the writes that originated here, in log order, batched into Multi*
// calls, applying the status rules (status_rules.h) per item. A batch counts
// as delivered once every item's answer settles it; then the cursor moves
// past its records. Failures are retried with exponential backoff and
// jitter, forever: the sender stalls rather than skip a write (last_error
// says why). Writes that came from a peer (mirror_origin set) and records
// without writes only move the cursor.
//
// When the log no longer reaches back to the cursor (or there is no cursor
// and the log does not start at seq 1), the sender first sends the whole
// store (objects and tombstones with their versions, under their origin)
// and goes on from the position that copy was taken at.
//
// Thread-safe: the accessors may be called from any thread. Stop() (or the
// destructor) waits for the thread; a call in flight is cancelled.
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>

#include "baton/v1/control.pb.h"
#include "common/backoff.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "gateway/log/wal.h"
#include "gateway/mirror/peer_client.h"
#include "gateway/store/store.h"

namespace baton::gateway {

// Registered once by the owner (MirrorManager); each sender adds its target's series.
struct MirrorMetricFamilies {
  prometheus::Family<prometheus::Gauge>* lag_entries = nullptr;
  prometheus::Family<prometheus::Gauge>* lag_seconds = nullptr;
  prometheus::Family<prometheus::Counter>* delivered = nullptr;
  prometheus::Family<prometheus::Counter>* errors = nullptr;  // by target and code
};

struct MirrorSenderOptions {
  std::string own_cluster;
  size_t max_batch = 256;  // writes per Multi* call
  Duration timeout = std::chrono::seconds(5);
  BackoffOptions backoff{std::chrono::milliseconds(50), std::chrono::seconds(2), 2.0, 0.5};
  // Blocks until every record up to `seq` may be acknowledged locally (the
  // assignment's sync rule holds for it), or says why not; gives up with
  // CANCELLED soon after `stopping()` turns true.
  std::function<Status(uint64_t seq, const std::function<bool()>& stopping)> await_committed;
};

class MirrorSender {
 public:
  // Starts delivering records after `cursor` (0 with no cursor yet: from
  // seq 1 if the log still starts there, else from a copy of the store).
  MirrorSender(MirrorTargetSpec target, uint64_t cursor, Wal& wal, const ObjectStore& store, Clock& clock,
               const MirrorMetricFamilies& metrics, MirrorSenderOptions options);
  ~MirrorSender();
  MirrorSender(const MirrorSender&) = delete;
  MirrorSender& operator=(const MirrorSender&) = delete;

  void Stop() EXCLUDES(mu_);

  const MirrorTargetSpec& target() const { return peer_->target(); }
  std::shared_ptr<PeerClient> peer() const { return peer_; }
  // Every record with seq <= delivered_seq() has been delivered.
  uint64_t delivered_seq() const { return delivered_seq_.load(std::memory_order_acquire); }
  // Seq of the last record whose writes were sent: the cursor is worth
  // logging only when this moved (a cursor record itself has no writes).
  uint64_t last_write_seq() const { return last_write_seq_.load(std::memory_order_acquire); }
  v1::MirrorPeerState State() const EXCLUDES(mu_);

 private:
  // Writes read from the log but not yet delivered, as runs of one op each.
  struct Pending {
    std::vector<MirrorBatch> runs;
    uint64_t last_seq = 0;  // the last record they came from
    bool has_writes = false;
    // Wall time (ns) the oldest write was made, for lag_seconds.
    int64_t oldest_wall_ns = 0;
  };

  void Run();
  // Reads records into `pending` until max_batch writes or no more durable ones.
  Status Fill(Pending* pending) EXCLUDES(mu_);
  // The store as one Pending (full resync); the reader then starts after it.
  Status FillFromStore(Pending* pending);
  Status Deliver(Pending& pending) EXCLUDES(mu_);
  // Sends one run and its follow-ups; OK when every item settled.
  Status DeliverRun(MirrorBatch& run) EXCLUDES(mu_);
  void Append(Pending* pending, v1::WriteOp op, WriteRequest item, const std::string& origin);
  void NoteError(const Status& status) EXCLUDES(mu_);
  // The lag gauges from State().
  void UpdateGauges() EXCLUDES(mu_);
  // Waits `delay` unless stopped; false once stopped.
  bool WaitFor(Duration delay) EXCLUDES(mu_);
  bool stopping() const EXCLUDES(mu_);

  Wal& wal_;
  const ObjectStore& store_;
  Clock& clock_;
  const MirrorSenderOptions options_;
  std::shared_ptr<PeerClient> peer_;
  std::unique_ptr<WalReader> reader_;  // sender thread only
  bool needs_resync_ = false;          // sender thread only
  Backoff backoff_;                    // sender thread only

  std::atomic<uint64_t> delivered_seq_;
  std::atomic<uint64_t> last_write_seq_{0};
  std::atomic<int64_t> oldest_pending_wall_ns_{0};

  prometheus::Gauge& lag_entries_;
  prometheus::Gauge& lag_seconds_;
  prometheus::Counter& delivered_total_;
  prometheus::Family<prometheus::Counter>& errors_total_;

  mutable Mutex mu_;
  CondVar cv_{&mu_};
  bool stopping_ GUARDED_BY(mu_) = false;
  bool connected_ GUARDED_BY(mu_) = false;
  std::string last_error_ GUARDED_BY(mu_);
  uint64_t delivered_writes_ GUARDED_BY(mu_) = 0;
  std::thread thread_;
};

}  // namespace baton::gateway
