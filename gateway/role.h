// RoleState: this gateway's role, epoch, assignment and lease, and therefore
// whether it may take and acknowledge writes (PRODUCT.md §3–§5).
//
// Rules:
//  - The epoch never goes down: an assignment at a lower epoch is refused.
//  - A standby (or a gateway not yet assigned) answers every client call
//    UNAVAILABLE and names the active.
//  - An active takes writes while its lease lasts (deadline = time of the
//    assignment or last renewal + lease_ms, on the monotonic clock; lease_ms
//    0 = no lease). Past the deadline it is fenced: FAILED_PRECONDITION.
//  - Failsafe (switched on by the assignment): past the deadline the active
//    keeps going only while every standby of the assignment acks at this
//    epoch (the caller reports that through `failsafe_holds`), and then only
//    acknowledges a write once every one of those standbys has it.
//  - Standalone (no arbiter): active at the log's epoch, no lease, until the
//    first assignment arrives.
//
// Thread-safe: every method may be called from any thread.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "baton/v1/control.pb.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "gateway/client_service.h"

namespace baton::gateway {

class RoleState : public ServingGate {
 public:
  RoleState(Clock& clock, uint64_t initial_epoch);

  // Takes `assignment` if its epoch is not lower than the current one
  // (FAILED_PRECONDITION otherwise, naming both). Starts the lease.
  Status Assign(const v1::Assignment& assignment) EXCLUDES(mu_);
  // Extends the lease of the current epoch; FAILED_PRECONDITION for another
  // epoch or when this gateway is not the active.
  Status RenewLease(uint64_t epoch, uint32_t lease_ms) EXCLUDES(mu_);

  // Failsafe input: true while every standby of the assignment acks at this
  // epoch. Set once by the owner before assignments arrive.
  void set_failsafe_probe(std::function<bool()> probe) EXCLUDES(mu_);

  // ServingGate.
  Status CheckWrite() override EXCLUDES(mu_);
  Status CheckRead() override EXCLUDES(mu_);
  std::string active_address() override EXCLUDES(mu_);

  // Whether a write durable at `epoch` may be acknowledged now: OK, or
  // FAILED_PRECONDITION (fenced, or the epoch moved on), or UNAVAILABLE (no
  // longer the active). `needs_all_standbys` is set when only the failsafe
  // keeps this active going: the write must then be on every standby.
  // `epoch` 0: the write has no record of its own (nothing changed).
  Status CheckAck(uint64_t epoch, bool* needs_all_standbys) EXCLUDES(mu_);

  v1::Role role() const EXCLUDES(mu_);
  uint64_t epoch() const EXCLUDES(mu_);
  bool assigned() const EXCLUDES(mu_);
  v1::Assignment assignment() const EXCLUDES(mu_);
  // Remaining lease, 0 when none is running or it expired; -1 for no lease.
  int64_t lease_remaining_ms() const EXCLUDES(mu_);
  // Active past its lease with no failsafe to keep it going.
  bool fenced() const EXCLUDES(mu_);

 private:
  // Lease state of an active; mu_ held.
  enum class Lease { kValid, kFailsafe, kExpired };
  Lease LeaseStateLocked() const REQUIRES(mu_);

  Clock& clock_;
  mutable Mutex mu_;
  bool assigned_ GUARDED_BY(mu_) = false;
  v1::Role role_ GUARDED_BY(mu_) = v1::ROLE_ACTIVE;
  uint64_t epoch_ GUARDED_BY(mu_);
  v1::Assignment assignment_ GUARDED_BY(mu_);
  MonoTime lease_deadline_ GUARDED_BY(mu_){};
  bool has_lease_ GUARDED_BY(mu_) = false;
  std::function<bool()> failsafe_probe_ GUARDED_BY(mu_);
};

}  // namespace baton::gateway
