// MirrorManager: this gateway's part in mirroring (PRODUCT.md §6,
// docs/mirroring.md). While the gateway is its cluster's active it runs one
// MirrorSender per target and logs their cursors (a kCursor record, at most
// every cursor_interval, only when a cursor moved past new writes) so that a
// promoted standby carries on from them; as a standby it runs nothing and
// the cursors arrive with the replicated log. It also says how far back the
// log must be kept (RetainFrom) and hands the peers to synchronous
// forwarding.
//
// Thread-safe. Configure() calls are serialized by the caller (the
// gateway's role changes). `wal`, `store` and `writes` must outlive it.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include <prometheus/counter.h>

#include "baton/v1/control.pb.h"
#include "common/clock.h"
#include "common/metrics.h"
#include "common/mirror_target.h"
#include "common/mutex.h"
#include "gateway/mirror/mirror_sender.h"
#include "gateway/write_path.h"

namespace baton::gateway {

struct MirrorManagerOptions {
  std::string own_cluster;
  Duration cursor_interval = std::chrono::milliseconds(200);
  MirrorSenderOptions sender;  // own_cluster is filled in
};

class MirrorManager {
 public:
  MirrorManager(Wal& wal, ObjectStore& store, WritePath& writes, Clock& clock, Metrics& metrics,
                MirrorManagerOptions options);
  ~MirrorManager();
  MirrorManager(const MirrorManager&) = delete;
  MirrorManager& operator=(const MirrorManager&) = delete;

  // The targets (those of this very cluster are dropped), whether this
  // gateway is the active that delivers, and the mode ("sync" or "async").
  // Keeps a sender whose target is unchanged; a new one starts from the
  // store's cursor for its name. Returns only once no cursor record can be
  // logged any more when `active` is false (a standby must not append).
  void Configure(std::vector<MirrorTargetSpec> targets, bool active, const std::string& mode) EXCLUDES(mu_);
  void Stop() EXCLUDES(mu_);

  bool sync_mode() const EXCLUDES(mu_);
  // The peers for synchronous forwarding (empty unless active).
  std::vector<std::shared_ptr<PeerClient>> peers() const EXCLUDES(mu_);
  std::vector<v1::MirrorPeerState> States() const EXCLUDES(mu_);
  // Lowest log seq some target still needs (UINT64_MAX: none): the
  // snapshotter keeps segments from there on. On a standby, the replicated
  // cursors of the configured targets.
  uint64_t RetainFrom() const EXCLUDES(mu_);

 private:
  void CursorLoop() EXCLUDES(mu_);
  // Logs every sender's cursor if one moved past new writes; cursor_mu_ held.
  void LogCursorsIfMoved() REQUIRES(cursor_mu_) EXCLUDES(mu_);
  void RefreshAppliedMetric() EXCLUDES(mu_);

  Wal& wal_;
  ObjectStore& store_;
  WritePath& writes_;
  Clock& clock_;
  const MirrorManagerOptions options_;
  MirrorMetricFamilies families_;
  prometheus::Family<prometheus::Counter>* applied_total_ = nullptr;

  // Held while a cursor record is being logged; Configure(active=false)
  // takes it so that no append happens after it returns.
  Mutex cursor_mu_;
  mutable Mutex mu_;
  CondVar cv_{&mu_};
  bool stopping_ GUARDED_BY(mu_) = false;
  bool active_ GUARDED_BY(mu_) = false;
  bool sync_ GUARDED_BY(mu_) = false;
  std::vector<MirrorTargetSpec> targets_ GUARDED_BY(mu_);
  std::map<std::string, std::unique_ptr<MirrorSender>> senders_ GUARDED_BY(mu_);
  // Per target, the last_write_seq() whose cursor was logged.
  std::map<std::string, uint64_t> logged_ GUARDED_BY(cursor_mu_);
  std::map<std::string, uint64_t> applied_reported_ GUARDED_BY(mu_);
  std::thread cursor_thread_;
};

}  // namespace baton::gateway
