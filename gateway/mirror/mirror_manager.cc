#include "gateway/mirror/mirror_manager.h"

#include <algorithm>
#include <limits>

#include <spdlog/spdlog.h>

namespace baton::gateway {

MirrorManager::MirrorManager(Wal& wal, ObjectStore& store, WritePath& writes, Clock& clock, Metrics& metrics,
                             MirrorManagerOptions options)
    : wal_(wal), store_(store), writes_(writes), clock_(clock), options_(std::move(options)) {
  auto& registry = metrics.registry();
  families_.lag_entries = &prometheus::BuildGauge()
                               .Name("baton_mirror_lag_entries")
                               .Help("Local log records not yet delivered to the mirror target")
                               .Register(registry);
  families_.lag_seconds = &prometheus::BuildGauge()
                               .Name("baton_mirror_lag_seconds")
                               .Help("Age of the oldest write not yet delivered to the mirror target")
                               .Register(registry);
  families_.delivered = &prometheus::BuildCounter()
                             .Name("baton_mirror_delivered_total")
                             .Help("Writes delivered to the mirror target (re-sends after a failure count again)")
                             .Register(registry);
  families_.errors = &prometheus::BuildCounter()
                          .Name("baton_mirror_delivery_errors_total")
                          .Help("Failed delivery attempts to a mirror target, by status code (each is retried)")
                          .Register(registry);
  applied_total_ = &prometheus::BuildCounter()
                        .Name("baton_mirror_applied_total")
                        .Help("Mirrored writes from peer clusters applied here, by origin cluster")
                        .Register(registry);
  cursor_thread_ = std::thread([this] { CursorLoop(); });
}

MirrorManager::~MirrorManager() { Stop(); }

void MirrorManager::Stop() {
  std::map<std::string, std::unique_ptr<MirrorSender>> senders;
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    active_ = false;
    senders.swap(senders_);
  }
  cv_.SignalAll();
  if (cursor_thread_.joinable()) cursor_thread_.join();
  senders.clear();  // joins their threads
}

void MirrorManager::Configure(std::vector<MirrorTargetSpec> targets, bool active, const std::string& mode) {
  std::erase_if(targets, [&](const MirrorTargetSpec& t) { return t.cluster == options_.own_cluster; });
  std::map<std::string, std::unique_ptr<MirrorSender>> stopped;
  if (!active) {
    MutexLock cursor_lock(&cursor_mu_);  // a cursor record being logged completes first
    MutexLock lock(&mu_);
    active_ = false;
    sync_ = mode == "sync";
    targets_ = std::move(targets);
    stopped.swap(senders_);
  } else {
    MutexLock lock(&mu_);
    if (stopping_) return;
    const std::map<std::string, uint64_t> cursors = store_.mirror_cursors();
    std::map<std::string, std::unique_ptr<MirrorSender>> next;
    for (const MirrorTargetSpec& target : targets) {
      auto it = senders_.find(target.name);
      if (it != senders_.end() && it->second->target() == target) {
        next[target.name] = std::move(it->second);
        senders_.erase(it);
        continue;
      }
      auto cursor = cursors.find(target.name);
      MirrorSenderOptions sender_options = options_.sender;
      sender_options.own_cluster = options_.own_cluster;
      next[target.name] = std::make_unique<MirrorSender>(target, cursor == cursors.end() ? 0 : cursor->second,
                                                         wal_, store_, clock_, families_, sender_options);
    }
    stopped.swap(senders_);
    senders_.swap(next);
    active_ = true;
    sync_ = mode == "sync";
    targets_ = std::move(targets);
  }
  if (!stopped.empty()) spdlog::info("mirror: stopping {} sender(s)", stopped.size());
  stopped.clear();  // joins outside mu_
}

bool MirrorManager::sync_mode() const {
  MutexLock lock(&mu_);
  return sync_;
}

std::vector<std::shared_ptr<PeerClient>> MirrorManager::peers() const {
  MutexLock lock(&mu_);
  std::vector<std::shared_ptr<PeerClient>> out;
  for (const auto& [name, sender] : senders_) out.push_back(sender->peer());
  return out;
}

std::vector<v1::MirrorPeerState> MirrorManager::States() const {
  MutexLock lock(&mu_);
  std::vector<v1::MirrorPeerState> out;
  for (const auto& [name, sender] : senders_) out.push_back(sender->State());
  return out;
}

uint64_t MirrorManager::RetainFrom() const {
  uint64_t from = std::numeric_limits<uint64_t>::max();
  MutexLock lock(&mu_);
  if (active_) {
    for (const auto& [name, sender] : senders_) from = std::min(from, sender->delivered_seq() + 1);
    return from;
  }
  const std::map<std::string, uint64_t> cursors = store_.mirror_cursors();
  for (const MirrorTargetSpec& target : targets_) {
    if (auto it = cursors.find(target.name); it != cursors.end()) from = std::min(from, it->second + 1);
  }
  return from;
}

void MirrorManager::LogCursorsIfMoved() {
  v1::MirrorCursorRecord record;
  std::map<std::string, uint64_t> moved;
  {
    MutexLock lock(&mu_);
    if (!active_) return;
    for (const auto& [name, sender] : senders_) {
      const uint64_t last_write = sender->last_write_seq();
      v1::MirrorCursor* cursor = record.add_cursors();
      cursor->set_target(name);
      cursor->set_delivered_seq(sender->delivered_seq());
      auto it = logged_.find(name);
      if (last_write > 0 && (it == logged_.end() || it->second < last_write)) moved[name] = last_write;
    }
  }
  if (moved.empty()) return;
  Status logged = writes_.LogCursors(record);
  if (!logged.ok()) {
    // Handing over, or the log failed: the next round tries again.
    spdlog::debug("mirror: cannot log cursors yet: {}", logged.ToString());
    return;
  }
  for (const auto& [name, seq] : moved) logged_[name] = seq;
}

void MirrorManager::RefreshAppliedMetric() {
  const std::map<std::string, uint64_t> applied = store_.mirror_applied();
  MutexLock lock(&mu_);
  for (const auto& [origin, count] : applied) {
    uint64_t& reported = applied_reported_[origin];
    if (count > reported) applied_total_->Add({{"origin", origin}}).Increment(static_cast<double>(count - reported));
    reported = std::max(reported, count);
  }
}

void MirrorManager::CursorLoop() {
  while (true) {
    {
      MutexLock lock(&mu_);
      if (stopping_) return;
      cv_.WaitFor(options_.cursor_interval);
      if (stopping_) return;
    }
    {
      MutexLock cursor_lock(&cursor_mu_);
      LogCursorsIfMoved();
    }
    RefreshAppliedMetric();
  }
}

}  // namespace baton::gateway
