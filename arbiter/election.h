// Leader election among arbiter replicas on one ZooKeeper session, the
// recipe of the ZooKeeper docs: each replica creates an ephemeral sequential
// znode `{dir}/n_` whose data describes it; the lowest sequence number leads;
// every other replica watches only its predecessor, so a departure wakes one
// replica, not all of them (no herd effect).
//
// The election lives as long as its session: when the session expires the
// znode is gone, on_change(false) runs, and the owner builds a new client and
// a new Election. A disconnect within the session changes nothing here; the
// owner must not act as leader while disconnected (it cannot write anyway,
// and its znode may be about to vanish).
//
// Thread-safety: thread-safe. on_change runs on the ZkClient's dispatcher
// thread, never concurrently with itself. `zk` must outlive the election.
// The destructor waits for a watch callback that is running, and a watch
// that fires afterwards does nothing: the election may go before its
// client. It must not be destroyed from its own on_change.
#pragma once

#include <functional>
#include <memory>
#include <string>

#include "common/mutex.h"
#include "common/status.h"
#include "common/zk_client.h"

namespace baton::arbiter {

class Election {
 public:
  // Called when this replica becomes leader (true) or stops being leader
  // (false: session expired or znode deleted by someone).
  using OnChange = std::function<void(bool leader)>;

  Election(ZkClient& zk, std::string dir, std::string data, OnChange on_change);
  ~Election();

  // Creates the parent path and this replica's znode, then evaluates who
  // leads (which may call on_change(true) before returning).
  Status Start() EXCLUDES(mu_);

  bool is_leader() const EXCLUDES(mu_);
  // Full path of this replica's znode; empty before Start().
  std::string own_path() const EXCLUDES(mu_);

  // Looks again who leads; the owner calls it when the connection comes back
  // (a listing that failed on a lost connection left no watch behind).
  void Refresh() EXCLUDES(mu_) { Evaluate(); }

  // The current leader's znode data, read from ZooKeeper (the lowest child).
  // NOT_FOUND when there is no candidate at all.
  Result<std::string> ReadLeaderData();

 private:
  // Looks at the children: leads when lowest, otherwise watches the
  // predecessor. Runs from Start() and from watch callbacks.
  void Evaluate() EXCLUDES(mu_);
  void SetLeader(bool leader) EXCLUDES(mu_);

  ZkClient& zk_;
  const std::string dir_;
  const std::string data_;
  const OnChange on_change_;

  // Shared with the watch callbacks the ZkClient holds, which may outlive
  // this object: they run under `mu` and only while `alive`.
  struct Lifetime {
    Mutex mu;
    bool alive GUARDED_BY(mu) = true;
  };
  const std::shared_ptr<Lifetime> lifetime_ = std::make_shared<Lifetime>();

  mutable Mutex mu_;
  std::string own_path_ GUARDED_BY(mu_);
  std::string own_name_ GUARDED_BY(mu_);
  bool leader_ GUARDED_BY(mu_) = false;
  bool gone_ GUARDED_BY(mu_) = false;  // znode lost or session expired
};

}  // namespace baton::arbiter
