#include "instance-agent/arbiter_link.h"

#include <spdlog/spdlog.h>

#include "baton/v1/arbiter.grpc.pb.h"

namespace baton::agent {
namespace {

// Enough for 100 s of unanswered heartbeats at the default interval; an
// answer to anything older carries a lease long over anyway.
constexpr size_t kMaxRemembered = 1024;

std::chrono::system_clock::time_point RealIn(std::chrono::milliseconds d) {
  return std::chrono::system_clock::now() + d;
}

}  // namespace

ArbiterLink::ArbiterLink(LinkOptions options, Clock& clock, AgentMetrics& metrics, HeartbeatSource source,
                         GrantSink sink)
    : options_(std::move(options)), clock_(clock), metrics_(metrics), source_(std::move(source)),
      sink_(std::move(sink)) {}

ArbiterLink::~ArbiterLink() { Stop(); }

void ArbiterLink::Start() {
  thread_ = std::thread([this] {
    try {
      Loop();
    } catch (const std::exception& e) {
      // Without the link no lease is renewed: the gateway stops taking writes
      // on its own, which is safe, and the agent reports not ready.
      spdlog::critical("arbiter link thread failed: {}", e.what());
    }
  });
}

void ArbiterLink::Stop() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
    if (context_ != nullptr) context_->TryCancel();
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

void ArbiterLink::Nudge() {
  MutexLock lock(&mu_);
  nudged_ = true;
  cv_.SignalAll();
}

bool ArbiterLink::connected() const {
  MutexLock lock(&mu_);
  return connected_;
}

std::string ArbiterLink::current_address() const {
  MutexLock lock(&mu_);
  return address_;
}

bool ArbiterLink::WaitBeforeRetry(Duration delay) {
  const MonoTime until = clock_.Now() + delay;
  MutexLock lock(&mu_);
  while (!stop_) {
    const Duration left = until - clock_.Now();
    if (left <= Duration::zero()) break;
    cv_.WaitFor(left);
  }
  return !stop_;
}

void ArbiterLink::Loop() {
  Backoff backoff(options_.backoff);
  size_t index = 0;
  std::optional<std::string> redirect;
  int redirects_in_row = 0;
  int failures_in_row = 0;
  while (true) {
    {
      MutexLock lock(&mu_);
      if (stop_) return;
    }
    const std::string address = redirect ? *redirect : options_.addresses[index % options_.addresses.size()];
    redirect.reset();
    const SessionEnd end = RunSession(address);
    metrics_.ArbiterConnect(end.answered ? "ok" : !end.leader_address.empty() ? "redirect" : "failed");
    {
      MutexLock lock(&mu_);
      if (stop_) return;
    }
    if (!end.leader_address.empty()) {
      spdlog::info("arbiter {} is a follower; connecting to the leader {}", address, end.leader_address);
      redirect = end.leader_address;
      // Followers naming each other (stale leader knowledge) must not spin.
      if (++redirects_in_row > 1 && !WaitBeforeRetry(backoff.Next())) return;
      continue;
    }
    redirects_in_row = 0;
    if (end.answered) {
      backoff.Reset();
      failures_in_row = 0;
    }
    ++failures_in_row;
    index = (index + 1) % options_.addresses.size();
    const Duration delay = backoff.Next();
    if (failures_in_row == 1 || failures_in_row % 20 == 0) {
      spdlog::warn("arbiter stream to {} ended ({}); trying {} in {} ms (attempt {})", address, end.reason,
                   options_.addresses[index], std::chrono::duration_cast<std::chrono::milliseconds>(delay).count(),
                   failures_in_row);
    } else {
      spdlog::debug("arbiter stream to {} ended ({})", address, end.reason);
    }
    if (!WaitBeforeRetry(delay)) return;
  }
}

ArbiterLink::SessionEnd ArbiterLink::RunSession(const std::string& address) {
  {
    MutexLock lock(&mu_);
    address_ = address;
    connected_ = false;
    session_over_ = false;
    unanswered_since_.reset();
    end_ = SessionEnd();
  }
  // A fresh channel per attempt: a channel that failed before would wait out
  // gRPC's reconnect backoff (1 s and more) before trying again.
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 50);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
  auto channel = grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args);

  const MonoTime connect_deadline = clock_.Now() + options_.connect_timeout;
  grpc_connectivity_state state = channel->GetState(/*try_to_connect=*/true);
  while (state != GRPC_CHANNEL_READY) {
    if (state == GRPC_CHANNEL_TRANSIENT_FAILURE || state == GRPC_CHANNEL_SHUTDOWN) {
      return {.reason = "cannot connect"};
    }
    {
      MutexLock lock(&mu_);
      if (stop_) return {.reason = "stopping"};
    }
    if (clock_.Now() >= connect_deadline) return {.reason = "connect timed out"};
    channel->WaitForStateChange(state, RealIn(std::chrono::milliseconds(50)));
    state = channel->GetState(/*try_to_connect=*/true);
  }

  auto stub = v1::Arbiter::NewStub(channel);
  grpc::ClientContext context;
  {
    MutexLock lock(&mu_);
    if (stop_) return {.reason = "stopping"};
    context_ = &context;
  }
  auto stream = stub->Heartbeats(&context);
  std::thread reader([&] {
    v1::HeartbeatResponse answer;
    try {
      while (stream->Read(&answer)) {
        if (!HandleAnswer(answer, address)) break;
      }
    } catch (const std::exception& e) {
      spdlog::error("arbiter answer handling threw: {}", e.what());
    }
    MutexLock lock(&mu_);
    session_over_ = true;
    cv_.SignalAll();
  });

  std::string why;
  MonoTime next_send = clock_.Now();
  while (why.empty()) {
    {
      MutexLock lock(&mu_);
      while (true) {
        const MonoTime now = clock_.Now();
        if (stop_) {
          why = "stopping";
        } else if (session_over_) {
          why = end_.leader_address.empty() ? "stream ended" : "redirected";
        } else if (unanswered_since_ && now - *unanswered_since_ >= options_.answer_timeout) {
          why = "no answer within answer timeout";
        } else if (nudged_ || now >= next_send) {
          nudged_ = false;
          break;
        }
        if (!why.empty()) break;
        MonoTime wake = next_send;
        if (unanswered_since_) wake = std::min(wake, *unanswered_since_ + options_.answer_timeout);
        cv_.WaitFor(wake - now);
      }
    }
    if (!why.empty()) break;
    std::optional<v1::Heartbeat> heartbeat = source_();
    const MonoTime sent_at = clock_.Now();
    next_send = sent_at + options_.heartbeat_interval;
    if (!heartbeat) continue;
    {
      MutexLock lock(&mu_);
      heartbeat->set_sequence(++sequence_);
      // Recorded before the write: the earlier the send time, the shorter
      // (safer) the lease derived from it.
      sent_at_[sequence_] = sent_at;
      while (sent_at_.size() > kMaxRemembered) sent_at_.erase(sent_at_.begin());
      if (!unanswered_since_) unanswered_since_ = sent_at;
    }
    if (!stream->Write(*heartbeat)) {
      why = "write failed";
      break;
    }
    metrics_.HeartbeatSent();
  }

  context.TryCancel();
  reader.join();
  const grpc::Status status = stream->Finish();
  SessionEnd end;
  {
    MutexLock lock(&mu_);
    context_ = nullptr;
    const bool was_connected = connected_;
    connected_ = false;
    address_.clear();
    end = end_;
    if (was_connected) metrics_.SetArbiterConnected(false);
  }
  end.reason = why;
  if (!status.ok() && status.error_code() != grpc::StatusCode::CANCELLED) {
    end.reason += ": " + std::string(StatusCodeName(static_cast<StatusCode>(status.error_code()))) + " " +
                  status.error_message();
  }
  return end;
}

bool ArbiterLink::HandleAnswer(const v1::HeartbeatResponse& answer, const std::string& address) {
  if (!answer.leader_address().empty()) {
    metrics_.Answer("redirect");
    MutexLock lock(&mu_);
    end_.leader_address = answer.leader_address();
    session_over_ = true;
    cv_.SignalAll();
    return false;
  }
  std::optional<MonoTime> sent_at;
  bool first = false;
  {
    MutexLock lock(&mu_);
    unanswered_since_.reset();
    end_.answered = true;
    first = !connected_;
    connected_ = true;
    if (auto it = sent_at_.find(answer.sequence()); it != sent_at_.end()) sent_at = it->second;
  }
  if (first) {
    metrics_.SetArbiterConnected(true);
    spdlog::info("arbiter stream up address={} arbiter={}", address, answer.arbiter_id());
  }
  if (answer.report_now()) {  // the leader waits for fresh reports to promote
    if (options_.on_report_request) {
      options_.on_report_request();
    } else {
      Nudge();
    }
  }
  if (!answer.has_assignment()) {
    metrics_.Answer("empty");
    return true;
  }
  if (!sent_at) {
    // Without the send time there is no safe lease to derive: skip it.
    metrics_.Answer("unknown_sequence");
    spdlog::warn("arbiter {} answered unknown sequence {}; assignment ignored", address, answer.sequence());
    return true;
  }
  metrics_.Answer("assignment");
  sink_(answer.assignment(), *sent_at);
  return true;
}

}  // namespace baton::agent
