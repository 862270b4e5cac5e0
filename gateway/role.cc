#include "gateway/role.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace baton::gateway {

bool FailsafeHolds(const std::vector<std::optional<StandbyAckView>>& standbys, MonoTime now, Duration ack_window) {
  if (standbys.empty()) return false;
  for (const std::optional<StandbyAckView>& s : standbys) {
    // Silent for longer than the window (a stopped process keeps its TCP
    // connection), or in touch with the arbiter: then the arbiter is
    // reachable and this active is the one cut off, so it must stop.
    if (!s || !s->streaming || now - s->last_ack > ack_window || s->arbiter_contact) return false;
  }
  return true;
}

RoleState::RoleState(Clock& clock, uint64_t initial_epoch, bool standalone)
    : clock_(clock), role_(standalone ? v1::ROLE_ACTIVE : v1::ROLE_UNASSIGNED), epoch_(initial_epoch) {}

void RoleState::GrantLocked(uint32_t lease_ms, std::optional<MonoTime> deadline) {
  const MonoTime now = clock_.Now();
  if (role_ == v1::ROLE_ACTIVE) {
    has_lease_ = lease_ms > 0 || deadline.has_value();
    lease_deadline_ = lease_ms > 0 ? now + std::chrono::milliseconds(lease_ms) : MonoTime::max();
    if (deadline) lease_deadline_ = std::min(lease_deadline_, *deadline);
    contact_until_ = MonoTime{};
    return;
  }
  has_lease_ = false;
  if (lease_ms == 0) return;  // no lease, no arbiter behind it (manual operation)
  MonoTime until = now + std::chrono::milliseconds(lease_ms / 4);
  if (deadline) until = std::min(until, *deadline);
  contact_until_ = std::max(contact_until_, until);
}

Status RoleState::Assign(const v1::Assignment& assignment, std::optional<MonoTime> deadline) {
  if (assignment.role() != v1::ROLE_ACTIVE && assignment.role() != v1::ROLE_STANDBY) {
    return Status::InvalidArgument("assignment.role: must be ROLE_ACTIVE or ROLE_STANDBY");
  }
  if (assignment.epoch() == 0) return Status::InvalidArgument("assignment.epoch: must be > 0");
  MutexLock lock(&mu_);
  if (assignment.epoch() < epoch_) {
    return Status::FailedPrecondition("assignment at epoch " + std::to_string(assignment.epoch()) +
                                      " is older than this gateway's epoch " + std::to_string(epoch_));
  }
  assigned_ = true;
  if (assignment.role() != role_ || assignment.epoch() != epoch_) contact_until_ = MonoTime{};
  role_ = assignment.role();
  epoch_ = assignment.epoch();
  assignment_ = assignment;
  GrantLocked(assignment.lease_ms(), deadline);
  return Status::Ok();
}

Status RoleState::RenewLease(uint64_t epoch, uint32_t lease_ms, std::optional<MonoTime> deadline) {
  MutexLock lock(&mu_);
  if (!assigned_ || (role_ != v1::ROLE_ACTIVE && role_ != v1::ROLE_STANDBY)) {
    return Status::FailedPrecondition("lease renewal: this gateway has no assignment yet");
  }
  if (epoch != epoch_) {
    return Status::FailedPrecondition("lease renewal for epoch " + std::to_string(epoch) +
                                      " but this gateway is at epoch " + std::to_string(epoch_));
  }
  GrantLocked(lease_ms, deadline);
  return Status::Ok();
}

void RoleState::set_failsafe_probe(std::function<bool()> probe) {
  MutexLock lock(&mu_);
  failsafe_probe_ = std::move(probe);
}

RoleState::Lease RoleState::LeaseStateLocked() const {
  if (!has_lease_ || clock_.Now() < lease_deadline_) return Lease::kValid;
  if (assignment_.failsafe() && failsafe_probe_ && failsafe_probe_()) return Lease::kFailsafe;
  return Lease::kExpired;
}

Status RoleState::NotServingLocked() const {
  if (role_ == v1::ROLE_UNASSIGNED) return Status::Unavailable("this gateway has no role yet (waiting for the arbiter)");
  const std::string& active = assignment_.active_address();
  return Status::Unavailable("this gateway is a standby" +
                             (active.empty() ? std::string("; no active is known") : "; the active is " + active));
}

bool RoleState::HandingOverLocked() const { return role_ == v1::ROLE_ACTIVE && !assignment_.handover_to().empty(); }

Status RoleState::HandoverRefusalLocked(std::string_view then) const {
  return Status::Unavailable("this active is handing over to " + assignment_.handover_to() + " (switchover); " +
                             std::string(then));
}

Status RoleState::CheckWrite() {
  MutexLock lock(&mu_);
  if (role_ != v1::ROLE_ACTIVE) return NotServingLocked();
  // Before the lease: the candidate is where the client should go either way.
  if (HandingOverLocked()) return HandoverRefusalLocked("retry there");
  if (LeaseStateLocked() == Lease::kExpired) {
    return Status::FailedPrecondition("the active's lease expired at epoch " + std::to_string(epoch_) +
                                      " (fenced until the arbiter renews or reassigns it)");
  }
  return Status::Ok();
}

Status RoleState::CheckRead() {
  MutexLock lock(&mu_);
  if (role_ != v1::ROLE_ACTIVE) return NotServingLocked();
  // Past its lease another gateway may already be active and taking writes
  // this one will never see: answering would serve stale data as current.
  if (LeaseStateLocked() == Lease::kExpired) {
    return Status::FailedPrecondition("the active's lease expired at epoch " + std::to_string(epoch_) +
                                      " (fenced: reads and writes wait until the arbiter renews or reassigns it)");
  }
  return Status::Ok();
}

std::string RoleState::active_address() {
  MutexLock lock(&mu_);
  if (HandingOverLocked()) return assignment_.handover_to();
  return role_ == v1::ROLE_STANDBY ? assignment_.active_address() : std::string();
}

Status RoleState::CheckAppend() {
  MutexLock lock(&mu_);
  if (HandingOverLocked()) return HandoverRefusalLocked("the write was not logged; retry there");
  return Status::Ok();
}

Status RoleState::CheckAck(uint64_t epoch, bool* needs_all_standbys) {
  *needs_all_standbys = false;
  MutexLock lock(&mu_);
  if (role_ != v1::ROLE_ACTIVE) return Status::Unavailable("this gateway stopped being the active before the write was acknowledged");
  if (epoch != 0 && epoch != epoch_) {
    return Status::FailedPrecondition("the write was logged at epoch " + std::to_string(epoch) +
                                      " but this gateway is now at epoch " + std::to_string(epoch_));
  }
  // Whatever its lease says: the position reported while handing over must
  // be final, and only acknowledged writes could make the candidate lack one.
  if (HandingOverLocked()) return HandoverRefusalLocked("the write is not acknowledged");
  switch (LeaseStateLocked()) {
    case Lease::kValid:
      return Status::Ok();
    case Lease::kFailsafe:
      *needs_all_standbys = true;
      return Status::Ok();
    case Lease::kExpired:
      break;
  }
  return Status::FailedPrecondition("the active's lease expired at epoch " + std::to_string(epoch_) +
                                    " before the write could be acknowledged");
}

v1::Role RoleState::role() const {
  MutexLock lock(&mu_);
  return role_;
}

uint64_t RoleState::epoch() const {
  MutexLock lock(&mu_);
  return epoch_;
}

bool RoleState::assigned() const {
  MutexLock lock(&mu_);
  return assigned_;
}

v1::Assignment RoleState::assignment() const {
  MutexLock lock(&mu_);
  return assignment_;
}

int64_t RoleState::lease_remaining_ms() const {
  MutexLock lock(&mu_);
  if (!has_lease_) return -1;
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(lease_deadline_ - clock_.Now()).count();
  return left > 0 ? left : 0;
}

bool RoleState::fenced() const {
  MutexLock lock(&mu_);
  return role_ == v1::ROLE_ACTIVE && LeaseStateLocked() == Lease::kExpired;
}

bool RoleState::arbiter_contact() const {
  MutexLock lock(&mu_);
  return role_ == v1::ROLE_STANDBY && clock_.Now() < contact_until_;
}

bool RoleState::handing_over() const {
  MutexLock lock(&mu_);
  return HandingOverLocked();
}

}  // namespace baton::gateway
