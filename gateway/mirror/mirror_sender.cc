#include "gateway/mirror/mirror_sender.h"

#include <spdlog/spdlog.h>

#include "baton/v1/storage.pb.h"
#include "gateway/log/wal_reader.h"
#include "gateway/mirror/status_rules.h"

namespace baton::gateway {
namespace {

WriteRequest ItemFromMutation(const v1::Mutation& m) {
  WriteRequest item;
  item.op = m.op();
  if (m.has_put()) {
    const v1::StoredObject& put = m.put();
    item.id = put.id();
    item.vector.assign(put.vector().begin(), put.vector().end());
    item.metadata = put.metadata();
    item.timestamp = put.timestamp();
    item.origin_cluster = put.origin_cluster();
  } else {
    item.id = m.remove().id();
    item.timestamp = m.remove().timestamp();
    item.origin_cluster = m.remove().origin_cluster();
  }
  item.mirrored = true;
  return item;
}

}  // namespace

MirrorSender::MirrorSender(MirrorTargetSpec target, uint64_t cursor, Wal& wal, const ObjectStore& store,
                           Clock& clock, const MirrorMetricFamilies& metrics, MirrorSenderOptions options)
    : wal_(wal),
      store_(store),
      clock_(clock),
      options_(std::move(options)),
      peer_(std::make_shared<PeerClient>(options_.own_cluster, target, options_.timeout)),
      backoff_(options_.backoff),
      delivered_seq_(cursor),
      lag_entries_(metrics.lag_entries->Add({{"target", target.name}})),
      lag_seconds_(metrics.lag_seconds->Add({{"target", target.name}})),
      delivered_total_(metrics.delivered->Add({{"target", target.name}})),
      errors_total_(*metrics.errors) {
  if (cursor == 0 && wal_.first_seq() > 1) {
    needs_resync_ = true;
  } else if (cursor + 1 < wal_.first_seq()) {
    needs_resync_ = true;
  }
  thread_ = std::thread([this] { Run(); });
}

MirrorSender::~MirrorSender() { Stop(); }

void MirrorSender::Stop() {
  {
    MutexLock lock(&mu_);
    stopping_ = true;
  }
  cv_.SignalAll();
  peer_->CancelInFlight();
  if (thread_.joinable()) thread_.join();
}

bool MirrorSender::stopping() const {
  MutexLock lock(&mu_);
  return stopping_;
}

bool MirrorSender::WaitFor(Duration delay) {
  MutexLock lock(&mu_);
  const MonoTime until = clock_.Now() + delay;
  while (!stopping_) {
    const MonoTime now = clock_.Now();
    if (now >= until) break;
    cv_.WaitFor(until - now);
  }
  return !stopping_;
}

void MirrorSender::NoteError(const Status& status) {
  errors_total_.Add({{"target", target().name}, {"code", std::string(StatusCodeName(status.code()))}}).Increment();
  MutexLock lock(&mu_);
  if (last_error_ != status.ToString()) {
    spdlog::warn("mirror target {}: {} (retrying)", target().name, status.ToString());
  }
  last_error_ = status.ToString();
  const StatusCode code = status.code();
  connected_ = code != StatusCode::kUnavailable && code != StatusCode::kDeadlineExceeded &&
               code != StatusCode::kCancelled;
}

v1::MirrorPeerState MirrorSender::State() const {
  v1::MirrorPeerState state;
  state.set_target(target().name);
  state.set_cluster(target().cluster);
  state.set_address(peer_->address());
  const uint64_t delivered = delivered_seq();
  const uint64_t durable = wal_.durable_position().seq;
  state.set_delivered_seq(delivered);
  state.set_lag_entries(durable > delivered ? durable - delivered : 0);
  const int64_t oldest = oldest_pending_wall_ns_.load(std::memory_order_relaxed);
  if (oldest > 0 && durable > delivered) {
    state.set_lag_seconds(std::max(0.0, static_cast<double>(ToNanos(clock_.WallNow()) - oldest) / 1e9));
  }
  MutexLock lock(&mu_);
  state.set_connected(connected_);
  state.set_last_error(last_error_);
  state.set_delivered_writes(delivered_writes_);
  return state;
}

void MirrorSender::UpdateGauges() {
  const v1::MirrorPeerState state = State();
  lag_entries_.Set(static_cast<double>(state.lag_entries()));
  lag_seconds_.Set(state.lag_seconds());
}

void MirrorSender::Append(Pending* pending, v1::WriteOp op, WriteRequest item, const std::string& origin) {
  if (pending->runs.empty() || pending->runs.back().op != op || pending->runs.back().origin != origin ||
      op == v1::WRITE_OP_REMOVE_BY_TIMESTAMP || pending->runs.back().items.size() >= options_.max_batch) {
    MirrorBatch& run = pending->runs.emplace_back();
    run.op = op;
    run.origin = origin;
  }
  item.op = op;
  pending->runs.back().items.push_back(std::move(item));
  pending->has_writes = true;
}

Status MirrorSender::FillFromStore(Pending* pending) {
  LogPosition at;
  std::vector<v1::Mutation> state = store_.ExportMutations(&at);
  spdlog::info("mirror target {}: the log does not reach back to its cursor {}; sending the whole store ({} "
               "objects and tombstones, at {}) first",
               target().name, delivered_seq(), state.size(), at.ToString());
  for (const v1::Mutation& m : state) {
    WriteRequest item = ItemFromMutation(m);
    const std::string origin = item.origin_cluster == options_.own_cluster ? std::string() : item.origin_cluster;
    Append(pending, m.op(), std::move(item), origin);
  }
  pending->last_seq = at.seq;
  pending->oldest_wall_ns = ToNanos(clock_.WallNow());
  reader_ = wal_.NewReader(at.seq + 1);
  needs_resync_ = false;
  return Status::Ok();
}

Status MirrorSender::Fill(Pending* pending) {
  if (needs_resync_) return FillFromStore(pending);
  if (!reader_) reader_ = wal_.NewReader(delivered_seq() + 1);
  size_t writes = 0;
  while (writes < options_.max_batch) {
    // Wait for the first record only; then take what is durable already.
    const auto wait = pending->last_seq == 0 ? std::chrono::milliseconds(100) : std::chrono::milliseconds(0);
    Result<std::optional<LogRecord>> next = reader_->Next(wait);
    if (!next.ok()) {
      reader_.reset();
      if (next.status().code() == StatusCode::kOutOfRange) {
        needs_resync_ = true;
        if (pending->last_seq == 0) return FillFromStore(pending);
        return Status::Ok();  // deliver what was read; resync after it
      }
      return next.status();
    }
    if (!next->has_value()) break;
    const LogRecord& record = **next;
    pending->last_seq = record.pos.seq;
    if (record.type != RecordType::kWrite) continue;
    v1::WriteRecord decoded;
    if (!decoded.ParseFromString(record.payload)) {
      return Status::DataLoss("log record " + record.pos.ToString() + " does not decode");
    }
    if (!decoded.mirror_origin().empty()) continue;  // a peer's write: never forwarded again
    int64_t made_ns = 0;
    if (decoded.remove_before() > 0) {
      WriteRequest item;
      item.before = decoded.remove_before();
      item.mirrored = true;
      Append(pending, v1::WRITE_OP_REMOVE_BY_TIMESTAMP, std::move(item), {});
      ++writes;
      if (decoded.mutations_size() > 0) made_ns = decoded.mutations(0).remove().timestamp();
    } else {
      for (const v1::Mutation& m : decoded.mutations()) {
        Append(pending, m.op(), ItemFromMutation(m), {});
        ++writes;
        if (m.timestamp_assigned() && made_ns == 0) made_ns = m.has_put() ? m.put().timestamp() : m.remove().timestamp();
      }
    }
    if (pending->oldest_wall_ns == 0) pending->oldest_wall_ns = made_ns > 0 ? made_ns : ToNanos(clock_.WallNow());
  }
  return Status::Ok();
}

Status MirrorSender::DeliverRun(MirrorBatch& run) {
  BATON_RETURN_IF_ERROR(peer_->Send(&run));
  // Follow-ups (Insert -> ALREADY_EXISTS: Update; Update -> NOT_FOUND: Insert), one run per op.
  std::map<v1::WriteOp, MirrorBatch> follow_ups;
  for (size_t i = 0; i < run.items.size(); ++i) {
    const StatusCode code = run.answers[i].code();
    if (std::optional<v1::WriteOp> next = MirrorFollowUp(run.op, code)) {
      MirrorBatch& f = follow_ups[*next];
      f.op = *next;
      f.origin = run.origin;
      f.items.push_back(run.items[i]);
      f.items.back().op = *next;
    } else if (!MirrorAnswerSettles(run.op, code)) {
      return Status(code, "mirror target " + target().name + " refused " + run.items[i].id + ": " +
                              run.answers[i].message());
    }
  }
  for (auto& [op, f] : follow_ups) {
    BATON_RETURN_IF_ERROR(peer_->Send(&f));
    for (size_t i = 0; i < f.items.size(); ++i) {
      if (!MirrorAnswerSettles(op, f.answers[i].code())) {
        // Changed under us (e.g. removed between the two calls): the next
        // attempt starts over from the original op.
        return Status(f.answers[i].code(), "mirror target " + target().name + " answered " +
                                               std::string(StatusCodeName(f.answers[i].code())) + " to the " +
                                               v1::WriteOp_Name(op) + " of " + f.items[i].id + ": " +
                                               f.answers[i].message());
      }
    }
  }
  return Status::Ok();
}

Status MirrorSender::Deliver(Pending& pending) {
  if (pending.has_writes) {
    // Only what may be acknowledged here goes out: a write a failover could
    // still take back must not reach a peer.
    if (options_.await_committed) {
      BATON_RETURN_IF_ERROR(options_.await_committed(pending.last_seq, [this] { return stopping(); }));
    }
    for (MirrorBatch& run : pending.runs) {
      if (stopping()) return Status::Cancelled("stopping");
      BATON_RETURN_IF_ERROR(DeliverRun(run));
    }
  }
  uint64_t writes = 0;
  for (const MirrorBatch& run : pending.runs) writes += run.items.size();
  delivered_total_.Increment(static_cast<double>(writes));
  if (pending.has_writes) last_write_seq_.store(pending.last_seq, std::memory_order_release);
  delivered_seq_.store(pending.last_seq, std::memory_order_release);
  MutexLock lock(&mu_);
  delivered_writes_ += writes;
  if (pending.has_writes) {
    connected_ = true;
    last_error_.clear();
  }
  return Status::Ok();
}

void MirrorSender::Run() {
  spdlog::info("mirror target {} (cluster {}, {}): delivering from seq {}", target().name, target().cluster,
               FormatMirrorTarget(target()), delivered_seq() + 1);
  Pending pending;
  while (!stopping()) {
    if (pending.last_seq == 0) {
      Status filled = Fill(&pending);
      if (!filled.ok()) {
        if (filled.code() == StatusCode::kCancelled) break;
        NoteError(filled);
        UpdateGauges();
        pending = Pending{};
        if (!WaitFor(backoff_.Next())) break;
        continue;
      }
    }
    oldest_pending_wall_ns_.store(pending.oldest_wall_ns, std::memory_order_relaxed);
    if (pending.last_seq == 0) {
      oldest_pending_wall_ns_.store(0, std::memory_order_relaxed);
      UpdateGauges();
      continue;  // nothing new within the wait
    }
    Status delivered = Deliver(pending);
    if (!delivered.ok()) {
      if (stopping()) break;
      NoteError(delivered);
      UpdateGauges();  // the lag grows while the target is away
      if (!WaitFor(backoff_.Next())) break;
      continue;  // the same pending writes again (peers take them idempotently)
    }
    backoff_.Reset();
    pending = Pending{};
    UpdateGauges();
  }
  spdlog::info("mirror target {}: sender stopped at seq {}", target().name, delivered_seq());
}

}  // namespace baton::gateway
