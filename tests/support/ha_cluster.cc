#include "tests/support/ha_cluster.h"

#include <signal.h>

#include <fstream>
#include <iostream>
#include <sstream>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "common/zk_client.h"
#include "tests/support/test_util.h"

namespace baton::testing {
namespace {

using std::chrono::milliseconds;

std::string Tail(const std::string& path, size_t lines) {
  std::ifstream in(path);
  std::vector<std::string> all;
  for (std::string line; std::getline(in, line);) all.push_back(line);
  std::string text;
  for (size_t i = all.size() > lines ? all.size() - lines : 0; i < all.size(); ++i) text += all[i] + "\n";
  return text;
}

Status StopProc(std::optional<Daemon>& daemon, bool* paused) {
  if (!daemon) return Status::Ok();
  ChildProcess& p = *daemon->process;
  if (!p.Exited()) {
    (void)p.Signal(SIGCONT);
    (void)p.Signal(SIGTERM);
    if (!p.Wait(std::chrono::seconds(10)).ok()) {
      (void)p.Signal(SIGKILL);
      (void)p.Wait(std::chrono::seconds(10));
    }
  }
  daemon.reset();
  *paused = false;
  return Status::Ok();
}

Status KillProc(std::optional<Daemon>& daemon, bool* paused, const std::string& what) {
  if (!daemon) return Status::FailedPrecondition(what + " is not running");
  Status sent = daemon->process->Signal(SIGKILL);
  (void)daemon->process->Wait(std::chrono::seconds(10));
  daemon.reset();
  *paused = false;
  return sent;
}

}  // namespace

HaCluster::HaCluster(Options options) : options_(std::move(options)) {
  if (options_.zookeeper_connect.empty()) zookeeper_ = std::make_unique<ZookeeperServer>();
  arbiters_.resize(options_.arbiters);
  for (int i = 0; i < options_.arbiters; ++i) {
    arbiters_[i].grpc_port = PickFreePort();
    arbiters_[i].http_port = PickFreePort();
    arbiters_[i].log_path = dir_.Join("arbiter-a" + std::to_string(i + 1) + ".log");
  }
  GatewayCluster::Options gateway_options;
  gateway_options.size = options_.gateways;
  gateway_options.dimension = options_.dimension;
  gateway_options.cluster = options_.cluster;
  gateway_options.extra_args = {"--arbiter.addresses", ArbiterAddresses()};
  gateway_options.extra_args.insert(gateway_options.extra_args.end(), options_.gateway_args.begin(),
                                    options_.gateway_args.end());
  for (int i = 0; i < options_.gateways; ++i) gateway_options.member_args[i] = {"--pid_file", pid_file(i)};
  gateways_ = std::make_unique<GatewayCluster>(gateway_options);
  agents_.resize(options_.gateways);
  for (int i = 0; i < options_.gateways; ++i) {
    agents_[i].http_port = PickFreePort();
    agents_[i].log_path = dir_.Join("agent-g" + std::to_string(i + 1) + ".log");
  }
}

HaCluster::~HaCluster() {
  if (::testing::Test::HasFailure()) {
    std::cout << "--- arbiter and agent logs (" << dir_.path() << ") ---\n" << DescribeLogs(60) << std::endl;
  }
  for (auto& agent : agents_) (void)StopProc(agent.daemon, &agent.paused);
  gateways_.reset();
  for (auto& arbiter : arbiters_) (void)StopProc(arbiter.daemon, &arbiter.paused);
}

std::string HaCluster::pid_file(int i) const { return dir_.Join("g" + std::to_string(i + 1) + ".pid"); }

std::string HaCluster::zookeeper_connect() const {
  return zookeeper_ ? zookeeper_->connect_string() : options_.zookeeper_connect;
}

std::string HaCluster::arbiter_grpc_address(int i) const {
  return "127.0.0.1:" + std::to_string(arbiters_[i].grpc_port);
}

std::string HaCluster::ArbiterAddresses() const {
  std::string addresses;
  for (int i = 0; i < options_.arbiters; ++i) addresses += (i ? "," : "") + arbiter_grpc_address(i);
  return addresses;
}

Status HaCluster::Start(std::chrono::milliseconds timeout) {
  if (zookeeper_) BATON_RETURN_IF_ERROR(zookeeper_->Start());
  for (int i = 0; i < options_.arbiters; ++i) BATON_RETURN_IF_ERROR(StartArbiter(i));
  BATON_RETURN_IF_ERROR(gateways_->StartAll(GatewayCluster::Readiness::kHealthz));
  for (int i = 0; i < options_.gateways; ++i) BATON_RETURN_IF_ERROR(StartAgent(i));
  return WaitForActive(timeout).status();
}

Status HaCluster::WaitHealthy(const Proc& proc, const std::string& what) {
  const bool up = WaitFor(
      [&] {
        if (proc.daemon->process->Exited()) return true;
        auto got = HttpGet(proc.http_port, "/healthz", milliseconds(500));
        return got.ok() && got->first == 200;
      },
      std::chrono::seconds(30), milliseconds(20));
  if (!up || proc.daemon->process->Exited()) {
    return Status::Unavailable(what + " did not become healthy:\n" + Tail(proc.log_path, 30));
  }
  return Status::Ok();
}

Status HaCluster::StartArbiter(int i) {
  Proc& a = arbiters_[i];
  if (a.daemon) return Status::FailedPrecondition("arbiter a" + std::to_string(i + 1) + " is running");
  std::vector<std::string> args = {
      "--arbiter.id", "a" + std::to_string(i + 1),
      "--grpc.listen", arbiter_grpc_address(i),
      "--http.listen", "127.0.0.1:" + std::to_string(a.http_port),
      "--zookeeper.connect", zookeeper_connect(),
      "--zookeeper.root", zookeeper_root(),
      "--zookeeper.session_timeout_ms", std::to_string(options_.zookeeper_session_timeout_ms),
      "--lease_ms", std::to_string(options_.lease_ms),
      "--log.level", "debug"};
  args.insert(args.end(), options_.arbiter_args.begin(), options_.arbiter_args.end());
  {
    std::ofstream(a.log_path, std::ios::app) << "=== hacluster: start arbiter a" << i + 1 << " ===\n";
  }
  auto daemon = StartDaemon(BinaryPath("arbiter/baton-arbiter"), args, a.log_path);
  if (!daemon.ok()) return daemon.status();
  a.daemon = std::move(daemon).value();
  return WaitHealthy(a, "arbiter a" + std::to_string(i + 1));
}

Status HaCluster::KillArbiter(int i) {
  return KillProc(arbiters_[i].daemon, &arbiters_[i].paused, "arbiter a" + std::to_string(i + 1));
}

Status HaCluster::PauseArbiter(int i) {
  if (!arbiters_[i].daemon) return Status::FailedPrecondition("arbiter is not running");
  arbiters_[i].paused = true;
  return arbiters_[i].daemon->process->Signal(SIGSTOP);
}

Status HaCluster::ResumeArbiter(int i) {
  if (!arbiters_[i].daemon) return Status::FailedPrecondition("arbiter is not running");
  arbiters_[i].paused = false;
  return arbiters_[i].daemon->process->Signal(SIGCONT);
}

bool HaCluster::arbiter_running(int i) const {
  return arbiters_[i].daemon && !arbiters_[i].daemon->process->Exited();
}

Status HaCluster::StartAgent(int i) {
  Proc& a = agents_[i];
  if (a.daemon) return Status::FailedPrecondition("agent of g" + std::to_string(i + 1) + " is running");
  std::vector<std::string> args = {
      "--agent.gateway", gateways_->address(i),
      "--agent.gateway_pid_file", pid_file(i),
      "--arbiter.addresses", ArbiterAddresses(),
      "--heartbeat_ms", std::to_string(options_.heartbeat_ms),
      "--http.listen", "127.0.0.1:" + std::to_string(a.http_port),
      "--log.level", "debug"};
  args.insert(args.end(), options_.agent_args.begin(), options_.agent_args.end());
  if (auto extra = options_.agent_args_for.find(i); extra != options_.agent_args_for.end()) {
    args.insert(args.end(), extra->second.begin(), extra->second.end());
  }
  {
    std::ofstream(a.log_path, std::ios::app) << "=== hacluster: start agent of g" << i + 1 << " ===\n";
  }
  auto daemon = StartDaemon(BinaryPath("instance-agent/baton-agent"), args, a.log_path);
  if (!daemon.ok()) return daemon.status();
  a.daemon = std::move(daemon).value();
  return WaitHealthy(a, "agent of g" + std::to_string(i + 1));
}

Status HaCluster::KillAgent(int i) {
  return KillProc(agents_[i].daemon, &agents_[i].paused, "agent of g" + std::to_string(i + 1));
}

bool HaCluster::agent_running(int i) const { return agents_[i].daemon && !agents_[i].daemon->process->Exited(); }

Result<arbiter::ClusterState> HaCluster::ReadState() const {
  ZkOptions options;
  options.connect_string = zookeeper_connect();
  options.connect_timeout_ms = 5000;
  auto zk = ZkClient::Connect(options);
  if (!zk.ok()) return zk.status();
  const std::string path = zookeeper_root() + "/clusters/" + options_.cluster + "/state";
  auto node = (*zk)->Get(path);
  if (!node.ok()) return node.status();
  return arbiter::DecodeClusterState(node->data);
}

Result<int> HaCluster::LeaderArbiter() const {
  ZkOptions options;
  options.connect_string = zookeeper_connect();
  options.connect_timeout_ms = 5000;
  auto zk = ZkClient::Connect(options);
  if (!zk.ok()) return zk.status();
  const std::string dir = zookeeper_root() + "/arbiter/election";
  auto children = (*zk)->GetChildren(dir);
  if (!children.ok()) return children.status();
  if (children->empty()) return Status::NotFound("no arbiter in the election");
  auto node = (*zk)->Get(dir + "/" + children->front());  // sorted: the lowest leads
  if (!node.ok()) return node.status();
  auto json = nlohmann::json::parse(node->data, nullptr, false);
  if (!json.is_object() || !json["id"].is_string()) return Status::Internal("bad election data: " + node->data);
  const std::string id = json["id"].get<std::string>();
  for (int i = 0; i < options_.arbiters; ++i) {
    if (id == "a" + std::to_string(i + 1)) return i;
  }
  return Status::NotFound("leader " + id + " is not one of this fixture's arbiters");
}

Result<int> HaCluster::WaitForActive(std::chrono::milliseconds timeout, const std::function<bool(int)>& accept) {
  int found = -1;
  const bool ok = WaitFor(
      [&] {
        for (int i = 0; i < gateways_->size(); ++i) {
          if (!gateways_->running(i) || gateways_->paused(i)) continue;
          auto state = gateways_->GetState(i);
          if (!state.ok() || state->role() != v1::ROLE_ACTIVE || state->fenced()) continue;
          if (state->lease_remaining_ms() == 0) continue;
          if (accept && !accept(i)) continue;
          found = i;
          return true;
        }
        return false;
      },
      timeout, milliseconds(10));
  if (ok) return found;
  std::string states;
  for (int i = 0; i < gateways_->size(); ++i) {
    auto state = gateways_->GetState(i);
    states += gateways_->id(i) + ": " +
              (state.ok() ? GatewayCluster::Describe(*state) : state.status().ToString()) + "\n";
  }
  return Status::DeadlineExceeded("no active within " + std::to_string(timeout.count()) + " ms:\n" + states);
}

std::string HaCluster::DescribeLogs(size_t lines) const {
  std::string text;
  for (size_t i = 0; i < arbiters_.size(); ++i) {
    text += "--- arbiter a" + std::to_string(i + 1) + " (" + arbiters_[i].log_path + ")\n" +
            Tail(arbiters_[i].log_path, lines);
  }
  for (size_t i = 0; i < agents_.size(); ++i) {
    text += "--- agent of g" + std::to_string(i + 1) + " (" + agents_[i].log_path + ")\n" +
            Tail(agents_[i].log_path, lines);
  }
  return text;
}

}  // namespace baton::testing
