// Network namespaces for partitions: one namespace per host (a gateway and
// its agent), all joined by veth pairs to a bridge in a "switch" namespace,
// and the root namespace (ZooKeeper, the arbiters, the test's clients)
// joined to the same bridge with a few addresses of its own. Everything is
// on one /24 of 10.213.x.0, picked unused on this machine.
//
// A partition is a pair of policy rules ("from X blackhole", "to X
// blackhole") in a host's namespace: every packet between that host and X is
// dropped silently, both ways, as a cut cable would. Healing deletes the
// rules. Nothing outside the namespaces this object created is changed
// except the root namespace's end of one veth (with its addresses), which
// goes with the switch namespace.
//
// Names start with "bch<pid>", so a run can remove what a killed earlier run
// left behind (RemoveStale) without touching another live run's.
//
// Thread-compatible; Cut/Heal* only from one thread at a time. The
// destructor deletes every namespace it created.
#pragma once

#include <memory>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"

namespace baton::chaos {

class Network {
 public:
  // Creates the namespaces for `hosts` hosts and `root_addresses` addresses
  // in the root namespace (root_ip(0) is the clients'). Commands and their
  // output go to `log_path`. FAILED_PRECONDITION when namespaces cannot be
  // created here (not root, no iproute2, no veth or bridge support).
  static Result<std::unique_ptr<Network>> Create(int hosts, int root_addresses, const std::string& log_path);
  // Deletes namespaces "bch<pid>*" whose pid no longer runs.
  static void RemoveStale(const std::string& log_path);
  // Names of every namespace this process created (for a signal handler's
  // last-ditch cleanup: `ip netns del` of each).
  static std::vector<std::string> LiveNamespaces();

  ~Network();
  Network(const Network&) = delete;
  Network& operator=(const Network&) = delete;

  std::string host_ip(int host) const;
  std::string root_ip(int i) const;
  // `argv` run inside host's namespace (nsenter, which execs: same pid).
  std::vector<std::string> Wrap(int host, std::vector<std::string> argv) const;

  // Drops every packet between `host` and `ip`, both ways.
  Status Cut(int host, const std::string& ip);
  // Removes the rules of one Cut(host, ip) / of every Cut().
  Status Heal(int host, const std::string& ip);
  Status HealAll();
  int cuts() const { return static_cast<int>(cuts_.size()); }

 private:
  Network(std::string prefix, int subnet, int hosts, int root_addresses, std::string log_path);
  Status Setup();
  Status Ip(const std::vector<std::string>& args) const;
  std::string host_ns(int host) const;

  const std::string prefix_;
  const int subnet_;  // third octet of 10.213.x.0/24
  const int hosts_;
  const int root_addresses_;
  const std::string log_path_;
  std::vector<std::string> created_;             // namespaces, for the destructor
  std::set<std::pair<int, std::string>> cuts_;  // (host, ip)
};

}  // namespace baton::chaos
