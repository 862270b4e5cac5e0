#include "tests/chaos/nemesis.h"

#include <algorithm>
#include <thread>
#include <tuple>

namespace baton::chaos {
namespace {

using std::chrono::milliseconds;

std::string ClusterName(int c) { return "c" + std::to_string(c + 1); }

struct Weighted {
  FaultKind kind;
  int weight;
  bool partition;
};

constexpr Weighted kKinds[] = {
    {FaultKind::kKillGateway, 20, false},  {FaultKind::kPauseGateway, 14, false},
    {FaultKind::kKillAgent, 8, false},     {FaultKind::kPauseAgent, 6, false},
    {FaultKind::kKillArbiter, 8, false},   {FaultKind::kPauseArbiter, 6, false},
    {FaultKind::kZookeeperDown, 6, false}, {FaultKind::kPartitionActiveStandby, 12, true},
    {FaultKind::kPartitionClusters, 8, true}, {FaultKind::kPartitionFromArbiters, 12, true},
};

}  // namespace

std::vector<Fault> DrawSchedule(std::mt19937_64& rng, const NemesisOptions& options, int clusters) {
  auto uniform = [&](int lo, int hi) { return std::uniform_int_distribution<int>(lo, std::max(lo, hi))(rng); };
  const int count = uniform(options.min_faults, options.max_faults);
  int total_weight = 0;
  for (const Weighted& k : kKinds) total_weight += (!k.partition || options.partitions) ? k.weight : 0;
  std::vector<Fault> faults;
  bool zookeeper_drawn = false;
  for (int n = 0; n < count; ++n) {
    for (int attempt = 0; attempt < 20; ++attempt) {
      Fault f;
      int dice = uniform(0, total_weight - 1);
      for (const Weighted& k : kKinds) {
        if (k.partition && !options.partitions) continue;
        if (dice < k.weight) {
          f.kind = k.kind;
          break;
        }
        dice -= k.weight;
      }
      if (f.kind == FaultKind::kZookeeperDown && zookeeper_drawn) continue;
      f.cluster = uniform(0, clusters - 1);
      f.other = (f.cluster + uniform(1, clusters - 1)) % clusters;
      f.active = uniform(0, 99) < 65;
      // ZooKeeper outages sometimes outlast the session timeout (4 s).
      const int longest = f.kind == FaultKind::kZookeeperDown ? std::max(options.max_fault_ms, 5000) : options.max_fault_ms;
      f.start_ms = uniform(200, std::max(200, options.duration_ms - options.min_fault_ms));
      f.end_ms = std::min(options.duration_ms, f.start_ms + uniform(options.min_fault_ms, longest));
      // At most max_concurrent faults at any moment.
      int overlapping = 0;
      for (const Fault& g : faults) {
        if (g.start_ms < f.end_ms && f.start_ms < g.end_ms) ++overlapping;
      }
      if (overlapping >= options.max_concurrent) continue;
      zookeeper_drawn |= f.kind == FaultKind::kZookeeperDown;
      faults.push_back(f);
      break;
    }
  }
  std::sort(faults.begin(), faults.end(), [](const Fault& a, const Fault& b) { return a.start_ms < b.start_ms; });
  return faults;
}

std::string Describe(const Fault& f) {
  const std::string when = "+" + std::to_string(f.start_ms) + ".." + std::to_string(f.end_ms) + "ms ";
  const std::string member = std::string(f.active ? "the active" : "a standby") + " of " + ClusterName(f.cluster);
  switch (f.kind) {
    case FaultKind::kKillGateway: return when + "kill -9 (then restart) the gateway " + member;
    case FaultKind::kPauseGateway: return when + "SIGSTOP (then SIGCONT) the gateway " + member;
    case FaultKind::kKillAgent: return when + "kill -9 (then restart) the agent of " + member;
    case FaultKind::kPauseAgent: return when + "SIGSTOP (then SIGCONT) the agent of " + member;
    case FaultKind::kKillArbiter:
      return when + "kill -9 (then restart) " + (f.active ? "the leading arbiter" : "a following arbiter");
    case FaultKind::kPauseArbiter:
      return when + "SIGSTOP (then SIGCONT) " + (f.active ? "the leading arbiter" : "a following arbiter");
    case FaultKind::kZookeeperDown: return when + "stop (then start) ZooKeeper";
    case FaultKind::kPartitionActiveStandby: return when + "partition the active of " + ClusterName(f.cluster) + " from a standby";
    case FaultKind::kPartitionClusters:
      return when + "partition " + ClusterName(f.cluster) + " from " + ClusterName(f.other);
    case FaultKind::kPartitionFromArbiters: return when + "partition " + member + " from every arbiter";
  }
  return when + "?";
}

Nemesis::Nemesis(Mesh& mesh, std::vector<Fault> faults, uint64_t seed)
    : mesh_(mesh), faults_(std::move(faults)), rng_(seed), applied_(faults_.size()) {}

void Nemesis::Log(const std::string& line) {
  const auto ms =
      std::chrono::duration_cast<milliseconds>(std::chrono::steady_clock::now() - start_).count();
  executed_.push_back("+" + std::to_string(ms) + "ms " + line);
}

int Nemesis::ActiveOf(int cluster) {
  int best = -1;
  uint64_t best_epoch = 0;
  for (int g : mesh_.members(cluster)) {
    if (!mesh_.gateway_up(g) || mesh_.gateway_paused(g)) continue;
    auto state = mesh_.GetState(g, milliseconds(150));
    if (state.ok() && state->role() == v1::ROLE_ACTIVE && (best < 0 || state->epoch() > best_epoch)) {
      best = g;
      best_epoch = state->epoch();
    }
  }
  if (best >= 0) return best;
  auto stored = mesh_.ReadState(cluster);
  if (stored.ok()) {
    for (int g : mesh_.members(cluster)) {
      if (mesh_.gateway_name(g) == stored->active) return g;
    }
  }
  return -1;
}

int Nemesis::StandbyOf(int cluster, int active) {
  std::vector<int> others;
  for (int g : mesh_.members(cluster)) {
    if (g != active) others.push_back(g);
  }
  if (others.empty()) return -1;
  return others[std::uniform_int_distribution<size_t>(0, others.size() - 1)(rng_)];
}

void Nemesis::Begin(size_t i) {
  const Fault& f = faults_[i];
  Applied& a = applied_[i];
  auto fail = [&](const std::string& why) { Log("#" + std::to_string(i) + " skipped: " + why); };
  auto done = [&](const Status& s, std::string what, std::function<Status()> undo) {
    if (!s.ok()) {
      Log("#" + std::to_string(i) + " " + what + " FAILED: " + s.ToString());
      // Whatever half happened is undone at the end like the rest.
    } else {
      Log("#" + std::to_string(i) + " " + what);
    }
    a.on = true;
    a.what = std::move(what);
    a.undo = std::move(undo);
  };
  // The gateway a fault on "the active" / "a standby" of a cluster hits,
  // among those `usable` (not already down or stopped).
  auto pick_member = [&](const std::function<bool(int)>& usable) -> std::pair<int, std::string> {
    const int active = ActiveOf(f.cluster);
    int g = f.active ? active : StandbyOf(f.cluster, active);
    std::string role = f.active ? "active" : "standby";
    if (g < 0 || !usable(g)) {
      g = -1;
      for (int m : mesh_.members(f.cluster)) {
        if (usable(m)) {
          g = m;
          role = m == active ? "active" : "standby";
          break;
        }
      }
    }
    return {g, g < 0 ? "" : mesh_.gateway_name(g) + " (" + role + " of " + ClusterName(f.cluster) + ")"};
  };
  auto gateway_usable = [&](int g) { return mesh_.gateway_up(g) && !mesh_.gateway_paused(g); };
  auto agent_usable = [&](int g) { return mesh_.agent_up(g) && !mesh_.agent_paused(g); };
  auto pick_arbiter = [&]() -> int {
    auto leader = mesh_.LeaderArbiter();
    std::vector<int> candidates;
    for (int x = 0; x < mesh_.arbiters(); ++x) {
      if (!mesh_.arbiter_up(x) || mesh_.arbiter_paused(x)) continue;
      const bool is_leader = leader.ok() && *leader == x;
      if (is_leader == f.active) candidates.push_back(x);
    }
    if (candidates.empty()) {
      for (int x = 0; x < mesh_.arbiters(); ++x) {
        if (mesh_.arbiter_up(x) && !mesh_.arbiter_paused(x)) candidates.push_back(x);
      }
    }
    if (candidates.empty()) return -1;
    return candidates[std::uniform_int_distribution<size_t>(0, candidates.size() - 1)(rng_)];
  };

  switch (f.kind) {
    case FaultKind::kKillGateway: {
      auto [g, who] = pick_member(gateway_usable);
      if (g < 0) return fail("no running gateway in " + ClusterName(f.cluster));
      return done(mesh_.KillGateway(g), "kill -9 gateway " + who, [this, g = g] { return mesh_.StartGateway(g); });
    }
    case FaultKind::kPauseGateway: {
      auto [g, who] = pick_member(gateway_usable);
      if (g < 0) return fail("no running gateway in " + ClusterName(f.cluster));
      return done(mesh_.PauseGateway(g), "SIGSTOP gateway " + who, [this, g = g] { return mesh_.ResumeGateway(g); });
    }
    case FaultKind::kKillAgent: {
      auto [g, who] = pick_member(agent_usable);
      if (g < 0) return fail("no running agent in " + ClusterName(f.cluster));
      return done(mesh_.KillAgent(g), "kill -9 agent of " + who, [this, g = g] { return mesh_.StartAgent(g); });
    }
    case FaultKind::kPauseAgent: {
      auto [g, who] = pick_member(agent_usable);
      if (g < 0) return fail("no running agent in " + ClusterName(f.cluster));
      return done(mesh_.PauseAgent(g), "SIGSTOP agent of " + who, [this, g = g] { return mesh_.ResumeAgent(g); });
    }
    case FaultKind::kKillArbiter: {
      const int x = pick_arbiter();
      if (x < 0) return fail("no running arbiter");
      return done(mesh_.KillArbiter(x), "kill -9 arbiter " + mesh_.arbiter_name(x),
                  [this, x] { return mesh_.StartArbiter(x); });
    }
    case FaultKind::kPauseArbiter: {
      const int x = pick_arbiter();
      if (x < 0) return fail("no running arbiter");
      return done(mesh_.PauseArbiter(x), "SIGSTOP arbiter " + mesh_.arbiter_name(x),
                  [this, x] { return mesh_.ResumeArbiter(x); });
    }
    case FaultKind::kZookeeperDown: {
      if (!mesh_.zookeeper_up()) return fail("ZooKeeper is already down");
      mesh_.StopZookeeper();
      return done(Status::Ok(), "stop ZooKeeper", [this] { return mesh_.StartZookeeper(); });
    }
    case FaultKind::kPartitionActiveStandby: {
      const int active = ActiveOf(f.cluster);
      const int standby = StandbyOf(f.cluster, active);
      if (active < 0 || standby < 0) return fail("no active in " + ClusterName(f.cluster));
      return done(mesh_.CutGateways(active, standby),
                  "partition " + mesh_.gateway_name(active) + " (active of " + ClusterName(f.cluster) + ") from " +
                      mesh_.gateway_name(standby),
                  [this, active, standby] { return mesh_.HealGateways(active, standby); });
    }
    case FaultKind::kPartitionClusters: {
      Status s = Status::Ok();
      for (int x : mesh_.members(f.cluster)) {
        for (int y : mesh_.members(f.other)) {
          Status cut = mesh_.CutGateways(x, y);
          if (s.ok()) s = cut;
        }
      }
      const int a = f.cluster, b = f.other;
      return done(s, "partition " + ClusterName(a) + " from " + ClusterName(b), [this, a, b] {
        Status healed = Status::Ok();
        for (int x : mesh_.members(a)) {
          for (int y : mesh_.members(b)) {
            Status h = mesh_.HealGateways(x, y);
            if (healed.ok()) healed = h;
          }
        }
        return healed;
      });
    }
    case FaultKind::kPartitionFromArbiters: {
      auto [g, who] = pick_member([](int) { return true; });
      if (g < 0) return fail("no gateway in " + ClusterName(f.cluster));
      return done(mesh_.CutFromArbiters(g), "partition " + who + " from every arbiter",
                  [this, g = g] { return mesh_.HealFromArbiters(g); });
    }
  }
}

void Nemesis::End(size_t i) {
  Applied& a = applied_[i];
  if (!a.on) return;
  a.on = false;
  Status s = a.undo();
  Log("#" + std::to_string(i) + " end of '" + a.what + "'" + (s.ok() ? "" : ": " + s.ToString()));
}

void Nemesis::Run(std::chrono::steady_clock::time_point start, const std::function<void()>& tick) {
  start_ = start;
  std::vector<std::tuple<int, size_t, bool>> events;  // (ms, fault, begins)
  for (size_t i = 0; i < faults_.size(); ++i) {
    events.emplace_back(faults_[i].start_ms, i, true);
    events.emplace_back(faults_[i].end_ms, i, false);
  }
  // Ends before begins at the same moment; otherwise by time.
  std::sort(events.begin(), events.end(), [](const auto& a, const auto& b) {
    if (std::get<0>(a) != std::get<0>(b)) return std::get<0>(a) < std::get<0>(b);
    return std::get<2>(a) < std::get<2>(b);
  });
  for (const auto& [ms, i, begins] : events) {
    const auto due = start + milliseconds(ms);
    while (std::chrono::steady_clock::now() < due) {
      tick();
      // The schedule's clock: wait for the next event's time, not for a state.
      std::this_thread::sleep_for(std::min<std::chrono::steady_clock::duration>(
          milliseconds(50), due - std::chrono::steady_clock::now()));
    }
    tick();
    if (begins) {
      Begin(i);
    } else {
      End(i);
    }
  }
}

std::vector<std::string> Nemesis::HealEverything() {
  std::vector<std::string> problems;
  int actions = 0;
  for (size_t i = applied_.size(); i-- > 0;) {
    if (applied_[i].on) ++actions;
    End(i);
  }
  auto act = [&](const Status& s, const std::string& what) {
    ++actions;
    Log(what + (s.ok() ? "" : ": " + s.ToString()));
    if (!s.ok()) problems.push_back(what + ": " + s.ToString());
  };
  if (!mesh_.zookeeper_up()) act(mesh_.StartZookeeper(), "start ZooKeeper");
  for (int x = 0; x < mesh_.arbiters(); ++x) {
    if (mesh_.arbiter_paused(x)) act(mesh_.ResumeArbiter(x), "resume arbiter " + mesh_.arbiter_name(x));
    if (!mesh_.arbiter_up(x)) act(mesh_.StartArbiter(x), "start arbiter " + mesh_.arbiter_name(x));
  }
  for (int g = 0; g < mesh_.gateways(); ++g) {
    if (mesh_.gateway_paused(g)) act(mesh_.ResumeGateway(g), "resume " + mesh_.gateway_name(g));
    if (!mesh_.gateway_up(g)) act(mesh_.StartGateway(g), "start " + mesh_.gateway_name(g));
    if (mesh_.agent_paused(g)) act(mesh_.ResumeAgent(g), "resume agent of " + mesh_.gateway_name(g));
    if (!mesh_.agent_up(g)) act(mesh_.StartAgent(g), "start agent of " + mesh_.gateway_name(g));
  }
  if (mesh_.cuts() != 0) act(mesh_.HealNetwork(), "heal the network");
  if (mesh_.cuts() != 0) problems.push_back(std::to_string(mesh_.cuts()) + " partitions left after healing");
  if (actions > 0) Log("healed everything" + std::string(problems.empty() ? "" : " (with problems)"));
  return problems;
}

}  // namespace baton::chaos
