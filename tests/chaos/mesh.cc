#include "tests/chaos/mesh.h"

#include <signal.h>
#include <stdlib.h>

#include <filesystem>
#include <fstream>
#include <set>

#include <nlohmann/json.hpp>

#include "common/process.h"
#include "tests/support/test_util.h"

namespace baton::chaos {
namespace {

using baton::testing::BinaryPath;
using baton::testing::Daemon;
using std::chrono::milliseconds;

constexpr const char* kZookeeperRoot = "/baton-chaos";

std::string Tail(const std::string& path, size_t lines) {
  std::ifstream in(path);
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(line);
  std::string text;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) text += "    " + all[i] + "\n";
  return text;
}


std::string MakeRunDir() {
  const char* tmp = std::getenv("TMPDIR");
  std::string pattern = std::string(tmp && *tmp ? tmp : "/tmp") + "/baton-chaos-XXXXXX";
  if (::mkdtemp(pattern.data()) == nullptr) {
    std::perror("mkdtemp");
    std::abort();
  }
  return pattern;
}

}  // namespace

Mesh::Mesh(MeshOptions options) : options_(std::move(options)), run_dir_(MakeRunDir()) {
  members_.resize(options_.clusters);
  std::set<uint16_t> taken;
  auto pick = [&] {
    uint16_t port = baton::testing::PickFreePort();
    while (!taken.insert(port).second) port = baton::testing::PickFreePort();
    return port;
  };
  for (int c = 0; c < options_.clusters; ++c) {
    const int size = c < static_cast<int>(options_.gateways_per_cluster.size()) ? options_.gateways_per_cluster[c] : 2;
    for (int i = 0; i < size; ++i) {
      GatewayHost h;
      h.cluster = c;
      h.host = static_cast<int>(gateways_.size());
      h.grpc_port = pick();
      h.http_port = pick();
      h.agent_http_port = pick();
      const std::string name = gateway_name(h.host);
      h.data_dir = run_dir_ + "/" + name + "-data";
      h.pid_file = run_dir_ + "/" + name + ".pid";
      h.gateway.log_path = run_dir_ + "/" + name + ".log";
      h.agent.log_path = run_dir_ + "/agent-" + name + ".log";
      members_[c].push_back(h.host);
      gateways_.push_back(std::move(h));
    }
  }
  arbiters_.resize(options_.arbiters);
  for (int a = 0; a < options_.arbiters; ++a) {
    arbiters_[a].grpc_port = pick();
    arbiters_[a].http_port = pick();
    arbiters_[a].log_path = run_dir_ + "/arbiter-" + arbiter_name(a) + ".log";
  }
  zookeeper_ = std::make_unique<baton::testing::ZookeeperServer>();
}

Mesh::~Mesh() {
  // Agents first (they would report the gateways gone), then the rest; every
  // Daemon's destructor SIGKILLs its process group and reaps it.
  for (auto& h : gateways_) h.agent.daemon.reset();
  for (auto& h : gateways_) h.gateway.daemon.reset();
  for (auto& a : arbiters_) a.daemon.reset();
  zookeeper_.reset();
  {
    MutexLock lock(&zk_mu_);
    zk_.reset();
  }
  network_.reset();
  if (!keep_) {
    std::error_code ec;
    std::filesystem::remove_all(run_dir_, ec);
  }
}

Status Mesh::Start() {
  if (options_.use_netns) {
    auto network = Network::Create(gateways(), 1 + options_.arbiters, run_dir_ + "/network.log");
    if (network.ok()) {
      network_ = std::move(network).value();
    } else {
      netns_skip_reason_ = network.status().ToString();
    }
  } else {
    netns_skip_reason_ = "network namespaces not asked for (--no-netns)";
  }
  for (auto& h : gateways_) h.ip = network_ ? network_->host_ip(h.host) : "127.0.0.1";
  for (int a = 0; a < options_.arbiters; ++a) arbiters_[a].ip = network_ ? network_->root_ip(1 + a) : "127.0.0.1";
  for (int g = 0; g < gateways(); ++g) state_channels_.push_back(NewChannel(g));

  BATON_RETURN_IF_ERROR(zookeeper_->Start());
  for (int a = 0; a < options_.arbiters; ++a) BATON_RETURN_IF_ERROR(StartArbiter(a));
  for (int g = 0; g < gateways(); ++g) BATON_RETURN_IF_ERROR(StartGateway(g));
  for (int g = 0; g < gateways(); ++g) BATON_RETURN_IF_ERROR(StartAgent(g));
  for (int g = 0; g < gateways(); ++g) {
    std::string last;
    const bool answered = baton::testing::WaitFor(
        [&] {
          auto state = GetState(g, milliseconds(500));
          if (!state.ok()) last = state.status().ToString();
          return state.ok() || !gateway_up(g);
        },
        std::chrono::seconds(60), milliseconds(50));
    if (!answered || !gateway_up(g)) {
      return Status::Unavailable(gateway_name(g) + " does not answer GetState: " + last + "\n" +
                                 Tail(gateways_[g].gateway.log_path, 30));
    }
  }
  return Status::Ok();
}

std::string Mesh::gateway_address(int g) const {
  return gateways_[g].ip + ":" + std::to_string(gateways_[g].grpc_port);
}

int Mesh::GatewayByAddress(const std::string& address) const {
  for (int g = 0; g < gateways(); ++g) {
    if (gateway_address(g) == address) return g;
  }
  return -1;
}

std::vector<std::string> Mesh::cluster_names() const {
  std::vector<std::string> names;
  for (int c = 0; c < clusters(); ++c) names.push_back(cluster_name(c));
  return names;
}

std::vector<std::string> Mesh::gateway_names() const {
  std::vector<std::string> names;
  for (int g = 0; g < gateways(); ++g) names.push_back(gateway_name(g));
  return names;
}

std::vector<int> Mesh::gateway_clusters() const {
  std::vector<int> clusters;
  for (const auto& h : gateways_) clusters.push_back(h.cluster);
  return clusters;
}

std::shared_ptr<grpc::Channel> Mesh::NewChannel(int g) const {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  // Its own connection: a connection stuck behind a partition must not stall
  // the monitor and every client at once.
  args.SetInt(GRPC_ARG_USE_LOCAL_SUBCHANNEL_POOL, 1);
  return grpc::CreateCustomChannel(gateway_address(g), grpc::InsecureChannelCredentials(), args);
}

std::string Mesh::ArbiterAddresses() const {
  std::string text;
  for (int a = 0; a < options_.arbiters; ++a) {
    text += (a ? "," : "") + arbiters_[a].ip + ":" + std::to_string(arbiters_[a].grpc_port);
  }
  return text;
}

std::string Mesh::MirrorSeeds() const {
  // One target per cluster, named after it: a full mesh (each cluster gets
  // every target but its own).
  std::string text;
  for (int c = 0; c < clusters(); ++c) {
    text += (c ? "," : "") + cluster_name(c) + "=" + cluster_name(c) + "@";
    for (size_t i = 0; i < members_[c].size(); ++i) text += (i ? "+" : "") + gateway_address(members_[c][i]);
  }
  return text;
}

Result<Daemon> Mesh::Spawn(int host, std::vector<std::string> argv, const std::string& log_path) {
  if (network_ && host >= 0) argv = network_->Wrap(host, std::move(argv));
  const std::string binary = argv.front();
  argv.erase(argv.begin());
  return baton::testing::StartDaemon(binary, std::move(argv), log_path);
}

Status Mesh::StartGateway(int g) {
  GatewayHost& h = gateways_[g];
  if (h.gateway.daemon) return Status::FailedPrecondition(gateway_name(g) + " is running");
  std::vector<std::string> argv = {BinaryPath("gateway/baton-gateway"),
                                   "--instance.id", gateway_name(g),
                                   "--instance.cluster", cluster_name(h.cluster),
                                   "--data_dir", h.data_dir,
                                   "--grpc.listen", gateway_address(g),
                                   "--http.listen", h.ip + ":" + std::to_string(h.http_port),
                                   "--index.dimension", std::to_string(options_.dimension),
                                   "--arbiter.addresses", ArbiterAddresses(),
                                   "--pid_file", h.pid_file,
                                   "--log.level", options_.log_level};
  argv.insert(argv.end(), options_.gateway_args.begin(), options_.gateway_args.end());
  std::ofstream(h.gateway.log_path, std::ios::app) << "=== chaos: start " << gateway_name(g) << " ===\n";
  BATON_ASSIGN_OR_RETURN(Daemon daemon, Spawn(h.host, std::move(argv), h.gateway.log_path));
  h.gateway.daemon.emplace(std::move(daemon));
  h.gateway.paused = false;
  return Status::Ok();
}

Status Mesh::StartAgent(int g) {
  GatewayHost& h = gateways_[g];
  if (h.agent.daemon) return Status::FailedPrecondition("agent of " + gateway_name(g) + " is running");
  std::vector<std::string> argv = {BinaryPath("instance-agent/baton-agent"),
                                   "--agent.gateway", gateway_address(g),
                                   "--agent.gateway_pid_file", h.pid_file,
                                   "--arbiter.addresses", ArbiterAddresses(),
                                   "--heartbeat_ms", std::to_string(options_.heartbeat_ms),
                                   "--http.listen", h.ip + ":" + std::to_string(h.agent_http_port),
                                   "--log.level", options_.log_level};
  std::ofstream(h.agent.log_path, std::ios::app) << "=== chaos: start agent of " << gateway_name(g) << " ===\n";
  BATON_ASSIGN_OR_RETURN(Daemon daemon, Spawn(h.host, std::move(argv), h.agent.log_path));
  h.agent.daemon.emplace(std::move(daemon));
  h.agent.paused = false;
  return Status::Ok();
}

Status Mesh::StartArbiter(int a) {
  Arbiter& arb = arbiters_[a];
  if (arb.daemon) return Status::FailedPrecondition("arbiter " + arbiter_name(a) + " is running");
  std::vector<std::string> argv = {BinaryPath("arbiter/baton-arbiter"),
                                   "--arbiter.id", arbiter_name(a),
                                   "--grpc.listen", arb.ip + ":" + std::to_string(arb.grpc_port),
                                   "--http.listen", "127.0.0.1:" + std::to_string(arb.http_port),
                                   "--zookeeper.connect", zookeeper_->connect_string(),
                                   "--zookeeper.root", kZookeeperRoot,
                                   "--zookeeper.session_timeout_ms", std::to_string(options_.zookeeper_session_timeout_ms),
                                   "--lease_ms", std::to_string(options_.lease_ms),
                                   "--mirror.targets", MirrorSeeds(),
                                   "--log.level", options_.log_level};
  std::ofstream(arb.log_path, std::ios::app) << "=== chaos: start arbiter " << arbiter_name(a) << " ===\n";
  BATON_ASSIGN_OR_RETURN(Daemon daemon, Spawn(-1, std::move(argv), arb.log_path));
  arb.daemon.emplace(std::move(daemon));
  arb.paused = false;
  return Status::Ok();
}

Status Mesh::Signal(std::optional<Daemon>& daemon, bool* paused, int signal, const std::string& what) {
  if (!daemon) return Status::FailedPrecondition(what + " is not running");
  ChildProcess& p = *daemon->process;
  if (signal == SIGKILL) {
    Status sent = p.Signal(SIGKILL);
    auto waited = p.Wait(std::chrono::seconds(10));
    daemon.reset();
    *paused = false;
    if (!sent.ok()) return sent;
    return waited.ok() ? Status::Ok() : waited.status();
  }
  BATON_RETURN_IF_ERROR(p.Signal(signal));
  *paused = signal == SIGSTOP;
  if (signal == SIGSTOP) {
    const pid_t pid = p.pid();
    if (!baton::testing::WaitFor([&] { return baton::testing::AllThreadsStopped(pid) || p.Exited(); }, milliseconds(5000),
                                 milliseconds(2))) {
      return Status::DeadlineExceeded(what + " (pid " + std::to_string(pid) + ") not stopped 5 s after SIGSTOP");
    }
  }
  return Status::Ok();
}

Status Mesh::KillGateway(int g) {
  return Signal(gateways_[g].gateway.daemon, &gateways_[g].gateway.paused, SIGKILL, gateway_name(g));
}
Status Mesh::PauseGateway(int g) {
  return Signal(gateways_[g].gateway.daemon, &gateways_[g].gateway.paused, SIGSTOP, gateway_name(g));
}
Status Mesh::ResumeGateway(int g) {
  return Signal(gateways_[g].gateway.daemon, &gateways_[g].gateway.paused, SIGCONT, gateway_name(g));
}
Status Mesh::KillAgent(int g) {
  return Signal(gateways_[g].agent.daemon, &gateways_[g].agent.paused, SIGKILL, "agent of " + gateway_name(g));
}
Status Mesh::PauseAgent(int g) {
  return Signal(gateways_[g].agent.daemon, &gateways_[g].agent.paused, SIGSTOP, "agent of " + gateway_name(g));
}
Status Mesh::ResumeAgent(int g) {
  return Signal(gateways_[g].agent.daemon, &gateways_[g].agent.paused, SIGCONT, "agent of " + gateway_name(g));
}
Status Mesh::KillArbiter(int a) {
  return Signal(arbiters_[a].daemon, &arbiters_[a].paused, SIGKILL, "arbiter " + arbiter_name(a));
}
Status Mesh::PauseArbiter(int a) {
  return Signal(arbiters_[a].daemon, &arbiters_[a].paused, SIGSTOP, "arbiter " + arbiter_name(a));
}
Status Mesh::ResumeArbiter(int a) {
  return Signal(arbiters_[a].daemon, &arbiters_[a].paused, SIGCONT, "arbiter " + arbiter_name(a));
}

void Mesh::StopZookeeper() { zookeeper_->Stop(); }
Status Mesh::StartZookeeper() { return zookeeper_->Start(); }

std::vector<std::string> Mesh::CollectUnexpectedExits() {
  std::vector<std::string> exits;
  auto check = [&](std::optional<Daemon>& daemon, const std::string& what, const std::string& log_path) {
    if (!daemon || !daemon->process->Exited()) return;
    auto status = daemon->process->Wait(milliseconds(0));
    exits.push_back(what + " exited by itself (" + (status.ok() ? DescribeWaitStatus(*status) : "?") + "); log " +
                    log_path + ":\n" + Tail(log_path, 25));
    daemon.reset();
  };
  for (int g = 0; g < gateways(); ++g) {
    check(gateways_[g].gateway.daemon, gateway_name(g), gateways_[g].gateway.log_path);
    check(gateways_[g].agent.daemon, "agent of " + gateway_name(g), gateways_[g].agent.log_path);
  }
  for (int a = 0; a < arbiters(); ++a) check(arbiters_[a].daemon, "arbiter " + arbiter_name(a), arbiters_[a].log_path);
  return exits;
}

Status Mesh::CutGateways(int a, int b) {
  if (!network_) return Status::FailedPrecondition("no network namespaces: " + netns_skip_reason_);
  BATON_RETURN_IF_ERROR(network_->Cut(gateways_[a].host, gateways_[b].ip));
  return network_->Cut(gateways_[b].host, gateways_[a].ip);
}

Status Mesh::CutFromArbiters(int g) {
  if (!network_) return Status::FailedPrecondition("no network namespaces: " + netns_skip_reason_);
  for (const Arbiter& a : arbiters_) BATON_RETURN_IF_ERROR(network_->Cut(gateways_[g].host, a.ip));
  return Status::Ok();
}

Status Mesh::HealGateways(int a, int b) {
  if (!network_) return Status::Ok();
  Status first = network_->Heal(gateways_[a].host, gateways_[b].ip);
  Status second = network_->Heal(gateways_[b].host, gateways_[a].ip);
  return first.ok() ? second : first;
}

Status Mesh::HealFromArbiters(int g) {
  if (!network_) return Status::Ok();
  Status result = Status::Ok();
  for (const Arbiter& a : arbiters_) {
    Status s = network_->Heal(gateways_[g].host, a.ip);
    if (result.ok() && !s.ok()) result = s;
  }
  return result;
}

Status Mesh::HealNetwork() { return network_ ? network_->HealAll() : Status::Ok(); }

Result<v1::GetStateResponse> Mesh::GetState(int g, milliseconds timeout) const {
  v1::GetStateResponse response;
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + timeout);
  auto stub = v1::GatewayControl::NewStub(state_channels_[g]);
  grpc::Status s = stub->GetState(&context, v1::GetStateRequest(), &response);
  if (!s.ok()) return Status(static_cast<StatusCode>(s.error_code()), gateway_name(g) + ": " + s.error_message());
  return response;
}

Result<ZkClient*> Mesh::Zk() const {
  if (zk_) return zk_.get();
  ZkOptions options;
  options.connect_string = zookeeper_->connect_string();
  options.connect_timeout_ms = 1000;
  BATON_ASSIGN_OR_RETURN(zk_, ZkClient::Connect(options));
  return zk_.get();
}

Result<arbiter::ClusterState> Mesh::ReadState(int c) const {
  MutexLock lock(&zk_mu_);
  BATON_ASSIGN_OR_RETURN(ZkClient * zk, Zk());
  auto node = zk->Get(std::string(kZookeeperRoot) + "/clusters/" + cluster_name(c) + "/state");
  if (!node.ok()) {
    if (node.status().code() != StatusCode::kNotFound) zk_.reset();  // reconnect next time
    return node.status();
  }
  return arbiter::DecodeClusterState(node->data);
}

Result<int> Mesh::LeaderArbiter() const {
  MutexLock lock(&zk_mu_);
  BATON_ASSIGN_OR_RETURN(ZkClient * zk, Zk());
  const std::string dir = std::string(kZookeeperRoot) + "/arbiter/election";
  auto children = zk->GetChildren(dir);
  if (!children.ok()) {
    zk_.reset();
    return children.status();
  }
  if (children->empty()) return Status::NotFound("no arbiter in the election");
  std::sort(children->begin(), children->end());
  auto node = zk->Get(dir + "/" + children->front());
  if (!node.ok()) return node.status();
  auto json = nlohmann::json::parse(node->data, nullptr, false);
  if (!json.is_object() || !json["id"].is_string()) return Status::Internal("bad election data: " + node->data);
  const std::string id = json["id"].get<std::string>();
  for (int a = 0; a < arbiters(); ++a) {
    if (id == arbiter_name(a)) return a;
  }
  return Status::NotFound("leader " + id + " is not one of this mesh's arbiters");
}

std::string Mesh::DescribeLogs(size_t lines) const {
  std::string text;
  for (int a = 0; a < arbiters(); ++a) {
    text += "--- " + arbiters_[a].log_path + "\n" + Tail(arbiters_[a].log_path, lines);
  }
  for (const auto& h : gateways_) {
    text += "--- " + h.gateway.log_path + "\n" + Tail(h.gateway.log_path, lines);
    text += "--- " + h.agent.log_path + "\n" + Tail(h.agent.log_path, lines);
  }
  return text;
}

}  // namespace baton::chaos
