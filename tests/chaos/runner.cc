#include "tests/chaos/runner.h"

#include <algorithm>
#include <iomanip>
#include <ostream>
#include <random>
#include <sstream>
#include <thread>

#include "baton/v1/gateway.grpc.pb.h"
#include "tests/chaos/checker.h"
#include "tests/chaos/client.h"
#include "tests/chaos/history.h"
#include "tests/chaos/monitor.h"

namespace baton::chaos {
namespace {

using std::chrono::milliseconds;
using SteadyClock = std::chrono::steady_clock;

std::string Position(const v1::LogPosition& p) { return std::to_string(p.epoch()) + ":" + std::to_string(p.seq()); }

double SecondsSince(SteadyClock::time_point t) {
  return std::chrono::duration<double>(SteadyClock::now() - t).count();
}

// What a quiescence check found: quiet, or why not; and what the end state
// is (each cluster's active, every gateway's digest).
struct Quiet {
  bool ok = false;
  std::string why;
  std::vector<int> actives;
  std::vector<std::optional<std::pair<uint64_t, uint64_t>>> digests;
};

Quiet CheckQuiet(const Mesh& mesh) {
  Quiet q;
  q.actives.assign(mesh.clusters(), -1);
  q.digests.assign(mesh.gateways(), std::nullopt);
  std::ostringstream why;
  std::optional<uint64_t> first_digest;
  for (int c = 0; c < mesh.clusters(); ++c) {
    const std::string name = mesh.cluster_name(c);
    auto stored = mesh.ReadState(c);
    if (!stored.ok()) {
      why << name << ": stored state: " << stored.status() << "\n";
      continue;
    }
    int active = -1;
    for (int g : mesh.members(c)) {
      if (mesh.gateway_name(g) == stored->active) active = g;
    }
    if (active < 0) {
      why << name << ": no stored active (epoch " << stored->epoch << ")\n";
      continue;
    }
    auto a = mesh.GetState(active, milliseconds(1000));
    if (!a.ok()) {
      why << name << ": active " << stored->active << ": " << a.status() << "\n";
      continue;
    }
    bool good = true;
    auto bad = [&](const std::string& text) {
      why << name << ": " << text << "\n";
      good = false;
    };
    if (a->role() != v1::ROLE_ACTIVE || a->epoch() != stored->epoch || a->fenced() || a->lease_remaining_ms() == 0) {
      bad(stored->active + " is not serving as active at the stored epoch " + std::to_string(stored->epoch) + ": role " +
          v1::Role_Name(a->role()) + " epoch " + std::to_string(a->epoch()) + (a->fenced() ? " fenced" : "") +
          " lease " + std::to_string(a->lease_remaining_ms()) + " ms");
    }
    if (a->standbys_size() != static_cast<int>(mesh.members(c).size()) - 1) {
      bad(stored->active + " has " + std::to_string(a->standbys_size()) + " standbys in its assignment");
    }
    for (const auto& s : a->standbys()) {
      if (!s.connected()) bad("standby " + s.instance_id() + " is not connected to " + stored->active);
    }
    if (a->mirror_peers_size() != mesh.clusters() - 1) {
      bad(stored->active + " mirrors to " + std::to_string(a->mirror_peers_size()) + " targets");
    }
    for (const auto& p : a->mirror_peers()) {
      if (p.lag_entries() != 0) {
        bad(stored->active + " -> " + p.target() + ": lag " + std::to_string(p.lag_entries()) + " entries" +
            (p.last_error().empty() ? "" : " (" + p.last_error() + ")"));
      }
    }
    q.digests[active] = std::make_pair(a->digest(), a->object_count());
    for (int g : mesh.members(c)) {
      if (g == active) continue;
      auto s = mesh.GetState(g, milliseconds(1000));
      if (!s.ok()) {
        bad(mesh.gateway_name(g) + ": " + s.status().ToString());
        continue;
      }
      q.digests[g] = std::make_pair(s->digest(), s->object_count());
      if (s->role() != v1::ROLE_STANDBY || s->epoch() != stored->epoch) {
        bad(mesh.gateway_name(g) + " is " + v1::Role_Name(s->role()) + " at epoch " + std::to_string(s->epoch()));
      } else if (s->durable().seq() != a->durable().seq() || s->durable().epoch() != a->durable().epoch() ||
                 s->applied().seq() != s->durable().seq() || s->digest() != a->digest()) {
        bad(mesh.gateway_name(g) + " has not caught up: durable " + Position(s->durable()) + " applied " +
            Position(s->applied()) + " vs " + Position(a->durable()) + ", digest " + std::to_string(s->digest()) +
            " vs " + std::to_string(a->digest()));
      }
    }
    if (!first_digest) first_digest = a->digest();
    if (a->digest() != *first_digest) bad("digest " + std::to_string(a->digest()) + " differs from c1's");
    if (good) q.actives[c] = active;
  }
  q.why = why.str();
  q.ok = q.why.empty();
  return q;
}

// Polls until quiet twice in a row with the same digests, or `timeout`.
// `tick` runs at every poll (crash collection).
Quiet WaitQuiet(const Mesh& mesh, milliseconds timeout, const std::function<void()>& tick) {
  const auto deadline = SteadyClock::now() + timeout;
  Quiet last;
  std::optional<Quiet> previous;
  while (true) {
    tick();
    last = CheckQuiet(mesh);
    if (last.ok && previous && previous->digests == last.digests) return last;
    previous = last.ok ? std::optional<Quiet>(last) : std::nullopt;
    if (SteadyClock::now() >= deadline) break;
    std::this_thread::sleep_for(milliseconds(200));  // poll period of a condition wait
  }
  last.ok = false;
  if (last.why.empty()) last.why = "the state kept changing";
  return last;
}

Result<FinalObject> ReadFinal(const Mesh& mesh, const std::shared_ptr<grpc::Channel>& channel, const std::string& key,
                              int dimension) {
  grpc::Status status;
  for (int attempt = 0; attempt < 5; ++attempt) {
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(3));
    v1::GetObjectRequest request;
    request.set_id(key);
    v1::Object object;
    status = v1::Gateway::NewStub(channel)->GetObject(&context, request, &object);
    if (status.ok()) {
      const std::vector<float> got(object.vector().begin(), object.vector().end());
      return FinalObject{true, object.metadata(), object.timestamp(), got == VectorForTag(object.metadata(), dimension)};
    }
    if (status.error_code() == grpc::StatusCode::NOT_FOUND) return FinalObject{};
    std::this_thread::sleep_for(milliseconds(100));  // retry pacing
  }
  return Status(static_cast<StatusCode>(status.error_code()), "GetObject " + key + ": " + status.error_message());
}

}  // namespace

Runner::Runner(RunOptions options, std::ostream& out) : options_(std::move(options)), out_(out) {}

Status Runner::BringUp() {
  if (mesh_ && options_.keep_run_dirs) mesh_->Keep();
  mesh_.reset();
  MeshOptions mesh_options = options_.mesh;
  mesh_options.clusters = options_.clusters;
  mesh_options.use_netns = options_.use_netns;
  const auto started = SteadyClock::now();
  mesh_ = std::make_unique<Mesh>(mesh_options);
  schedules_on_mesh_ = 0;
  Status s = mesh_->Start();
  if (!s.ok()) return s.WithContext("bring-up in " + mesh_->run_dir());
  if (!mesh_->partitions_supported()) {
    out_ << "partitions skipped (process and ZooKeeper faults only): " << mesh_->netns_skip_reason() << "\n";
  }
  Quiet q = WaitQuiet(*mesh_, milliseconds(options_.quiesce_timeout_ms), [] {});
  if (!q.ok) return Status::DeadlineExceeded("bring-up did not quiesce:\n" + q.why + mesh_->DescribeLogs(20));
  out_ << "mesh up in " << std::fixed << std::setprecision(1) << SecondsSince(started) << " s: " << options_.clusters
       << " clusters (";
  for (int c = 0; c < mesh_->clusters(); ++c) {
    out_ << (c ? ", " : "") << mesh_->cluster_name(c) << ":";
    for (int g : mesh_->members(c)) out_ << " " << mesh_->gateway_name(g);
  }
  out_ << "), " << mesh_->arbiters() << " arbiters, "
       << (mesh_->partitions_supported() ? "network namespaces" : "loopback") << ", run dir " << mesh_->run_dir()
       << "\n"
       << std::flush;
  return Status::Ok();
}

int Runner::Run() {
  int failed = 0;
  const auto started = SteadyClock::now();
  for (int i = 0; i < options_.schedules; ++i) {
    const bool reuse_limit = options_.schedules_per_mesh > 0 && schedules_on_mesh_ >= options_.schedules_per_mesh;
    if (!mesh_ || reuse_limit) {
      Status up = BringUp();
      if (!up.ok()) {
        out_ << "FAILED to bring the mesh up: " << up << "\n";
        if (mesh_) mesh_->Keep();
        mesh_.reset();
        ++failed;
        if (!options_.keep_going) break;
        continue;
      }
    }
    const uint64_t seed = options_.seed + static_cast<uint64_t>(i);
    ScheduleOutcome outcome = RunSchedule(i, seed);
    ++schedules_on_mesh_;
    if (!outcome.ok) ++failed;
    if (outcome.mesh_suspect) {
      mesh_->Keep();
      out_ << "  (mesh kept in " << mesh_->run_dir() << "; a new one is brought up)\n";
      mesh_.reset();
    }
    if (!outcome.ok && !options_.keep_going) break;
  }
  if (mesh_ && options_.keep_run_dirs) {
    mesh_->Keep();
    out_ << "run dir kept: " << mesh_->run_dir() << "\n";
  }
  mesh_.reset();
  out_ << "\n=== " << options_.schedules << " schedules, " << failed << " failed, " << std::fixed << std::setprecision(1)
       << SecondsSince(started) << " s (seed " << options_.seed << ") ===\n";
  out_ << "ops:";
  for (const auto& [what, n] : stats_) out_ << " [" << what << ": " << n << "]";
  out_ << "\nallowed by the design, weaker than linearizable (counted, not violations):\n";
  if (allowed_.empty()) out_ << "  none\n";
  for (const auto& [what, n] : allowed_) out_ << "  " << n << " " << what << "\n";
  out_ << std::flush;
  return failed;
}

Runner::ScheduleOutcome Runner::RunSchedule(int index, uint64_t seed) {
  Mesh& mesh = *mesh_;
  ScheduleOutcome outcome;
  const auto began = SteadyClock::now();
  std::mt19937_64 rng(seed);
  NemesisOptions nemesis_options = options_.nemesis;
  nemesis_options.duration_ms = options_.duration_ms;
  nemesis_options.partitions = mesh.partitions_supported();
  const std::vector<Fault> faults = DrawSchedule(rng, nemesis_options, mesh.clusters());
  std::ostringstream plan;
  for (const Fault& f : faults) plan << "    " << Describe(f) << "\n";
  out_ << "schedule " << index + 1 << "/" << options_.schedules << " seed " << seed << ": " << faults.size()
       << " faults\n"
       << plan.str() << std::flush;

  History history;
  Monitor monitor(mesh, history);
  monitor.Start();
  std::vector<std::string> keys;
  for (int k = 0; k < options_.keys; ++k) keys.push_back("s" + std::to_string(seed) + "k" + std::to_string(k));
  std::vector<std::unique_ptr<Client>> clients;
  for (int c = 0; c < mesh.clusters(); ++c) {
    for (int j = 0; j < options_.clients_per_cluster; ++j) {
      ClientOptions co;
      co.cluster = c;
      co.client = j;
      co.tag_prefix = "s" + std::to_string(seed) + "/";
      co.keys = keys;
      co.seed = rng();
      co.dimension = options_.mesh.dimension;
      clients.push_back(std::make_unique<Client>(mesh, history, co));
    }
  }
  std::vector<std::string> extra;  // violations found outside the history
  auto collect = [&] {
    for (auto& e : mesh.CollectUnexpectedExits()) extra.push_back("process crash: " + e);
  };

  const auto origin = SteadyClock::now();
  for (auto& c : clients) c->Start();
  Nemesis nemesis(mesh, faults, rng());
  nemesis.Run(origin, collect);
  while (SteadyClock::now() < origin + milliseconds(options_.duration_ms)) {
    collect();
    std::this_thread::sleep_for(milliseconds(20));  // the schedule's clock
  }
  collect();
  for (auto& p : nemesis.HealEverything()) extra.push_back("heal: " + p);
  const auto healed = SteadyClock::now();
  while (SteadyClock::now() < healed + milliseconds(options_.settle_ms)) {
    collect();
    std::this_thread::sleep_for(milliseconds(20));  // clients run on after the heal
  }
  for (auto& c : clients) c->Stop();
  const auto clients_stopped = SteadyClock::now();

  Quiet quiet = WaitQuiet(mesh, milliseconds(options_.quiesce_timeout_ms), [&] {
    collect();
    // A process that crashed after the heal is started again so that the
    // mesh can quiesce (the crash is already a violation).
    for (auto& p : nemesis.HealEverything()) extra.push_back("heal: " + p);
  });
  const double quiesce_s = SecondsSince(clients_stopped);
  if (!quiet.ok) {
    extra.push_back("no quiescence within " + std::to_string(options_.quiesce_timeout_ms / 1000) +
                    " s after the heal:\n" + quiet.why);
    outcome.mesh_suspect = true;
  }

  CheckInput input;
  input.cluster_names = mesh.cluster_names();
  input.gateway_names = mesh.gateway_names();
  input.gateway_cluster = mesh.gateway_clusters();
  input.keys = keys;
  input.origin = origin;
  input.final_state.resize(mesh.clusters());
  input.final_digests = quiet.digests;
  if (quiet.ok) {
    for (int c = 0; c < mesh.clusters(); ++c) {
      auto channel = mesh.NewChannel(quiet.actives[c]);
      for (const std::string& key : keys) {
        auto got = ReadFinal(mesh, channel, key, options_.mesh.dimension);
        if (!got.ok()) {
          extra.push_back("cannot read the final state of " + key + " in " + mesh.cluster_name(c) + ": " +
                          got.status().ToString());
          outcome.mesh_suspect = true;
        } else if (got->found) {
          input.final_state[c][key] = *got;
        }
      }
    }
  }
  monitor.Stop();
  input.ops = history.ops();
  input.gateway_observations = history.gateway_observations();
  input.cluster_observations = history.cluster_observations();

  if (!quiet.ok) {
    // Without an end state only the history's own checks (reads, epochs)
    // mean anything.
    input.keys.clear();
    input.final_digests.clear();
  }
  CheckReport report = Check(input);
  for (auto& e : extra) report.violations.insert(report.violations.begin(), e);
  for (const auto& [what, n] : report.allowed) allowed_[what] += n;
  for (const auto& [what, n] : report.stats) stats_[what] += n;

  // Epochs at the start and the end, per cluster (failovers seen).
  std::ostringstream epochs;
  for (int c = 0; c < mesh.clusters(); ++c) {
    uint64_t first = 0, last = 0;
    bool seen = false;
    for (const auto& o : input.cluster_observations) {
      if (o.cluster != c) continue;
      if (!seen) first = o.epoch;
      last = o.epoch;
      seen = true;
    }
    epochs << (c ? ", " : "") << mesh.cluster_name(c) << " " << first << "->" << last;
  }
  uint64_t writes_ok = 0, writes_unknown = 0, writes_failed = 0, reads_ok = 0;
  for (const Op& op : input.ops) {
    if (IsWrite(op.type)) {
      writes_ok += op.outcome == Outcome::kOk;
      writes_unknown += op.outcome == Outcome::kUnknown || op.outcome == Outcome::kPending;
      writes_failed += op.outcome == Outcome::kFail;
    } else {
      reads_ok += op.outcome == Outcome::kOk;
    }
  }
  if (report.ok()) {
    for (const auto& line : nemesis.executed()) out_ << "    " << line << "\n";
  }
  out_ << "  " << (report.ok() ? "ok" : "FAILED") << " in " << std::fixed << std::setprecision(1)
       << SecondsSince(began) << " s (quiesced " << quiesce_s << " s after the clients stopped): " << input.ops.size()
       << " ops, writes " << writes_ok << " ok / " << writes_unknown << " unknown / " << writes_failed
       << " refused, reads " << reads_ok << " answered; epochs " << epochs.str() << "\n";
  if (!report.ok()) {
    std::ostringstream text;
    text << "  seed " << seed << "; replay: scripts/chaos --seed " << seed << " --schedules 1 --clusters "
         << options_.clusters << " --duration-s " << options_.duration_ms / 1000.0
         << (options_.use_netns ? "" : " --no-netns") << (schedules_on_mesh_ > 0 ? " (this run reused the mesh of the schedules before; a replay starts a fresh one)" : "") << "\n";
    text << "  fault schedule as planned:\n" << plan.str();
    text << "  as executed:\n";
    for (const auto& line : nemesis.executed()) text << "    " << line << "\n";
    text << "  " << report.violations.size() << " violation(s):\n";
    size_t shown = 0;
    for (const auto& v : report.violations) {
      if (shown++ == 30) {
        text << "    ... " << report.violations.size() - 30 << " more\n";
        break;
      }
      text << "  * " << v << "\n";
    }
    if (!report.keys.empty() || !report.clusters.empty()) {
      text << "  minimal log (ops on the keys involved, epoch and role changes of the clusters involved):\n"
           << MinimalLog(input, report.keys, report.clusters);
    }
    text << "  logs: " << mesh.run_dir() << "\n";
    out_ << text.str();
    outcome.ok = false;
    outcome.mesh_suspect = true;  // keep its logs
  }
  out_ << std::flush;
  return outcome;
}

}  // namespace baton::chaos
