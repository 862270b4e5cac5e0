#include "arbiter/arbiter.h"

#include <unistd.h>

#include <algorithm>

#include <nlohmann/json.hpp>
#include <spdlog/fmt/fmt.h>
#include <spdlog/fmt/ranges.h>
#include <spdlog/spdlog.h>

#include "arbiter/mirror_targets.h"
#include "arbiter/status_page.h"
#include "arbiter/status_view.h"

namespace baton::arbiter {
namespace {

std::string ReplicaId(const Config& config) {
  if (!config.GetString("arbiter.id").empty()) return config.GetString("arbiter.id");
  char host[256] = {};
  if (::gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "arbiter");
  const std::string& listen = config.GetString("grpc.listen");
  return std::string(host) + ":" + listen.substr(listen.rfind(':') + 1);
}

std::string OrDefault(const std::string& value, const std::string& fallback) {
  return value.empty() ? fallback : value;
}

// How often a follower re-reads who leads (the agent it names is told once).
constexpr auto kLeaderRefresh = std::chrono::milliseconds(250);

}  // namespace

Arbiter::Arbiter(const Config& config, Clock& clock)
    : config_(config),
      clock_(clock),
      id_(ReplicaId(config)),
      advertise_grpc_(OrDefault(config.GetString("arbiter.advertise_grpc"), config.GetString("grpc.listen"))),
      root_(config.GetString("zookeeper.root")),
      metrics_("arbiter"),
      book_(ClusterBookOptions{
          .timing = {.lease = std::chrono::milliseconds(config.GetInt("lease_ms")),
                     .lease_margin = std::chrono::milliseconds(config.GetInt("lease_margin_ms"))},
          .lease_ms = static_cast<uint32_t>(config.GetInt("lease_ms")),
          .failsafe = config.GetBool("failsafe")}) {
  own_info_ = LeaderInfo{id_,
                         OrDefault(config.GetString("arbiter.advertise_http"), config.GetString("http.listen")),
                         advertise_grpc_};
  RegisterMetrics();
}

void Arbiter::RegisterMetrics() {
  auto& registry = metrics_.registry();
  zk_connected_gauge_ = &prometheus::BuildGauge()
                             .Name("baton_arbiter_zookeeper_connected")
                             .Help("1 while this replica has a live ZooKeeper session")
                             .Register(registry)
                             .Add({});
  leader_gauge_ = &prometheus::BuildGauge()
                       .Name("baton_arbiter_leader")
                       .Help("1 while this replica is the leader")
                       .Register(registry)
                       .Add({});
  agents_gauge_ = &prometheus::BuildGauge()
                       .Name("baton_arbiter_agents_connected")
                       .Help("Agent heartbeat streams open on this replica")
                       .Register(registry)
                       .Add({});
  heartbeats_ = &prometheus::BuildCounter()
                     .Name("baton_arbiter_heartbeats_total")
                     .Help("Heartbeats received from agents")
                     .Register(registry)
                     .Add({});
  heartbeat_seconds_ = &prometheus::BuildHistogram()
                            .Name("baton_arbiter_heartbeat_duration_seconds")
                            .Help("Time to process one heartbeat and build its answer")
                            .Register(registry)
                            .Add({}, prometheus::Histogram::BucketBoundaries{0.00001, 0.00005, 0.0001, 0.0005,
                                                                             0.001, 0.005, 0.01, 0.02, 0.05});
  failover_seconds_ = &prometheus::BuildHistogram()
                           .Name("baton_arbiter_failover_duration_seconds")
                           .Help("From detecting a failed active to the new active reporting as active")
                           .Register(registry)
                           .Add({}, prometheus::Histogram::BucketBoundaries{0.05, 0.1, 0.2, 0.3, 0.5, 1, 2, 3,
                                                                            5, 10});
  promotions_ = &prometheus::BuildCounter()
                     .Name("baton_arbiter_promotions_total")
                     .Help("Promotions persisted by this replica, by reason")
                     .Register(registry);
  // Every reason shows from the start, at 0, so rates and alerts see it.
  for (PromotionReason reason : {PromotionReason::kBootstrap, PromotionReason::kProcessGone,
                                 PromotionReason::kLeaseExpired, PromotionReason::kSwitchover,
                                 PromotionReason::kManualFailover}) {
    promotions_->Add({{"reason", std::string(PromotionReasonName(reason))}});
  }
  state_writes_ = &prometheus::BuildCounter()
                       .Name("baton_arbiter_state_writes_total")
                       .Help("Guarded cluster state writes to ZooKeeper, by result")
                       .Register(registry);
}

Arbiter::~Arbiter() { Stop(); }

Status Arbiter::Start() {
  // Bad seeds fail the start, naming the key, rather than the first election.
  auto seeds = ParseSeedTargets(config_.GetStringList("mirror.targets"));
  if (!seeds.ok()) return seeds.status();
  seed_targets_ = std::move(seeds).value();
  const std::string listen = config_.GetString("grpc.listen");
  int selected_port = 0;
  grpc::ServerBuilder builder;
  builder.AddListeningPort(listen, grpc::InsecureServerCredentials(), &selected_port);
  builder.RegisterService(&agent_service_);
  grpc_ = builder.BuildAndStart();
  if (!grpc_ || selected_port == 0) return Status::Unavailable("grpc.listen: cannot listen on " + listen);
  grpc_port_ = static_cast<uint16_t>(selected_port);

  HttpServerOptions http_options;
  http_options.listen_address = config_.GetString("http.listen");
  http_options.bearer_token = config_.GetString("api.token");
  http_options.metrics = &metrics_;
  http_options.ready = [this] { return zookeeper_connected(); };
  // Switchover and failover calls hold a worker until they complete.
  http_options.threads = 16;
  Router router;
  AddRestRoutes(router, *this, RestOptions{.status_page_html = std::string(StatusPageHtml())});
  auto http = HttpServer::Start(http_options, std::move(router));
  if (!http.ok()) return http.status().WithContext("http.listen");
  http_ = std::move(http).value();
  spdlog::info("arbiter {}: grpc on port {}, http on port {}", id_, grpc_port_, http_->port());
  supervisor_ = std::thread([this] { SupervisorLoop(); });
  decider_ = std::thread([this] { DecisionLoop(); });
  publisher_ = std::thread([this] { PublishLoop(); });
  return Status::Ok();
}

void Arbiter::Stop() {
  if (stopping_.exchange(true)) return;
  {
    MutexLock lock(&mu_);
    supervisor_cv_.SignalAll();
    decider_cv_.SignalAll();
    publisher_cv_.SignalAll();
  }
  if (supervisor_.joinable()) supervisor_.join();
  if (decider_.joinable()) decider_.join();
  if (publisher_.joinable()) publisher_.join();
  // Open agent streams would hold Shutdown() forever without a deadline.
  if (grpc_) grpc_->Shutdown(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
  if (http_) http_->Stop();
  book_.Resign();
  DropSession();  // closes the session: our election znode goes at once
}

void Arbiter::DropSession() {
  std::unique_ptr<Election> election;
  std::shared_ptr<ZkClient> zk;
  {
    MutexLock lock(&mu_);
    election = std::move(election_);
    zk = std::move(zk_);
    election_path_.clear();
  }
  // Outside mu_: the client's destructor waits for a running callback, and
  // callbacks take mu_.
  election.reset();
  zk.reset();
}

uint16_t Arbiter::http_port() const { return http_ ? http_->port() : 0; }

bool Arbiter::Connect() {
  std::string connect;
  for (const auto& server : config_.GetStringList("zookeeper.connect")) {
    connect += (connect.empty() ? "" : ",") + server;
  }
  ZkOptions options;
  options.connect_string = connect;
  options.session_timeout_ms = static_cast<int>(config_.GetInt("zookeeper.session_timeout_ms"));
  options.on_state = [this](ZkState state) {
    const bool connected = state == ZkState::kConnected;
    zk_connected_ = connected;
    zk_connected_gauge_->Set(connected ? 1 : 0);
    spdlog::info("zookeeper {}", ZkStateName(state));
    MutexLock lock(&mu_);
    events_.state_changed = true;
    supervisor_cv_.SignalAll();
  };
  auto client = ZkClient::ConnectWithRetry(options, [this] { return stopping_.load(); });
  if (!client.ok()) return false;  // stopping
  std::shared_ptr<ZkClient> zk = std::move(client).value();
  zk_connected_ = zk->state() == ZkState::kConnected;
  zk_connected_gauge_->Set(zk_connected_ ? 1 : 0);
  spdlog::info("connected to zookeeper {} (session 0x{:x})", connect, zk->session_id());

  nlohmann::json data = {{"id", id_},
                         {"grpc", advertise_grpc_},
                         {"http", OrDefault(config_.GetString("arbiter.advertise_http"),
                                            config_.GetString("http.listen"))}};
  auto election = std::make_unique<Election>(*zk, root_ + "/arbiter/election", data.dump(), [this](bool) {
    MutexLock lock(&mu_);
    events_.election_changed = true;
    supervisor_cv_.SignalAll();
  });
  Election* joined = election.get();
  {
    MutexLock lock(&mu_);
    zk_ = zk;
    election_ = std::move(election);
  }
  if (Status s = joined->Start(); !s.ok()) {
    spdlog::warn("cannot join the election: {}", s.ToString());
    return true;  // the supervisor sees no election path and retries
  }
  MutexLock lock(&mu_);
  election_path_ = joined->own_path();
  return true;
}

void Arbiter::SupervisorLoop() {
  while (!stopping_) {
    bool need_connect;
    {
      MutexLock lock(&mu_);
      need_connect = zk_ == nullptr || election_path_.empty();
    }
    if (need_connect) {
      // A half-built session (election failed) is dropped and rebuilt.
      DropSession();
      if (!Connect()) return;
    }

    Events events;
    std::shared_ptr<ZkClient> zk;
    Election* election = nullptr;
    {
      MutexLock lock(&mu_);
      if (!events_.state_changed && !events_.election_changed && !stopping_) {
        supervisor_cv_.WaitFor(kLeaderRefresh);
      }
      events = events_;
      events_ = {};
      zk = zk_;
      election = election_.get();
    }
    if (stopping_ || !zk || !election) continue;

    const ZkState state = zk->state();
    if (state == ZkState::kExpired) {
      spdlog::warn("zookeeper session expired; resigning and starting a new session");
      book_.Resign();
      leader_gauge_->Set(0);
      MutexLock lock(&mu_);
      election_path_.clear();  // the next turn rebuilds client and election
      continue;
    }
    book_.SetConnected(state == ZkState::kConnected, clock_.Now());
    if (events.state_changed && state == ZkState::kConnected) election->Refresh();

    const bool leader = election->is_leader();
    if (leader && !book_.leading() && state == ZkState::kConnected) {
      if (Status s = TakeLeadership(*zk); !s.ok()) {
        spdlog::warn("cannot take leadership yet: {}", s.ToString());
      }
    } else if (!leader && book_.leading()) {
      book_.Resign();
      leader_gauge_->Set(0);
      spdlog::info("arbiter {} resigned", id_);
    }
    if (!leader) RefreshLeaderAddress(*election);
    agents_gauge_->Set(static_cast<double>(agent_service_.open_streams()));
  }
}

Status Arbiter::TakeLeadership(ZkClient& zk) {
  StateStore store(zk, root_);
  const std::string path = election_path();
  if (!seed_targets_.empty()) {
    auto seeded = store.SeedMirrorTargets(path, seed_targets_);
    if (!seeded.ok()) return seeded.status().WithContext("seeding mirror.targets");
    for (const std::string& name : *seeded) {
      auto it = std::find_if(seed_targets_.begin(), seed_targets_.end(), [&](const auto& t) { return t.name == name; });
      spdlog::info("mirror target {} seeded from mirror.targets: {}", name, FormatMirrorTarget(*it));
      book_.AddEvent({.cluster = it->cluster,
                      .type = "mirror_target_set",
                      .fields = {{"target", name},
                                 {"addresses", it->addresses},
                                 {"message", fmt::format("mirror target {} -> {} at {} (seeded from mirror.targets)",
                                                         name, it->cluster, fmt::join(it->addresses, ","))}}});
    }
  }
  std::vector<Status> unreadable;
  auto targets = store.ListMirrorTargets(&unreadable);
  if (!targets.ok()) return targets.status().WithContext("reading the mirror targets");
  for (const Status& s : unreadable) spdlog::warn("mirror target left out: {}", s.message());
  std::vector<MirrorTargetSpec> specs;
  for (StoredMirrorTarget& target : *targets) specs.push_back(std::move(target.spec));
  auto clusters = store.ListClusters();
  if (!clusters.ok()) return clusters.status();
  std::map<std::string, ClusterState> states;
  std::map<std::string, ClusterConfig> configs;
  for (const std::string& cluster : *clusters) {
    auto state = store.LoadState(cluster);
    if (!state.ok()) return state.status();
    auto config = store.LoadConfig(cluster);
    if (!config.ok()) return config.status();
    states[cluster] = std::move(state).value();
    configs[cluster] = std::move(config).value();
  }
  const size_t target_count = specs.size();
  book_.Lead(clock_.Now(), std::move(states), std::move(configs), std::move(specs));
  leader_gauge_->Set(1);
  spdlog::info("arbiter {} leads ({} clusters, {} mirror targets); no promotion before one lease ({} ms) has passed",
               id_, clusters->size(), target_count, config_.GetInt("lease_ms"));
  return Status::Ok();
}

void Arbiter::ReloadMirrorTargets() {
  if (!book_.leading()) return;
  auto zk = zookeeper();
  if (!zk.ok()) return;  // the publisher's next turn tries again
  StateStore store(**zk, root_);
  MutexLock lock(&reload_mu_);
  std::vector<Status> unreadable;
  auto targets = store.ListMirrorTargets(&unreadable);
  // Said once per distinct problem, not at every periodic reload.
  std::string problems;
  for (const Status& s : unreadable) problems += (problems.empty() ? "" : "; ") + s.message();
  if (!targets.ok()) problems = targets.status().ToString();
  if (problems != last_reload_problem_ && !problems.empty()) {
    spdlog::warn("mirror targets: {} ({})", problems,
                 targets.ok() ? "left out of the assignments" : "the last ones read stay in force");
  }
  last_reload_problem_ = problems;
  if (!targets.ok()) return;
  std::vector<MirrorTargetSpec> specs;
  for (StoredMirrorTarget& target : *targets) specs.push_back(std::move(target.spec));
  const size_t count = specs.size();
  if (book_.SetMirrorTargets(std::move(specs), clock_.Now())) {
    spdlog::info("mirror targets changed ({} now); new assignments go to the clusters concerned", count);
  }
}

void Arbiter::RefreshLeaderAddress(Election& election) {
  std::optional<LeaderInfo> info;
  auto data = election.ReadLeaderData();
  if (data.ok()) {
    auto json = nlohmann::json::parse(*data, nullptr, /*allow_exceptions=*/false);
    if (json.is_object()) {
      auto text = [&json](const char* key) {
        return json.contains(key) && json[key].is_string() ? json[key].get<std::string>() : std::string();
      };
      info = LeaderInfo{text("id"), text("http"), text("grpc")};
    }
  }
  MutexLock lock(&mu_);
  if (!data.ok() && data.status().code() == StatusCode::kUnavailable) return;  // keep what we knew
  leader_ = info;
  leader_grpc_address_ = info ? info->grpc : std::string();
}

std::optional<LeaderInfo> Arbiter::leader() const {
  if (book_.leading()) return own_info_;
  MutexLock lock(&mu_);
  return leader_;
}

Result<std::shared_ptr<ZkClient>> Arbiter::zookeeper() const {
  std::shared_ptr<ZkClient> zk;
  {
    MutexLock lock(&mu_);
    zk = zk_;
  }
  if (!zk || zk->state() != ZkState::kConnected) {
    return Status::Unavailable("this arbiter replica is not connected to ZooKeeper");
  }
  return zk;
}

std::string Arbiter::election_path() const {
  MutexLock lock(&mu_);
  return election_path_;
}

v1::HeartbeatResponse Arbiter::OnHeartbeat(const v1::Heartbeat& heartbeat, uint64_t stream_id) {
  const MonoTime start = RealClock().Now();
  heartbeats_->Increment();
  HeartbeatOutcome outcome = book_.OnHeartbeat(heartbeat, clock_.Now(), stream_id);
  outcome.response.set_arbiter_id(id_);
  if (!book_.leading()) {
    MutexLock lock(&mu_);
    if (leader_grpc_address_ != advertise_grpc_) outcome.response.set_leader_address(leader_grpc_address_);
  }
  if (outcome.failover_duration.count() > 0) {
    const double seconds = std::chrono::duration<double>(outcome.failover_duration).count();
    failover_seconds_->Observe(seconds);
    spdlog::info("failover complete cluster={} instance={} epoch={} ({:.0f} ms after detection)",
                 outcome.completed_cluster, heartbeat.instance_id(), heartbeat.epoch(), seconds * 1000);
  }
  if (heartbeat.gateway_process_gone()) {
    MutexLock lock(&mu_);
    decide_now_ = true;
    decider_cv_.SignalAll();
  }
  heartbeat_seconds_->Observe(std::chrono::duration<double>(RealClock().Now() - start).count());
  return outcome.response;
}

void Arbiter::OnStreamClosed(const std::string& cluster, const std::string& instance, uint64_t stream_id) {
  if (!instance.empty()) book_.OnStreamClosed(cluster, instance, stream_id);
}

void Arbiter::DecisionLoop() {
  const auto interval = std::chrono::milliseconds(config_.GetInt("decision_interval_ms"));
  while (!stopping_) {
    {
      MutexLock lock(&mu_);
      if (!decide_now_ && !stopping_) decider_cv_.WaitFor(interval);
      decide_now_ = false;
    }
    if (stopping_) return;
    for (const PendingChange& change : book_.Decide(clock_.Now())) Persist(change);
    SendPushes();
  }
}

void Arbiter::SendPushes() {
  for (StreamPush& push : book_.TakePushes()) {
    push.response.set_arbiter_id(id_);
    agent_service_.Push(push.stream_id, std::move(push.response));
  }
}

void Arbiter::Persist(const PendingChange& change) {
  std::shared_ptr<ZkClient> zk;
  std::string election_path;
  {
    MutexLock lock(&mu_);
    zk = zk_;
    election_path = election_path_;
  }
  if (!zk) {
    book_.Abandoned(change.cluster, std::nullopt);
    return;
  }
  StateStore store(*zk, root_);
  auto written = store.WriteState(election_path, change.cluster, change.state);
  if (written.ok()) {
    state_writes_->Add({{"result", "ok"}}).Increment();
    book_.Committed(change, *written, clock_.Now());
    SendPushes();  // the new assignments go out before anything else
    if (change.decision.promotion) {
      promotions_->Add({{"reason", std::string(PromotionReasonName(*change.decision.promotion))}}).Increment();
      spdlog::info("promoted cluster={} instance={} epoch={}: {}", change.cluster, change.state.active,
                   change.state.epoch, change.decision.reason);
    } else {
      spdlog::info("cluster={} state changed: {}", change.cluster, change.decision.reason);
    }
    return;
  }
  state_writes_->Add({{"result", std::string(StatusCodeName(written.status().code()))}}).Increment();
  spdlog::warn("cluster={}: cannot persist ({}): {}", change.cluster, change.decision.reason,
               written.status().ToString());
  // Whatever happened, ZooKeeper is the truth: read it back before deciding
  // again (an UNAVAILABLE write may have been applied).
  auto reloaded = store.LoadState(change.cluster);
  book_.Abandoned(change.cluster,
                  reloaded.ok() ? std::optional<ClusterState>(std::move(reloaded).value()) : std::nullopt);
}

void Arbiter::PublishLoop() {
  const auto interval = std::chrono::milliseconds(config_.GetInt("status.publish_interval_ms"));
  while (!stopping_) {
    {
      MutexLock lock(&mu_);
      if (!stopping_) publisher_cv_.WaitFor(interval);
    }
    if (stopping_) return;
    if (!book_.leading()) continue;
    auto zk = zookeeper();
    if (!zk.ok()) continue;
    StateStore store(**zk, root_);
    const std::string path = election_path();
    ReloadMirrorTargets();
    PublishEvents(store, path);
    const MonoTime now = clock_.Now();
    const int64_t now_ms = WallNowMs();
    for (const auto& [name, observation] : book_.Observe(now)) {
      nlohmann::json view = ClusterView(name, observation, now);
      view["as_of_ms"] = now_ms;
      if (Status s = store.WriteObserved(path, name, view.dump()); !s.ok()) {
        spdlog::debug("cluster={}: cannot publish the observation: {}", name, s.ToString());
      }
    }
  }
}

void Arbiter::PublishEvents(StateStore& store, const std::string& election_path) {
  std::vector<ClusterEvent> events = book_.TakeEvents();
  if (events.empty()) return;
  std::vector<std::string> encoded;
  encoded.reserve(events.size());
  for (const ClusterEvent& event : events) encoded.push_back(EncodeEvent(event));
  if (Status s = store.AppendEvents(election_path, encoded); !s.ok()) {
    spdlog::warn("cannot record {} events in ZooKeeper (kept for the next attempt): {}", events.size(), s.ToString());
    // A failed multi wrote none of its batch; earlier batches may be in, so
    // an event can be recorded twice, never lost while this replica leads.
    for (ClusterEvent& event : events) book_.AddEvent(std::move(event));
    return;
  }
  events_since_trim_ += events.size();
  const auto keep = static_cast<size_t>(config_.GetInt("events.max_history"));
  if (events_since_trim_ >= std::max<size_t>(1, keep / 10)) {
    events_since_trim_ = 0;
    if (Status s = store.TrimEvents(keep); !s.ok()) spdlog::warn("cannot trim the event history: {}", s.ToString());
  }
}

}  // namespace baton::arbiter
