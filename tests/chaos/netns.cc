#include "tests/chaos/netns.h"

#include <signal.h>
#include <unistd.h>

#include <cerrno>
#include <filesystem>
#include <fstream>
#include <mutex>
#include <regex>
#include <sstream>

#include "common/process.h"

namespace baton::chaos {
namespace {

constexpr const char* kNetnsDir = "/var/run/netns";

std::mutex& LiveMutex() {
  static std::mutex mu;
  return mu;
}
std::set<std::string>& Live() {
  static std::set<std::string> live;
  return live;
}

std::string ReadAll(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

// Runs `argv` to completion (10 s at most); its output is appended to
// `log_path` after a "$ command" line. Returns the output.
Result<std::string> Run(const std::vector<std::string>& argv, const std::string& log_path) {
  const std::string out_path = log_path + ".cmd";
  std::error_code ec;
  std::filesystem::remove(out_path, ec);
  auto child = ChildProcess::Spawn({.argv = argv, .output_path = out_path});
  std::string line = "$";
  for (const auto& a : argv) line += " " + a;
  if (!child.ok()) {
    std::ofstream(log_path, std::ios::app) << line << "\n  " << child.status().ToString() << "\n";
    return child.status();
  }
  auto status = (*child)->Wait(std::chrono::seconds(10));
  const std::string output = ReadAll(out_path);
  std::ofstream(log_path, std::ios::app) << line << "\n" << output;
  if (!status.ok()) return Status::DeadlineExceeded(line + ": did not finish within 10 s");
  if (*status != 0) return Status::Internal(line + ": " + DescribeWaitStatus(*status) + ": " + output);
  return output;
}

bool PidGone(pid_t pid) { return ::kill(pid, 0) != 0 && errno == ESRCH; }

}  // namespace

Network::Network(std::string prefix, int subnet, int hosts, int root_addresses, std::string log_path)
    : prefix_(std::move(prefix)),
      subnet_(subnet),
      hosts_(hosts),
      root_addresses_(root_addresses),
      log_path_(std::move(log_path)) {}

void Network::RemoveStale(const std::string& log_path) {
  const std::regex ns_name("bch([0-9]+)(sw|h[0-9]+)");
  std::error_code ec;
  for (const auto& entry : std::filesystem::directory_iterator(kNetnsDir, ec)) {
    const std::string name = entry.path().filename().string();
    std::smatch m;
    if (!std::regex_match(name, m, ns_name)) continue;
    const pid_t pid = static_cast<pid_t>(std::stol(m[1].str()));
    if (pid != ::getpid() && PidGone(pid)) (void)Run({"ip", "netns", "del", name}, log_path);
  }
  auto links = Run({"ip", "-o", "link", "show"}, log_path);
  if (!links.ok()) return;
  const std::regex link_name(": (bch([0-9]+)r)@");
  for (std::sregex_iterator it(links->begin(), links->end(), link_name), end; it != end; ++it) {
    const pid_t pid = static_cast<pid_t>(std::stol((*it)[2].str()));
    if (pid != ::getpid() && PidGone(pid)) (void)Run({"ip", "link", "del", (*it)[1].str()}, log_path);
  }
}

std::vector<std::string> Network::LiveNamespaces() {
  std::lock_guard<std::mutex> lock(LiveMutex());
  return {Live().begin(), Live().end()};
}

Result<std::unique_ptr<Network>> Network::Create(int hosts, int root_addresses, const std::string& log_path) {
  if (::geteuid() != 0) return Status::FailedPrecondition("network namespaces need root (euid is " + std::to_string(::geteuid()) + ")");
  if (hosts > 150 || root_addresses > 50) return Status::InvalidArgument("too many hosts or root addresses");
  RemoveStale(log_path);
  // A /24 no interface of this machine uses yet.
  auto addresses = Run({"ip", "-4", "-o", "addr", "show"}, log_path);
  if (!addresses.ok()) return Status::FailedPrecondition("cannot list addresses: " + addresses.status().ToString());
  int subnet = -1;
  for (int i = 0; i < 200 && subnet < 0; ++i) {
    const int candidate = 20 + (static_cast<int>(::getpid()) + i) % 200;
    if (addresses->find("10.213." + std::to_string(candidate) + ".") == std::string::npos) subnet = candidate;
  }
  if (subnet < 0) return Status::FailedPrecondition("no free 10.213.x.0/24");
  auto network = std::unique_ptr<Network>(
      new Network("bch" + std::to_string(::getpid()), subnet, hosts, root_addresses, log_path));
  Status setup = network->Setup();
  if (!setup.ok()) return Status::FailedPrecondition("cannot set up network namespaces: " + setup.ToString());
  return network;
}

Status Network::Ip(const std::vector<std::string>& args) const {
  std::vector<std::string> argv = {"ip"};
  argv.insert(argv.end(), args.begin(), args.end());
  return Run(argv, log_path_).status();
}

std::string Network::host_ns(int host) const { return prefix_ + "h" + std::to_string(host); }

std::string Network::host_ip(int host) const {
  return "10.213." + std::to_string(subnet_) + "." + std::to_string(100 + host);
}

std::string Network::root_ip(int i) const {
  return "10.213." + std::to_string(subnet_) + "." + std::to_string(1 + i);
}

Status Network::Setup() {
  const std::string sw = prefix_ + "sw";
  const std::string root_link = prefix_ + "r";
  auto add_ns = [&](const std::string& name) -> Status {
    BATON_RETURN_IF_ERROR(Ip({"netns", "add", name}));
    created_.push_back(name);
    std::lock_guard<std::mutex> lock(LiveMutex());
    Live().insert(name);
    return Status::Ok();
  };
  BATON_RETURN_IF_ERROR(add_ns(sw));
  BATON_RETURN_IF_ERROR(Ip({"-n", sw, "link", "add", "br0", "type", "bridge"}));
  BATON_RETURN_IF_ERROR(Ip({"-n", sw, "link", "set", "br0", "up"}));
  BATON_RETURN_IF_ERROR(Ip({"link", "add", root_link, "type", "veth", "peer", "name", "rt", "netns", sw}));
  BATON_RETURN_IF_ERROR(Ip({"-n", sw, "link", "set", "rt", "master", "br0"}));
  BATON_RETURN_IF_ERROR(Ip({"-n", sw, "link", "set", "rt", "up"}));
  for (int i = 0; i < root_addresses_; ++i) {
    BATON_RETURN_IF_ERROR(Ip({"addr", "add", root_ip(i) + "/24", "dev", root_link}));
  }
  BATON_RETURN_IF_ERROR(Ip({"link", "set", root_link, "up"}));
  for (int h = 0; h < hosts_; ++h) {
    const std::string ns = host_ns(h);
    const std::string port = "h" + std::to_string(h);
    BATON_RETURN_IF_ERROR(add_ns(ns));
    BATON_RETURN_IF_ERROR(Ip({"-n", sw, "link", "add", port, "type", "veth", "peer", "name", "eth0", "netns", ns}));
    BATON_RETURN_IF_ERROR(Ip({"-n", sw, "link", "set", port, "master", "br0"}));
    BATON_RETURN_IF_ERROR(Ip({"-n", sw, "link", "set", port, "up"}));
    BATON_RETURN_IF_ERROR(Ip({"-n", ns, "addr", "add", host_ip(h) + "/24", "dev", "eth0"}));
    BATON_RETURN_IF_ERROR(Ip({"-n", ns, "link", "set", "eth0", "up"}));
    BATON_RETURN_IF_ERROR(Ip({"-n", ns, "link", "set", "lo", "up"}));
  }
  return Status::Ok();
}

Network::~Network() {
  (void)HealAll();
  for (auto it = created_.rbegin(); it != created_.rend(); ++it) {
    (void)Ip({"netns", "del", *it});
    std::lock_guard<std::mutex> lock(LiveMutex());
    Live().erase(*it);
  }
}

std::vector<std::string> Network::Wrap(int host, std::vector<std::string> argv) const {
  std::vector<std::string> wrapped = {"nsenter", "--net=" + std::string(kNetnsDir) + "/" + host_ns(host), "--"};
  wrapped.insert(wrapped.end(), argv.begin(), argv.end());
  return wrapped;
}

Status Network::Cut(int host, const std::string& ip) {
  if (cuts_.count({host, ip})) return Status::Ok();
  BATON_RETURN_IF_ERROR(Ip({"-n", host_ns(host), "rule", "add", "from", ip, "blackhole"}));
  cuts_.insert({host, ip});
  return Ip({"-n", host_ns(host), "rule", "add", "to", ip, "blackhole"});
}

Status Network::Heal(int host, const std::string& ip) {
  if (!cuts_.erase({host, ip})) return Status::Ok();
  Status a = Ip({"-n", host_ns(host), "rule", "del", "from", ip, "blackhole"});
  Status b = Ip({"-n", host_ns(host), "rule", "del", "to", ip, "blackhole"});
  return a.ok() ? b : a;
}

Status Network::HealAll() {
  Status result = Status::Ok();
  const auto cuts = cuts_;
  for (const auto& [host, ip] : cuts) {
    Status s = Heal(host, ip);
    if (result.ok() && !s.ok()) result = s;
  }
  return result;
}

}  // namespace baton::chaos
