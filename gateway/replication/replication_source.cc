#include "gateway/replication/replication_source.h"

#include <pthread.h>

#include <set>

#include <grpcpp/grpcpp.h>
#include <prometheus/histogram.h>
#include <spdlog/spdlog.h>

#include "baton/v1/replication.grpc.pb.h"
#include "common/backoff.h"
#include "gateway/log/wal_reader.h"
#include "gateway/replication/entry_crc.h"

namespace baton::gateway {

std::shared_ptr<grpc::Channel> NewReplicationChannel(const std::string& address) {
  grpc::ChannelArguments args;
  // gRPC's defaults (1 s initial, x1.6, up to 120 s) would leave a
  // restarted peer unseen for seconds; peers here are on the same network.
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  args.SetMaxReceiveMessageSize(64 << 20);
  return grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);
}

// One standby's stream. Its thread writes; a second thread reads the acks.
class ReplicationSource::Sender {
 public:
  Sender(ReplicationSource& source, std::string instance, std::string address, uint64_t epoch, bool sync)
      : source_(source), instance_(std::move(instance)), address_(std::move(address)), epoch_(epoch), sync_(sync) {
    thread_ = std::thread([this] { Run(); });
  }
  ~Sender() {
    {
      MutexLock lock(&mu_);
      stopping_ = true;
      if (context_) context_->TryCancel();
      cv_.SignalAll();
    }
    thread_.join();
  }

  const std::string& address() const { return address_; }
  // The latest ack, for the failsafe rule.
  StandbyAckView ack_view() const {
    MutexLock lock(&mu_);
    return StandbyAckView{.streaming = connected(), .last_ack = last_ack_, .arbiter_contact = arbiter_contact_};
  }
  uint64_t epoch() const { return epoch_; }
  bool sync() const { return sync_; }
  void set_sync(bool sync) { sync_ = sync; }
  uint64_t acked_seq() const { return acked_seq_.load(std::memory_order_acquire); }
  bool connected() const { return connected_.load(); }

  // `ack_window`: a standby silent for longer (e.g. SIGSTOPped, its TCP
  // connection still open) is reported not connected.
  v1::StandbyState State(uint64_t durable_seq, MonoTime now, Duration ack_window) const {
    v1::StandbyState s;
    s.set_instance_id(instance_);
    s.set_address(address_);
    s.mutable_acked()->set_epoch(epoch_);
    const uint64_t acked = acked_seq();
    s.mutable_acked()->set_seq(acked);
    s.set_lag_entries(durable_seq > acked ? durable_seq - acked : 0);
    s.set_sync(sync_);
    MutexLock lock(&mu_);
    s.set_connected(connected() && now - last_ack_ <= ack_window);
    s.set_last_error(last_error_);
    if (durable_seq > acked && behind_since_ != MonoTime{}) s.set_lag_seconds(ToSeconds(now - behind_since_));
    return s;
  }

 private:
  void SetError(const std::string& error) {
    MutexLock lock(&mu_);
    if (error != last_error_) spdlog::warn("replication to {} ({}): {}", instance_, address_, error);
    last_error_ = error;
  }

  void Run() {
    pthread_setname_np(pthread_self(), "baton-repl-send");
    // Retries of a standby that is down stay cheap (one connect attempt), so
    // a short cap lets a restarted standby be found within half a second.
    Backoff backoff(BackoffOptions{.initial = std::chrono::milliseconds(50), .max = std::chrono::milliseconds(500)});
    std::unique_ptr<v1::Replication::Stub> stub;
    while (true) {
      {
        MutexLock lock(&mu_);
        if (stopping_) return;
      }
      // A stream that never reached the standby gets a fresh channel next
      // time: an old one may sit in gRPC's own reconnect backoff.
      if (!stub) stub = v1::Replication::NewStub(NewReplicationChannel(address_));
      bool reached = false;
      if (RunStream(*stub, &reached)) backoff.Reset();
      if (!reached) stub.reset();
      connected_ = false;
      const Duration delay = backoff.Next();
      MutexLock lock(&mu_);
      if (!stopping_) cv_.WaitFor(delay);
    }
  }

  // One stream until it breaks; true if the handshake succeeded. *reached:
  // the standby answered the handshake at all.
  bool RunStream(v1::Replication::Stub& stub, bool* reached) {
    auto context = std::make_unique<grpc::ClientContext>();
    {
      MutexLock lock(&mu_);
      if (stopping_) return false;
      context_ = context.get();
    }
    auto stream = stub.Replicate(context.get());
    bool handshook = false;
    std::thread acks;
    auto finish = [&] {
      context->TryCancel();
      if (acks.joinable()) acks.join();
      grpc::Status status = stream->Finish();
      if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
        SetError("stream ended: " + status.error_message());
      }
      MutexLock lock(&mu_);
      context_ = nullptr;
      return handshook;
    };

    Wal& wal = source_.wal_;
    v1::ReplicateRequest hello;
    hello.set_epoch(epoch_);
    hello.set_active_instance(source_.options_.instance_id);
    const LogPosition durable = wal.durable_position();
    hello.mutable_active_durable()->set_epoch(durable.epoch);
    hello.mutable_active_durable()->set_seq(durable.seq);
    EpochHistory::ToProto(source_.history_.entries(), hello.mutable_epoch_history());
    hello.set_first_seq(wal.first_seq());
    v1::ReplicateResponse answer;
    if (!stream->Write(hello) || !stream->Read(&answer)) {
      SetError("cannot reach the standby");
      return finish();
    }
    *reached = true;
    if (!answer.error().empty()) {
      SetError("standby refused the stream: " + answer.error());
      return finish();
    }
    if (answer.needs_snapshot()) {
      SetError("standby is installing a snapshot");
      return finish();
    }
    handshook = true;
    if (answer.truncated() > 0) {
      spdlog::warn("replication to {}: the standby dropped {} records the active never had", instance_,
                   answer.truncated());
    }
    uint64_t next_seq = answer.durable().seq() + 1;
    RecordAck(answer.durable().seq(), answer.arbiter_contact());
    SetError("");
    connected_ = true;
    spdlog::info("replication to {} ({}) streaming from seq {} at epoch {}", instance_, address_, next_seq, epoch_);

    std::atomic<bool> broken{false};
    acks = std::thread([&] {
      pthread_setname_np(pthread_self(), "baton-repl-ack");
      v1::ReplicateResponse response;
      while (stream->Read(&response)) {
        if (!response.error().empty()) {
          SetError("standby refused entries: " + response.error());
          break;
        }
        RecordAck(response.durable().seq(), response.arbiter_contact());
      }
      broken = true;
    });

    auto reader = wal.NewReader(next_seq);
    const auto heartbeat = std::chrono::duration_cast<std::chrono::milliseconds>(source_.options_.heartbeat);
    while (!broken.load()) {
      {
        MutexLock lock(&mu_);
        if (stopping_) break;
      }
      v1::ReplicateRequest request;
      request.set_epoch(epoch_);
      size_t bytes = 0;
      auto first = reader->Next(heartbeat);
      if (!first.ok()) {
        SetError("cannot read the log at seq " + std::to_string(reader->next_seq()) + ": " +
                 first.status().ToString());
        break;
      }
      std::optional<LogRecord> record = std::move(first).value();
      while (record) {
        v1::LogEntry* entry = request.add_entries();
        entry->mutable_position()->set_epoch(record->pos.epoch);
        entry->mutable_position()->set_seq(record->pos.seq);
        entry->set_type(static_cast<uint32_t>(record->type));
        entry->set_crc32c(ReplicationEntryCrc(entry->type(), record->payload));
        bytes += record->payload.size();
        entry->set_payload(std::move(record->payload));
        if (request.entries_size() >= static_cast<int>(source_.options_.max_batch_records) ||
            bytes >= source_.options_.max_batch_bytes) {
          break;
        }
        auto more = reader->Next(std::chrono::milliseconds(0));
        if (!more.ok()) break;  // the next Next() reports it
        record = std::move(more).value();
      }
      const LogPosition now_durable = wal.durable_position();
      request.mutable_active_durable()->set_epoch(now_durable.epoch);
      request.mutable_active_durable()->set_seq(now_durable.seq);
      NoteBehind(now_durable.seq);
      if (!stream->Write(request)) break;
    }
    return finish();
  }

  void RecordAck(uint64_t seq, bool arbiter_contact) {
    acked_seq_.store(seq, std::memory_order_release);
    {
      MutexLock lock(&mu_);
      last_ack_ = source_.clock_.Now();
      if (arbiter_contact != arbiter_contact_) {
        spdlog::debug("standby {} {} contact with the arbiter", instance_, arbiter_contact ? "reports" : "lost");
      }
      arbiter_contact_ = arbiter_contact;
      if (seq >= source_.wal_.durable_position().seq) behind_since_ = MonoTime{};
    }
    source_.OnAck();
  }

  void NoteBehind(uint64_t durable_seq) {
    MutexLock lock(&mu_);
    if (durable_seq > acked_seq() && behind_since_ == MonoTime{}) behind_since_ = source_.clock_.Now();
  }

  ReplicationSource& source_;
  const std::string instance_;
  const std::string address_;
  const uint64_t epoch_;
  std::atomic<bool> sync_;
  std::atomic<uint64_t> acked_seq_{0};
  std::atomic<bool> connected_{false};

  mutable Mutex mu_;
  CondVar cv_{&mu_};
  bool stopping_ GUARDED_BY(mu_) = false;
  grpc::ClientContext* context_ GUARDED_BY(mu_) = nullptr;
  std::string last_error_ GUARDED_BY(mu_);
  MonoTime last_ack_ GUARDED_BY(mu_){};
  bool arbiter_contact_ GUARDED_BY(mu_) = false;  // as the latest ack said
  MonoTime behind_since_ GUARDED_BY(mu_){};
  std::thread thread_;
};

ReplicationSource::ReplicationSource(Wal& wal, EpochHistory& history, RoleState& role, Clock& clock,
                                     Metrics& metrics, ReplicationSourceOptions options)
    : wal_(wal),
      history_(history),
      role_(role),
      clock_(clock),
      options_(std::move(options)),
      ack_wait_seconds_(&prometheus::BuildHistogram()
                             .Name("baton_replication_sync_ack_wait_seconds")
                             .Help("Time a durable write waited for the sync standbys' acks")
                             .Register(metrics.registry())
                             .Add({}, LatencyBuckets())),
      lag_entries_(prometheus::BuildGauge()
                       .Name("baton_replication_lag_entries")
                       .Help("Log records the active has and the standby has not acked")
                       .Register(metrics.registry())),
      lag_seconds_(prometheus::BuildGauge()
                       .Name("baton_replication_lag_seconds")
                       .Help("Seconds since the standby last had everything the active had")
                       .Register(metrics.registry())) {
  timer_ = std::thread([this] { TimerLoop(); });
}

ReplicationSource::~ReplicationSource() {
  Stop();
  {
    MutexLock lock(&mu_);
    stopping_ = true;
    timer_cv_.SignalAll();
  }
  timer_.join();
}

void ReplicationSource::Configure(const v1::Assignment& assignment) {
  std::vector<std::unique_ptr<Sender>> retired;
  {
    MutexLock lock(&mu_);
    enabled_ = true;
    assignment_ = assignment;
    std::set<std::string> sync(assignment.sync_set().begin(), assignment.sync_set().end());
    for (auto it = senders_.begin(); it != senders_.end();) {
      auto wanted = assignment.standbys().find(it->first);
      if (wanted == assignment.standbys().end() || wanted->second != it->second->address() ||
          it->second->epoch() != assignment.epoch()) {
        lag_entries_.Remove(&lag_entries_.Add({{"standby", it->first}}));
        lag_seconds_.Remove(&lag_seconds_.Add({{"standby", it->first}}));
        retired.push_back(std::move(it->second));
        it = senders_.erase(it);
      } else {
        it->second->set_sync(sync.count(it->first) > 0);
        ++it;
      }
    }
    for (const auto& [id, address] : assignment.standbys()) {
      if (senders_.count(id)) continue;
      senders_[id] = std::make_unique<Sender>(*this, id, address, assignment.epoch(), sync.count(id) > 0);
    }
  }
  retired.clear();  // joins outside mu_: a sender's ack path takes mu_
  Evaluate();
}

void ReplicationSource::Stop() {
  std::map<std::string, std::unique_ptr<Sender>> senders;
  std::deque<Waiter> waiters;
  {
    MutexLock lock(&mu_);
    senders.swap(senders_);
    waiters.swap(waiters_);
    assignment_ = v1::Assignment();
    enabled_ = false;
  }
  senders.clear();
  for (Waiter& w : waiters) w.done(Status::Unavailable("this gateway stopped being the active before the write was acknowledged"));
}

bool ReplicationSource::SyncRuleHolds(uint64_t seq, bool all_standbys) const {
  if (all_standbys) {
    if (assignment_.standbys().empty()) return false;
    for (const auto& [id, address] : assignment_.standbys()) {
      auto it = senders_.find(id);
      if (it == senders_.end() || it->second->acked_seq() < seq) return false;
    }
    return true;
  }
  if (assignment_.sync_standbys() == 0) return true;
  uint32_t acked = 0;
  for (const std::string& id : assignment_.sync_set()) {
    auto it = senders_.find(id);
    if (it != senders_.end() && it->second->connected() && it->second->acked_seq() >= seq) ++acked;
  }
  return acked >= assignment_.sync_standbys();
}

void ReplicationSource::Await(LogPosition position, std::function<void(Status)> done) {
  bool all_standbys = false;
  Status ack = role_.CheckAck(position.epoch, &all_standbys);
  if (!ack.ok()) {
    done(ack);
    return;
  }
  {
    MutexLock lock(&mu_);
    if (!enabled_) {
      mu_.Unlock();
      done(Status::Unavailable("this gateway is not replicating as an active"));
      mu_.Lock();
      return;
    }
    if (!SyncRuleHolds(position.seq, all_standbys)) {
      const MonoTime now = clock_.Now();
      waiters_.push_back(Waiter{position, now + options_.sync_timeout, now, std::move(done)});
      return;
    }
  }
  ack_wait_seconds_->Observe(0);  // accepted without waiting
  done(Status::Ok());
}

void ReplicationSource::Evaluate() {
  // The role is asked without mu_: its failsafe probe takes mu_.
  std::set<uint64_t> epochs;
  {
    MutexLock lock(&mu_);
    for (const Waiter& w : waiters_) epochs.insert(w.position.epoch);
  }
  if (epochs.empty()) return;
  std::map<uint64_t, std::pair<Status, bool>> verdicts;
  for (uint64_t epoch : epochs) {
    bool all_standbys = false;
    Status ack = role_.CheckAck(epoch, &all_standbys);
    verdicts[epoch] = {ack, all_standbys};
  }

  std::vector<std::pair<std::function<void(Status)>, Status>> decided;
  {
    MutexLock lock(&mu_);
    const MonoTime now = clock_.Now();
    for (auto it = waiters_.begin(); it != waiters_.end();) {
      auto verdict = verdicts.find(it->position.epoch);
      if (verdict == verdicts.end()) {  // arrived meanwhile: next round
        ++it;
        continue;
      }
      Status ack = verdict->second.first;
      if (ack.ok() && !SyncRuleHolds(it->position.seq, verdict->second.second)) {
        if (now < it->deadline) {
          ++it;
          continue;
        }
        ack = Status::Unavailable("the write is durable here but too few sync standbys confirmed it within " +
                                  std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(
                                                     options_.sync_timeout).count()) +
                                  " ms; it is not acknowledged");
      }
      if (ack.ok()) ack_wait_seconds_->Observe(ToSeconds(now - it->started));
      decided.emplace_back(std::move(it->done), ack);
      it = waiters_.erase(it);
    }
  }
  for (auto& [done, status] : decided) done(status);
}

bool ReplicationSource::FailsafeHolds() const {
  MutexLock lock(&mu_);
  std::vector<std::optional<StandbyAckView>> views;
  for (const auto& [id, address] : assignment_.standbys()) {
    auto it = senders_.find(id);
    views.push_back(it == senders_.end() ? std::nullopt : std::optional<StandbyAckView>(it->second->ack_view()));
  }
  return gateway::FailsafeHolds(views, clock_.Now(), options_.ack_window);
}

std::vector<v1::StandbyState> ReplicationSource::States() const {
  std::vector<v1::StandbyState> out;
  MutexLock lock(&mu_);
  const uint64_t durable = wal_.durable_position().seq;
  const MonoTime now = clock_.Now();
  for (const auto& [id, sender] : senders_) out.push_back(sender->State(durable, now, options_.ack_window));
  return out;
}

void ReplicationSource::TimerLoop() {
  pthread_setname_np(pthread_self(), "baton-repl-timer");
  MutexLock lock(&mu_);
  while (!stopping_) {
    // Timeouts, lease expiry and failsafe loss are noticed here; acks wake
    // waiters directly.
    timer_cv_.WaitFor(std::chrono::milliseconds(10));
    if (stopping_) break;
    const uint64_t durable = wal_.durable_position().seq;
    const MonoTime now = clock_.Now();
    for (const auto& [id, sender] : senders_) {
      v1::StandbyState s = sender->State(durable, now, options_.ack_window);
      lag_entries_.Add({{"standby", id}}).Set(static_cast<double>(s.lag_entries()));
      lag_seconds_.Add({{"standby", id}}).Set(s.lag_seconds());
    }
    mu_.Unlock();
    Evaluate();
    mu_.Lock();
  }
}

}  // namespace baton::gateway
