#include "gateway/role.h"

#include <spdlog/spdlog.h>

namespace baton::gateway {

RoleState::RoleState(Clock& clock, uint64_t initial_epoch) : clock_(clock), epoch_(initial_epoch) {}

Status RoleState::Assign(const v1::Assignment& assignment) {
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
  role_ = assignment.role();
  epoch_ = assignment.epoch();
  assignment_ = assignment;
  has_lease_ = role_ == v1::ROLE_ACTIVE && assignment.lease_ms() > 0;
  lease_deadline_ = clock_.Now() + std::chrono::milliseconds(assignment.lease_ms());
  return Status::Ok();
}

Status RoleState::RenewLease(uint64_t epoch, uint32_t lease_ms) {
  MutexLock lock(&mu_);
  if (role_ != v1::ROLE_ACTIVE || !assigned_) {
    return Status::FailedPrecondition("lease renewal: this gateway is not an assigned active");
  }
  if (epoch != epoch_) {
    return Status::FailedPrecondition("lease renewal for epoch " + std::to_string(epoch) +
                                      " but this gateway is at epoch " + std::to_string(epoch_));
  }
  has_lease_ = lease_ms > 0;
  lease_deadline_ = clock_.Now() + std::chrono::milliseconds(lease_ms);
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

Status RoleState::CheckWrite() {
  MutexLock lock(&mu_);
  if (role_ != v1::ROLE_ACTIVE) {
    std::string active = assignment_.active_address();
    return Status::Unavailable("this gateway is a standby" +
                               (active.empty() ? std::string("; no active is known") : "; the active is " + active));
  }
  if (LeaseStateLocked() == Lease::kExpired) {
    return Status::FailedPrecondition("the active's lease expired at epoch " + std::to_string(epoch_) +
                                      " (fenced until the arbiter renews or reassigns it)");
  }
  return Status::Ok();
}

Status RoleState::CheckRead() {
  MutexLock lock(&mu_);
  if (role_ == v1::ROLE_ACTIVE) return Status::Ok();
  std::string active = assignment_.active_address();
  return Status::Unavailable("this gateway is a standby" +
                             (active.empty() ? std::string("; no active is known") : "; the active is " + active));
}

std::string RoleState::active_address() {
  MutexLock lock(&mu_);
  return role_ == v1::ROLE_ACTIVE ? std::string() : assignment_.active_address();
}

Status RoleState::CheckAck(uint64_t epoch, bool* needs_all_standbys) {
  *needs_all_standbys = false;
  MutexLock lock(&mu_);
  if (role_ != v1::ROLE_ACTIVE) return Status::Unavailable("this gateway stopped being the active before the write was acknowledged");
  if (epoch != 0 && epoch != epoch_) {
    return Status::FailedPrecondition("the write was logged at epoch " + std::to_string(epoch) +
                                      " but this gateway is now at epoch " + std::to_string(epoch_));
  }
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

}  // namespace baton::gateway
