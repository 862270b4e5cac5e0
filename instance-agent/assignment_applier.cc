#include "instance-agent/assignment_applier.h"

#include <google/protobuf/io/coded_stream.h>
#include <google/protobuf/io/zero_copy_stream_impl_lite.h>
#include <spdlog/spdlog.h>

namespace baton::agent {
namespace {

// "ACTIVE" for ROLE_ACTIVE: log lines read `role=ACTIVE epoch=7`.
std::string RoleName(v1::Role role) {
  const std::string& name = v1::Role_Name(role);
  return name.rfind("ROLE_", 0) == 0 ? name.substr(5) : name;
}

int64_t SteadyNanos(MonoTime t) {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(t.time_since_epoch()).count();
}

// Whole milliseconds left, rounded down: the gateway must never hold a lease
// longer than granted. 0 means "over" (0 on the wire would mean "no lease").
int64_t RemainingMs(MonoTime deadline, MonoTime now) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(deadline - now).count();
}

}  // namespace

AssignmentApplier::AssignmentApplier(ApplierOptions options, GatewayClient& client, Clock& clock,
                                     AgentMetrics& metrics)
    : options_(options), client_(client), clock_(clock), metrics_(metrics) {}

AssignmentApplier::~AssignmentApplier() { Stop(); }

void AssignmentApplier::Start() { thread_ = std::thread([this] { Loop(); }); }

void AssignmentApplier::Stop() {
  {
    MutexLock lock(&mu_);
    stop_ = true;
    cv_.SignalAll();
  }
  if (thread_.joinable()) thread_.join();
}

std::string AssignmentApplier::KeyOf(const v1::Assignment& assignment) {
  v1::Assignment copy = assignment;
  copy.set_lease_ms(0);
  std::string out;
  {
    google::protobuf::io::StringOutputStream stream(&out);
    google::protobuf::io::CodedOutputStream coded(&stream);
    coded.SetSerializationDeterministic(true);  // `standbys` is a map: default order is unspecified
    copy.SerializeToCodedStream(&coded);
  }
  return out;
}

void AssignmentApplier::Offer(const v1::Assignment& assignment, MonoTime sent_at) {
  Work work;
  work.assignment = assignment;
  work.key = KeyOf(assignment);
  if (assignment.lease_ms() > 0) work.deadline = sent_at + std::chrono::milliseconds(assignment.lease_ms());

  MutexLock lock(&mu_);
  if (pending_ && pending_->kind == Kind::kAssign && work.key == pending_->key) {
    work.kind = Kind::kAssign;  // the same change with a fresher lease
  } else if (in_flight_ && in_flight_kind_ == Kind::kAssign && work.key == in_flight_key_) {
    metrics_.Renewal("dropped");  // the AssignRole in flight carries this lease already
    return;
  } else if (!applied_ || work.key != applied_key_) {
    work.kind = Kind::kAssign;  // a change: never dropped, replaces an older pending item
  } else if (in_flight_ || (pending_ && pending_->kind == Kind::kAssign)) {
    // A renewal behind a call in flight (or a change about to go out):
    // dropping it keeps a hung gateway from collecting stale renewals.
    metrics_.Renewal("dropped");
    return;
  } else {
    work.kind = Kind::kRenew;  // replaces a pending renewal: the fresher lease wins
  }
  pending_ = std::move(work);
  cv_.Signal();
}

void AssignmentApplier::ForgetLocked(std::string_view why) {
  if (!applied_) return;
  spdlog::warn("forgetting applied assignment cluster={} instance={} role={} epoch={}: {}", cluster_, instance_,
               RoleName(applied_->role()), applied_->epoch(), why);
  applied_.reset();
  applied_key_.clear();
}

void AssignmentApplier::ForgetApplied(std::string_view why) {
  MutexLock lock(&mu_);
  ForgetLocked(why);
}

void AssignmentApplier::CheckGatewayState(v1::Role role, uint64_t epoch, MonoTime probe_started) {
  MutexLock lock(&mu_);
  // A probe that began before the AssignRole returned may show the old role.
  if (!applied_ || in_flight_ || probe_started <= applied_at_) return;
  if (role == applied_->role() && epoch == applied_->epoch()) return;
  ForgetLocked("gateway reports role " + RoleName(role) + " epoch " + std::to_string(epoch));
}

void AssignmentApplier::SetIdentity(const std::string& cluster, const std::string& instance) {
  MutexLock lock(&mu_);
  cluster_ = cluster;
  instance_ = instance;
}

uint64_t AssignmentApplier::applied_version() const {
  MutexLock lock(&mu_);
  return applied_ ? applied_->config_version() : 0;
}

std::optional<v1::Assignment> AssignmentApplier::applied() const {
  MutexLock lock(&mu_);
  return applied_;
}

void AssignmentApplier::Loop() {
  while (true) {
    Work work;
    {
      MutexLock lock(&mu_);
      while (!stop_ && !pending_) cv_.Wait();
      if (stop_) return;
      work = std::move(*pending_);
      pending_.reset();
      in_flight_ = true;
      in_flight_kind_ = work.kind;
      in_flight_key_ = work.key;
    }
    try {
      Run(work);
    } catch (const std::exception& e) {
      spdlog::error("applying an assignment threw: {}", e.what());
    }
    MutexLock lock(&mu_);
    in_flight_ = false;
  }
}

void AssignmentApplier::Run(const Work& work) {
  if (work.kind == Kind::kAssign) {
    RunAssign(work);
  } else {
    RunRenew(work);
  }
}

void AssignmentApplier::RunAssign(const Work& work) {
  v1::AssignRoleRequest request;
  *request.mutable_assignment() = work.assignment;
  const v1::Role role = work.assignment.role();
  if (work.deadline) {
    int64_t remaining_ms = RemainingMs(*work.deadline, clock_.Now());
    if (remaining_ms <= 0) {
      if (role == v1::ROLE_ACTIVE) {
        // An active whose lease is already over must not start serving.
        spdlog::warn("assignment role=ACTIVE epoch={} not applied: its lease ended {} ms ago", work.assignment.epoch(),
                     -remaining_ms);
        metrics_.AssignmentApplied(role, Status::DeadlineExceeded("lease over"));
        return;
      }
      remaining_ms = 1;  // a standby still takes its role; the deadline below says the lease is over
    }
    request.mutable_assignment()->set_lease_ms(static_cast<uint32_t>(remaining_ms));
    request.set_deadline_monotonic_ns(SteadyNanos(*work.deadline));
  }
  const Status status = client_.AssignRole(request, options_.rpc_timeout);
  metrics_.AssignmentApplied(role, status);
  MutexLock lock(&mu_);
  if (!status.ok()) {
    // Every answer retries: say so once per distinct failure, not 10 times a second.
    if (status.message() != last_failure_) {
      spdlog::warn("assignment cluster={} instance={} role={} epoch={} failed (retried with each grant): {}",
                   cluster_, instance_, RoleName(role), work.assignment.epoch(), status.ToString());
      last_failure_ = status.message();
    }
    return;
  }
  last_failure_.clear();
  std::string targets;
  for (const v1::MirrorTarget& target : work.assignment.mirror_targets()) {
    targets += (targets.empty() ? "" : ",") + target.name() + "=" + target.cluster();
  }
  spdlog::info("assignment cluster={} instance={} role={} epoch={} version={} lease_ms={} mirror_targets=[{}]{}{}",
               cluster_, instance_, RoleName(role), work.assignment.epoch(), work.assignment.config_version(),
               request.assignment().lease_ms(), targets, work.assignment.handover_to().empty() ? "" : " handover_to=",
               work.assignment.handover_to());
  metrics_.SetMirrorTargets(work.assignment.mirror_targets_size());
  applied_ = work.assignment;
  applied_key_ = work.key;
  applied_at_ = clock_.Now();
}

void AssignmentApplier::RunRenew(const Work& work) {
  v1::RenewLeaseRequest request;
  request.set_epoch(work.assignment.epoch());
  if (work.deadline) {
    const int64_t remaining_ms = RemainingMs(*work.deadline, clock_.Now());
    if (remaining_ms <= 0) {
      metrics_.Renewal("expired");  // stale grant (we were slow): renewing would extend nothing
      return;
    }
    request.set_lease_ms(static_cast<uint32_t>(remaining_ms));
    request.set_deadline_monotonic_ns(SteadyNanos(*work.deadline));
  }
  const Status status = client_.RenewLease(request, options_.rpc_timeout);
  metrics_.Renewal(status.ok() ? "ok" : "failed");
  if (status.ok()) return;
  spdlog::debug("lease renewal epoch={} failed: {}", work.assignment.epoch(), status.ToString());
  MutexLock lock(&mu_);
  // An active that refuses its own renewal has lost its assignment (it
  // restarted, or was reassigned by someone else): assign it again.
  if (status.code() == StatusCode::kFailedPrecondition && applied_ && applied_->role() == v1::ROLE_ACTIVE &&
      applied_key_ == work.key) {
    ForgetLocked(status.message());
  }
}

}  // namespace baton::agent
