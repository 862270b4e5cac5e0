#include "tests/chaos/checker.h"

#include <algorithm>
#include <compare>
#include <unordered_map>

namespace baton::chaos {
namespace {

// As gateway/store/object.h orders versions.
struct Version {
  int64_t timestamp = 0;
  std::string origin;
  friend std::strong_ordering operator<=>(const Version& a, const Version& b) {
    if (a.timestamp != b.timestamp) return a.timestamp <=> b.timestamp;
    const int c = a.origin.compare(b.origin);
    return c < 0 ? std::strong_ordering::less : (c > 0 ? std::strong_ordering::greater : std::strong_ordering::equal);
  }
};

std::string Text(const Version& v) { return "(" + std::to_string(v.timestamp) + ", " + v.origin + ")"; }

bool Acked(const Op& op) { return IsWrite(op.type) && op.outcome == Outcome::kOk; }
// Applied, or perhaps applied.
bool Possible(const Op& op) {
  return IsWrite(op.type) && (op.outcome == Outcome::kOk || op.outcome == Outcome::kUnknown ||
                              op.outcome == Outcome::kPending);
}
bool Uncertain(const Op& op) { return op.outcome == Outcome::kUnknown || op.outcome == Outcome::kPending; }

class Checker {
 public:
  explicit Checker(const CheckInput& in) : in_(in) {
    for (const Op& op : in_.ops) {
      by_key_[op.key].push_back(&op);
      if (IsWrite(op.type)) by_tag_[op.tag] = &op;
      ++report_.stats[std::string(OpTypeName(op.type)) + " " + OutcomeName(op.outcome)];
    }
  }

  CheckReport Run() {
    CheckFinalState();
    CheckReads();
    CheckEpochs();
    return std::move(report_);
  }

 private:
  std::string Describe(const Op& op) const {
    return DescribeOp(op, in_.origin, in_.gateway_names, in_.cluster_names);
  }
  std::string ClusterName(int c) const {
    return c >= 0 && c < static_cast<int>(in_.cluster_names.size()) ? in_.cluster_names[c] : "c?";
  }
  std::string GatewayName(int g) const {
    return g >= 0 && g < static_cast<int>(in_.gateway_names.size()) ? in_.gateway_names[g] : "g?";
  }
  int ClusterOf(int g) const {
    return g >= 0 && g < static_cast<int>(in_.gateway_cluster.size()) ? in_.gateway_cluster[g] : -1;
  }
  Version VersionOf(const Op& write) const { return {write.timestamp, ClusterName(write.cluster)}; }
  long long Ms(SteadyTime t) const {
    return std::chrono::duration_cast<std::chrono::milliseconds>(t - in_.origin).count();
  }

  void Violation(std::string text, const std::string& key, std::set<int> clusters) {
    report_.violations.push_back(std::move(text));
    if (!key.empty()) report_.keys.insert(key);
    report_.clusters.insert(clusters.begin(), clusters.end());
  }
  void Allowed(const std::string& what, const std::string& example) {
    if (report_.allowed[what]++ == 0) report_.allowed_example[what] = example;
  }

  const Op* Tag(const std::string& tag) const {
    auto it = by_tag_.find(tag);
    return it == by_tag_.end() ? nullptr : it->second;
  }
  const std::vector<const Op*>& OpsOn(const std::string& key) const {
    static const std::vector<const Op*> kNone;
    auto it = by_key_.find(key);
    return it == by_key_.end() ? kNone : it->second;
  }

  // The newest acknowledged write to `key` from any cluster.
  const Op* NewestAck(const std::string& key) const {
    const Op* newest = nullptr;
    for (const Op* op : OpsOn(key)) {
      if (Acked(*op) && (newest == nullptr || VersionOf(*op) > VersionOf(*newest))) newest = op;
    }
    return newest;
  }

  // A remove to `key` that could make it absent after version `after`: one
  // acknowledged with a newer version, or one of unknown outcome, invoked
  // before `before`. Sets *uncertain when only an unknown one explains it.
  bool RemoveExplains(const std::string& key, const Version* after, SteadyTime before, bool* uncertain) const {
    bool unknown_one = false;
    for (const Op* op : OpsOn(key)) {
      if (op->type != OpType::kRemove || op->invoked > before) continue;
      if (Acked(*op) && (after == nullptr || VersionOf(*op) > *after)) {
        *uncertain = false;
        return true;
      }
      if (Uncertain(*op)) unknown_one = true;
    }
    *uncertain = unknown_one;
    return unknown_one;
  }

  // --- final state -----------------------------------------------------------
  void CheckFinalState() {
    const SteadyTime end = SteadyTime::max();
    for (const std::string& key : in_.keys) {
      const Op* newest = NewestAck(key);
      for (size_t c = 0; c < in_.final_state.size(); ++c) {
        const std::string where = key + " in " + ClusterName(static_cast<int>(c));
        auto it = in_.final_state[c].find(key);
        const FinalObject absent;
        const FinalObject& f = it == in_.final_state[c].end() ? absent : it->second;
        if (f.found) {
          const Op* w = Tag(f.tag);
          if (w == nullptr) {
            Violation("final state: " + where + " holds tag '" + f.tag + "' that no client wrote", key, {int(c)});
            continue;
          }
          if (!Possible(*w) || !IsPut(w->type) || w->key != key) {
            Violation("final state: " + where + " holds the value of a write that certainly failed or is not a put of this key: " +
                          Describe(*w),
                      key, {int(c), w->cluster});
            continue;
          }
          if (Acked(*w) && f.timestamp != w->timestamp) {
            Violation("final state: " + where + " holds " + f.tag + " at timestamp " + std::to_string(f.timestamp) +
                          " but its ack said " + std::to_string(w->timestamp),
                      key, {int(c), w->cluster});
          }
          if (!f.vector_ok) Violation("final state: " + where + " holds " + f.tag + " with another vector", key, {int(c)});
          const Version vf{f.timestamp, ClusterName(w->cluster)};
          if (newest != nullptr && vf < VersionOf(*newest)) {
            Violation("final state: acknowledged " + std::string(OpTypeName(newest->type)) + " " + newest->tag + " " +
                          Text(VersionOf(*newest)) + " is lost: " + where + " holds the older " + f.tag + " " +
                          Text(vf) + "; the ack: " + Describe(*newest),
                      key, {int(c), newest->cluster});
          }
          if (!Acked(*w)) Allowed("final value from a write of unknown outcome", where + ": " + Describe(*w));
        } else if (newest != nullptr && IsPut(newest->type)) {
          bool uncertain = false;
          const Version v = VersionOf(*newest);
          if (!RemoveExplains(key, &v, end, &uncertain)) {
            Violation("final state: acknowledged " + std::string(OpTypeName(newest->type)) + " " + newest->tag + " " +
                          Text(v) + " is lost: " + where + " is absent and no remove explains it; the ack: " +
                          Describe(*newest),
                      key, {int(c), newest->cluster});
          } else if (uncertain) {
            Allowed("final absence explained only by a remove of unknown outcome", where);
          }
        }
      }
      // Every cluster holds the same object.
      for (size_t c = 1; c < in_.final_state.size(); ++c) {
        auto describe = [&](size_t i) {
          auto it = in_.final_state[i].find(key);
          if (it == in_.final_state[i].end() || !it->second.found) return std::string("absent");
          return it->second.tag + "@" + std::to_string(it->second.timestamp);
        };
        if (describe(c) != describe(0)) {
          Violation("clusters disagree on " + key + ": " + ClusterName(0) + " has " + describe(0) + ", " +
                        ClusterName(static_cast<int>(c)) + " has " + describe(c),
                    key, {0, int(c)});
        }
      }
    }
    std::optional<std::pair<uint64_t, uint64_t>> first;
    int first_gateway = -1;
    for (size_t g = 0; g < in_.final_digests.size(); ++g) {
      if (!in_.final_digests[g]) continue;
      if (!first) {
        first = in_.final_digests[g];
        first_gateway = static_cast<int>(g);
      } else if (*in_.final_digests[g] != *first) {
        Violation("digests differ at the end: " + GatewayName(first_gateway) + " has " + std::to_string(first->first) +
                      " (" + std::to_string(first->second) + " objects), " + GatewayName(static_cast<int>(g)) +
                      " has " + std::to_string(in_.final_digests[g]->first) + " (" +
                      std::to_string(in_.final_digests[g]->second) + " objects)",
                  "", {ClusterOf(first_gateway), ClusterOf(static_cast<int>(g))});
      }
    }
  }

  // --- reads -----------------------------------------------------------------
  void CheckReads() {
    for (const Op& r : in_.ops) {
      if (r.type != OpType::kGet || r.outcome != Outcome::kOk) continue;
      if (r.found) CheckReadValue(r);
      if (r.epoch == 0) {
        Allowed("reads whose epoch could not be resolved (not checked for staleness)", Describe(r));
      } else {
        CheckReadNotStale(r);
      }
    }
    CheckMonotonicReads();
  }

  void CheckReadValue(const Op& r) {
    const Op* w = Tag(r.read_tag);
    if (w == nullptr) {
      Violation("read returned tag '" + r.read_tag + "' that no client wrote: " + Describe(r), r.key, {r.cluster});
      return;
    }
    if (!Possible(*w) || !IsPut(w->type) || w->key != r.key) {
      Violation("read returned the value of a write that certainly failed (or of another key): " + Describe(r) +
                    "; the write: " + Describe(*w),
                r.key, {r.cluster, w->cluster});
      return;
    }
    if (w->invoked > r.completed) {
      Violation("read returned a write invoked after the read completed: " + Describe(r) + "; the write: " +
                    Describe(*w),
                r.key, {r.cluster, w->cluster});
    }
    if (Acked(*w) && w->timestamp != r.timestamp) {
      Violation("read returned " + w->tag + " at timestamp " + std::to_string(r.timestamp) + " but its ack said " +
                    std::to_string(w->timestamp) + ": " + Describe(r),
                r.key, {r.cluster, w->cluster});
    }
    if (!r.read_vector_ok) Violation("read returned " + w->tag + " with another vector: " + Describe(r), r.key, {r.cluster});
    if (!Acked(*w) || w->completed > r.completed) {
      Allowed("reads of a write not acknowledged (yet) when the read completed",
              Describe(r) + "; the write: " + Describe(*w));
    }
  }

  // The version a found read returned (its write's origin is the tag's).
  std::optional<Version> ReadVersion(const Op& r) const {
    if (!r.found) return std::nullopt;
    const Op* w = Tag(r.read_tag);
    if (w == nullptr) return std::nullopt;
    return Version{r.timestamp, ClusterName(w->cluster)};
  }

  // True when `r` reflects acked write `w` (or something newer).
  bool Reflects(const Op& r, const Op& w) const {
    const Version vw = VersionOf(w);
    if (r.found) {
      auto vr = ReadVersion(r);
      return vr && *vr >= vw;
    }
    if (w.type == OpType::kRemove) return true;
    bool uncertain = false;
    return RemoveExplains(r.key, &vw, r.completed, &uncertain);
  }

  void CheckReadNotStale(const Op& r) {
    const Op* must = nullptr;  // newest ack the read must reflect
    const Op* any = nullptr;   // newest ack before the read at any epoch
    for (const Op* w : OpsOn(r.key)) {
      if (!Acked(*w) || w->cluster != r.cluster || w->completed >= r.invoked) continue;
      if (any == nullptr || VersionOf(*w) > VersionOf(*any)) any = w;
      if (w->epoch == 0) continue;
      if (w->epoch <= r.epoch && (must == nullptr || VersionOf(*w) > VersionOf(*must))) must = w;
    }
    if (must != nullptr && !Reflects(r, *must)) {
      Violation("stale read: " + Describe(r) + " does not reflect the acknowledged write " + Describe(*must) +
                    " of its cluster at epoch " + std::to_string(must->epoch) + " <= the read's",
                r.key, {r.cluster});
      return;
    }
    if (any != nullptr && !Reflects(r, *any)) {
      Allowed(any->epoch == 0 ? "stale reads against a write whose epoch is unresolved"
                              : "stale reads from a gateway at an older epoch than the write",
              Describe(r) + " misses " + Describe(*any));
    }
  }

  void CheckMonotonicReads() {
    // Same cluster: compare each read with the newest found read that
    // completed before it was invoked; same gateway and epoch must not go
    // back, others are counted.
    std::map<std::pair<int, std::string>, std::vector<const Op*>> groups;  // (cluster, key) -> reads
    for (const Op& r : in_.ops) {
      if (r.type == OpType::kGet && r.outcome == Outcome::kOk) groups[{r.cluster, r.key}].push_back(&r);
    }
    for (auto& [where, reads] : groups) {
      for (const Op* r2 : reads) {
        const Op* same = nullptr;   // newest earlier found read, same gateway and epoch
        const Op* other = nullptr;  // newest earlier found read, anywhere in the cluster
        for (const Op* r1 : reads) {
          if (!r1->found || r1->completed >= r2->invoked) continue;
          auto v1 = ReadVersion(*r1);
          if (!v1) continue;
          if (other == nullptr || *v1 > *ReadVersion(*other)) other = r1;
          if (r2->epoch != 0 && r1->gateway == r2->gateway && r1->epoch == r2->epoch &&
              (same == nullptr || *v1 > *ReadVersion(*same))) {
            same = r1;
          }
        }
        auto goes_back = [&](const Op& r1) {
          const Version v1 = *ReadVersion(r1);
          if (r2->found) {
            auto v2 = ReadVersion(*r2);
            return !v2 || *v2 < v1;
          }
          bool uncertain = false;
          return !RemoveExplains(r2->key, &v1, r2->completed, &uncertain);
        };
        if (same != nullptr && goes_back(*same)) {
          Violation("non-monotonic read on one gateway at one epoch: " + Describe(*r2) + " after " + Describe(*same),
                    r2->key, {r2->cluster});
        } else if (other != nullptr && goes_back(*other)) {
          Allowed("reads older than an earlier read from another gateway or epoch of the cluster",
                  Describe(*r2) + " after " + Describe(*other));
        }
      }
    }
  }

  // --- epochs ----------------------------------------------------------------
  void CheckEpochs() {
    // Each gateway's epoch, as its GetState answers say, never goes down.
    std::map<int, std::pair<uint64_t, SteadyTime>> last;
    for (const GatewayObservation& o : in_.gateway_observations) {
      if (!o.ok) continue;
      auto it = last.find(o.gateway);
      if (it != last.end() && o.epoch < it->second.first) {
        Violation("epoch of " + GatewayName(o.gateway) + " went down from " + std::to_string(it->second.first) +
                      " (at " + std::to_string(Ms(it->second.second)) + " ms) to " + std::to_string(o.epoch) +
                      " (at " + std::to_string(Ms(o.received)) + " ms)",
                  "", {ClusterOf(o.gateway)});
      }
      last[o.gateway] = {o.epoch, o.received};
    }
    // Each cluster's stored epoch never goes down.
    std::map<int, uint64_t> stored;
    for (const ClusterStateObservation& o : in_.cluster_observations) {
      auto it = stored.find(o.cluster);
      if (it != stored.end() && o.epoch < it->second) {
        Violation("stored epoch of " + ClusterName(o.cluster) + " went down from " + std::to_string(it->second) +
                      " to " + std::to_string(o.epoch) + " at " + std::to_string(Ms(o.at)) + " ms",
                  "", {o.cluster});
      }
      stored[o.cluster] = std::max(o.epoch, it == stored.end() ? 0 : it->second);
    }

    // One acknowledging gateway per (cluster, epoch); no ack at an older
    // epoch once a newer epoch's ack completed.
    std::map<std::pair<int, uint64_t>, const Op*> acker;
    std::map<int, std::vector<const Op*>> acks;  // cluster -> acked writes with a resolved epoch
    for (const Op& op : in_.ops) {
      if (!Acked(op)) continue;
      if (op.epoch == 0) {
        Allowed("acknowledged writes whose epoch could not be resolved", Describe(op));
        continue;
      }
      auto [it, inserted] = acker.try_emplace({op.cluster, op.epoch}, &op);
      if (!inserted && it->second->gateway != op.gateway) {
        Violation("two gateways acknowledged writes in " + ClusterName(op.cluster) + " at epoch " +
                      std::to_string(op.epoch) + ": " + Describe(*it->second) + " and " + Describe(op),
                  op.key, {op.cluster});
        report_.keys.insert(it->second->key);
      }
      acks[op.cluster].push_back(&op);
    }
    for (auto& [cluster, list] : acks) {
      std::vector<const Op*> by_completion = list;
      std::sort(by_completion.begin(), by_completion.end(),
                [](const Op* a, const Op* b) { return a->completed < b->completed; });
      // prefix[i]: the ack of the newest epoch among the first i+1 completions.
      std::vector<const Op*> prefix(by_completion.size());
      for (size_t i = 0; i < by_completion.size(); ++i) {
        prefix[i] = i > 0 && prefix[i - 1]->epoch >= by_completion[i]->epoch ? prefix[i - 1] : by_completion[i];
      }
      for (const Op* a : list) {
        auto pos = std::lower_bound(by_completion.begin(), by_completion.end(), a->invoked,
                                    [](const Op* op, SteadyTime t) { return op->completed < t; });
        if (pos == by_completion.begin()) continue;
        const Op* newer = prefix[pos - by_completion.begin() - 1];
        if (newer->epoch > a->epoch) {
          Violation("write acknowledged at epoch " + std::to_string(a->epoch) + " was invoked after a write at epoch " +
                        std::to_string(newer->epoch) + " of the same cluster had been acknowledged: " + Describe(*a) +
                        " after " + Describe(*newer),
                    a->key, {cluster});
          report_.keys.insert(newer->key);
        }
      }
    }

    // No running lease at an epoch older than one another gateway of the
    // cluster was already seen active at.
    std::map<int, std::vector<const GatewayObservation*>> actives;  // cluster -> active observations
    for (const GatewayObservation& o : in_.gateway_observations) {
      if (o.ok && o.role == v1::ROLE_ACTIVE) actives[ClusterOf(o.gateway)].push_back(&o);
    }
    for (auto& [cluster, list] : actives) {
      std::vector<const GatewayObservation*> by_received = list;
      std::sort(by_received.begin(), by_received.end(),
                [](const GatewayObservation* a, const GatewayObservation* b) { return a->received < b->received; });
      std::vector<const GatewayObservation*> prefix(by_received.size());
      for (size_t i = 0; i < by_received.size(); ++i) {
        prefix[i] = i > 0 && prefix[i - 1]->epoch >= by_received[i]->epoch ? prefix[i - 1] : by_received[i];
      }
      for (const GatewayObservation* a : list) {
        if (a->lease_remaining_ms <= 0) continue;
        auto pos = std::lower_bound(by_received.begin(), by_received.end(), a->sent,
                                    [](const GatewayObservation* o, SteadyTime t) { return o->received < t; });
        if (pos == by_received.begin()) continue;
        const GatewayObservation* newer = prefix[pos - by_received.begin() - 1];
        if (newer->epoch > a->epoch && newer->gateway != a->gateway) {
          Violation(GatewayName(a->gateway) + " reported " + std::to_string(a->lease_remaining_ms) +
                        " ms of lease as active at epoch " + std::to_string(a->epoch) + " (asked at " +
                        std::to_string(Ms(a->sent)) + " ms) after " + GatewayName(newer->gateway) +
                        " was seen active at epoch " + std::to_string(newer->epoch) + " (answered by " +
                        std::to_string(Ms(newer->received)) + " ms)",
                    "", {cluster});
        }
      }
    }
  }

  const CheckInput& in_;
  CheckReport report_;
  std::unordered_map<std::string, std::vector<const Op*>> by_key_;
  std::unordered_map<std::string, const Op*> by_tag_;
};

}  // namespace

void ResolveEpochs(std::vector<Op>& ops, const std::vector<GatewayObservation>& observations) {
  std::map<int, std::vector<const GatewayObservation*>> by_gateway;
  for (const GatewayObservation& o : observations) {
    if (o.ok) by_gateway[o.gateway].push_back(&o);
  }
  for (auto& [g, list] : by_gateway) {
    std::sort(list.begin(), list.end(),
              [](const GatewayObservation* a, const GatewayObservation* b) { return a->sent < b->sent; });
  }
  for (Op& op : ops) {
    op.epoch = 0;
    if (op.outcome == Outcome::kPending) continue;
    auto it = by_gateway.find(op.gateway);
    if (it == by_gateway.end()) continue;
    const auto& list = it->second;
    // Last answer received before the invocation.
    const GatewayObservation* before = nullptr;
    for (const GatewayObservation* o : list) {
      if (o->received <= op.invoked && (before == nullptr || o->received > before->received)) before = o;
      if (o->sent > op.invoked) break;
    }
    // First question sent after the completion.
    auto after = std::lower_bound(list.begin(), list.end(), op.completed,
                                  [](const GatewayObservation* o, SteadyTime t) { return o->sent < t; });
    if (before == nullptr || after == list.end()) continue;
    if (before->epoch == (*after)->epoch) op.epoch = before->epoch;
  }
}

CheckReport Check(CheckInput& input) {
  ResolveEpochs(input.ops, input.gateway_observations);
  return Checker(input).Run();
}

std::string MinimalLog(const CheckInput& input, const std::set<std::string>& keys, const std::set<int>& clusters,
                       size_t max_lines) {
  std::string text;
  size_t lines = 0;
  auto add = [&](const std::string& line) {
    if (lines++ < max_lines) text += "  " + line + "\n";
  };
  auto ms = [&](SteadyTime t) {
    return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(t - input.origin).count());
  };
  auto cluster_name = [&](int c) {
    return c >= 0 && c < static_cast<int>(input.cluster_names.size()) ? input.cluster_names[c] : "c?";
  };
  for (int c : clusters) {
    add("-- " + cluster_name(c) + ": stored state changes (ZooKeeper)");
    std::string last;
    for (const ClusterStateObservation& o : input.cluster_observations) {
      if (o.cluster != c) continue;
      const std::string now = "epoch " + std::to_string(o.epoch) + " active " + (o.active.empty() ? "-" : o.active);
      if (now != last) add("+" + ms(o.at) + "ms " + now);
      last = now;
    }
    add("-- " + cluster_name(c) + ": gateway role/epoch changes (GetState)");
    std::map<int, std::string> gateway_last;
    for (const GatewayObservation& o : input.gateway_observations) {
      if (o.gateway < 0 || o.gateway >= static_cast<int>(input.gateway_cluster.size()) ||
          input.gateway_cluster[o.gateway] != c) {
        continue;
      }
      const std::string now = o.ok ? std::string(v1::Role_Name(o.role)) + " epoch " + std::to_string(o.epoch) +
                                         (o.fenced ? " fenced" : "") + (o.lease_remaining_ms > 0 ? " leased" : "")
                                   : "no answer";
      if (gateway_last[o.gateway] != now) add("+" + ms(o.received) + "ms " + input.gateway_names[o.gateway] + " " + now);
      gateway_last[o.gateway] = now;
    }
  }
  for (const std::string& key : keys) {
    add("-- ops on " + key);
    for (const Op& op : input.ops) {
      if (op.key == key) add(DescribeOp(op, input.origin, input.gateway_names, input.cluster_names));
    }
    for (size_t c = 0; c < input.final_state.size() && !input.keys.empty(); ++c) {
      auto it = input.final_state[c].find(key);
      add("final in " + cluster_name(static_cast<int>(c)) + ": " +
          (it == input.final_state[c].end() || !it->second.found
               ? std::string("absent")
               : it->second.tag + " ts=" + std::to_string(it->second.timestamp)));
    }
  }
  if (lines > max_lines) text += "  ... " + std::to_string(lines - max_lines) + " more lines\n";
  return text;
}

}  // namespace baton::chaos
