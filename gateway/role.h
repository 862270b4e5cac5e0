// RoleState: this gateway's role, epoch, assignment and lease, and therefore
// whether it may take and acknowledge writes (PRODUCT.md §3–§5,
// docs/arbiter.md "Leases" and "Failsafe").
//
// Rules:
//  - The epoch never goes down: an assignment at a lower epoch is refused.
//  - Under an arbiter (arbiter.addresses set) the gateway starts
//    ROLE_UNASSIGNED and answers every client call UNAVAILABLE until its
//    first assignment. Standalone (no arbiter) it is active at the log's
//    epoch, without a lease, until an assignment arrives.
//  - A standby answers every client call UNAVAILABLE and names the active.
//  - An active takes writes while its lease lasts. The deadline is
//    min(receipt + lease_ms, the absolute deadline the agent sent), on the
//    monotonic clock; lease_ms 0 without a deadline = no lease. Past the
//    deadline it is fenced: FAILED_PRECONDITION.
//  - A standby renewed (or assigned) with a lease at its own epoch has
//    arbiter contact until min(receipt + lease_ms / 4, that deadline); its
//    replication acks say so (arbiter_contact()).
//  - Failsafe (switched on by the assignment): past the deadline the active
//    keeps going only while the failsafe probe holds (FailsafeHolds():
//    every standby of the assignment acks at this epoch and none reports
//    arbiter contact), and then only acknowledges a write once every one of
//    those standbys has it.
//  - Handover (switchover, docs/operator-api.md): an active whose assignment
//    names `handover_to` takes no new writes and acknowledges none at all
//    (UNAVAILABLE, `baton-active` = the candidate), so that the durable
//    position it reports is final for its epoch and the candidate can catch
//    up to it exactly; reads go on. The lease is unchanged (the arbiter keeps
//    renewing it). It lasts until an assignment without handover_to: at the
//    same epoch (switchover abandoned, writes resume) or a new role at a
//    higher epoch; RenewLease does not touch it.
//
// Thread-safe: every method may be called from any thread. `clock` must
// outlive the RoleState.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "baton/v1/control.pb.h"
#include "common/clock.h"
#include "common/mutex.h"
#include "common/status.h"
#include "gateway/client_service.h"

namespace baton::gateway {

// The latest ack of one standby of the assignment, as the failsafe sees it.
struct StandbyAckView {
  bool streaming = false;        // a stream at this epoch is open (handshake done)
  MonoTime last_ack{};           // when its latest ack arrived
  bool arbiter_contact = false;  // what that ack said (ReplicateResponse.arbiter_contact)
};

// The failsafe rule (docs/arbiter.md "Failsafe"): true when there is at least
// one standby and every one is streaming, acked within `ack_window` of `now`,
// and did not report arbiter contact in its latest ack. A standby of the
// assignment with no stream at all is passed as nullopt (it fails the rule).
bool FailsafeHolds(const std::vector<std::optional<StandbyAckView>>& standbys, MonoTime now, Duration ack_window);

class RoleState : public ServingGate {
 public:
  // `standalone`: no arbiter, so active at `initial_epoch` until assigned;
  // otherwise ROLE_UNASSIGNED until the first Assign().
  RoleState(Clock& clock, uint64_t initial_epoch, bool standalone = true);

  // Takes `assignment` if its epoch is not lower than the current one
  // (FAILED_PRECONDITION otherwise, naming both); INVALID_ARGUMENT for a
  // role other than active or standby, or epoch 0. Starts the lease (active)
  // or records arbiter contact (standby), bounded by `deadline` when given.
  Status Assign(const v1::Assignment& assignment, std::optional<MonoTime> deadline = std::nullopt)
      EXCLUDES(mu_);
  // Renewal from the arbiter through the agent. Active: extends the lease of
  // the current epoch. Standby: records arbiter contact. FAILED_PRECONDITION
  // for another epoch, or when this gateway has no assignment (unassigned,
  // or standalone); nothing changes then.
  Status RenewLease(uint64_t epoch, uint32_t lease_ms, std::optional<MonoTime> deadline = std::nullopt)
      EXCLUDES(mu_);

  // Failsafe input (see FailsafeHolds()). Set once by the owner before
  // assignments arrive. Called with mu_ held: it must not call back here.
  void set_failsafe_probe(std::function<bool()> probe) EXCLUDES(mu_);

  // ServingGate. Past the lease (failsafe aside) both are FAILED_PRECONDITION:
  // a fenced active may already have a successor, so its reads could be
  // stale. While handing over, CheckWrite() is UNAVAILABLE naming the
  // candidate and active_address() is the candidate; CheckRead() stays OK
  // (nobody takes writes until the candidate is promoted).
  Status CheckWrite() override EXCLUDES(mu_);
  Status CheckRead() override EXCLUDES(mu_);
  std::string active_address() override EXCLUDES(mu_);

  // Whether a write that CheckWrite() admitted earlier may still be logged
  // now: UNAVAILABLE while handing over, OK otherwise (every other refusal
  // waits for CheckAck()). The write path asks just before logging a batch,
  // so that once the batch in flight at the start of a handover is durable,
  // the durable position no longer moves at this epoch.
  Status CheckAppend() EXCLUDES(mu_);

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
  // Standby that heard from the arbiter recently (see the rules above).
  bool arbiter_contact() const EXCLUDES(mu_);
  // Active whose assignment names handover_to (see the rules above).
  bool handing_over() const EXCLUDES(mu_);

 private:
  // Lease state of an active; mu_ held.
  enum class Lease { kValid, kFailsafe, kExpired };
  Lease LeaseStateLocked() const REQUIRES(mu_);
  // Lease (active) or contact (standby) from a grant received now.
  void GrantLocked(uint32_t lease_ms, std::optional<MonoTime> deadline) REQUIRES(mu_);
  Status NotServingLocked() const REQUIRES(mu_);
  bool HandingOverLocked() const REQUIRES(mu_);
  // UNAVAILABLE naming the candidate, then `then`.
  Status HandoverRefusalLocked(std::string_view then) const REQUIRES(mu_);

  Clock& clock_;
  mutable Mutex mu_;
  bool assigned_ GUARDED_BY(mu_) = false;
  v1::Role role_ GUARDED_BY(mu_);
  uint64_t epoch_ GUARDED_BY(mu_);
  v1::Assignment assignment_ GUARDED_BY(mu_);
  MonoTime lease_deadline_ GUARDED_BY(mu_){};
  bool has_lease_ GUARDED_BY(mu_) = false;
  MonoTime contact_until_ GUARDED_BY(mu_){};
  std::function<bool()> failsafe_probe_ GUARDED_BY(mu_);
};

}  // namespace baton::gateway
