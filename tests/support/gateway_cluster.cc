#include "tests/support/gateway_cluster.h"

#include <signal.h>
#include <sys/wait.h>

#include <filesystem>
#include <fstream>
#include <iostream>
#include <iterator>
#include <set>
#include <sstream>

#include <gtest/gtest.h>

#include "tests/support/test_util.h"

namespace baton::testing {
namespace {

using std::chrono::milliseconds;

Status FromGrpc(const grpc::Status& status) {
  if (status.ok()) return Status::Ok();
  return Status(static_cast<StatusCode>(status.error_code()), status.error_message());
}

std::chrono::system_clock::time_point DeadlineIn(milliseconds timeout) {
  return std::chrono::system_clock::now() + timeout;
}

std::string Tail(const std::string& text, size_t lines) {
  // Start of the last `lines` lines (a final newline ends the last line).
  size_t begin = text.size();
  size_t seen = 0;
  while (begin > 0) {
    const size_t nl = text.rfind('\n', begin - 1);
    if (nl == std::string::npos) return text;
    if (nl + 1 < text.size() && ++seen == lines) return text.substr(nl + 1);
    begin = nl;
  }
  return text;
}

std::string ReadFrom(const std::string& path, uint64_t offset) {
  std::ifstream in(path);
  if (!in.is_open()) return "";
  in.seekg(static_cast<std::streamoff>(offset));
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Position(const v1::LogPosition& p) { return std::to_string(p.epoch()) + ":" + std::to_string(p.seq()); }

}  // namespace

GatewayCluster::GatewayCluster(Options options) : options_(std::move(options)) {
  std::set<uint16_t> taken;
  auto pick = [&] {
    uint16_t port = PickFreePort();
    while (!taken.insert(port).second) port = PickFreePort();
    return port;
  };
  for (int i = 0; i < options_.size; ++i) {
    auto m = std::make_unique<Member>();
    m->grpc_port = pick();
    m->http_port = pick();
    m->data_dir = dir_.Join(id(i) + "-data");
    m->log_path = dir_.Join(id(i) + ".log");
    members_.push_back(std::move(m));
  }
  {
    MutexLock lock(&mu_);
    channels_.resize(members_.size());
  }
  for (int i = 0; i < size(); ++i) NewChannel(i);
}

GatewayCluster::~GatewayCluster() {
  if (::testing::Test::HasFailure()) {
    std::cout << "--- gateway cluster logs (" << dir_.path() << ") ---\n" << DescribeLogs(60) << std::endl;
  }
  // SIGTERM to all first: each may take its gRPC shutdown deadline.
  for (int i = 0; i < size(); ++i) {
    if (!members_[i]->daemon || members_[i]->daemon->process->Exited()) continue;
    (void)members_[i]->daemon->process->Signal(SIGCONT);
    (void)members_[i]->daemon->process->Signal(SIGTERM);
  }
  for (int i = 0; i < size(); ++i) {
    if (members_[i]->daemon) (void)Stop(i);
  }
}

std::string GatewayCluster::address(int i) const { return "127.0.0.1:" + std::to_string(members_[i]->grpc_port); }

std::string GatewayCluster::Log(int i) const { return ReadFrom(members_[i]->log_path, 0); }

std::string GatewayCluster::CurrentRunLog(int i) const {
  return ReadFrom(members_[i]->log_path, members_[i]->run_log_offset.load());
}

std::string GatewayCluster::DescribeLogs(size_t lines) const {
  std::string text;
  for (int i = 0; i < size(); ++i) {
    text += "=== " + id(i) + " (" + address(i) + ", " + log_path(i) + "), last " + std::to_string(lines) +
            " lines ===\n" + Tail(Log(i), lines) + "\n";
  }
  return text;
}

std::vector<std::string> GatewayCluster::Args(int i) const {
  std::vector<std::string> args = {"--data_dir",         data_dir(i),
                                   "--index.dimension",  std::to_string(options_.dimension),
                                   "--grpc.listen",      address(i),
                                   "--http.listen",      "127.0.0.1:" + std::to_string(http_port(i)),
                                   "--instance.id",      id(i),
                                   "--instance.cluster", options_.cluster,
                                   "--log.level",        options_.log_level};
  args.insert(args.end(), options_.extra_args.begin(), options_.extra_args.end());
  if (auto it = options_.member_args.find(i); it != options_.member_args.end()) {
    args.insert(args.end(), it->second.begin(), it->second.end());
  }
  args.insert(args.end(), added_args_.begin(), added_args_.end());
  if (auto it = added_member_args_.find(i); it != added_member_args_.end()) {
    args.insert(args.end(), it->second.begin(), it->second.end());
  }
  return args;
}

void GatewayCluster::AddArgs(std::vector<std::string> args, int member) {
  auto& to = member < 0 ? added_args_ : added_member_args_[member];
  to.insert(to.end(), std::make_move_iterator(args.begin()), std::make_move_iterator(args.end()));
}

std::string GatewayCluster::addresses_joined() const {
  std::string text;
  for (int i = 0; i < size(); ++i) text += (i == 0 ? "" : "+") + address(i);
  return text;
}

void GatewayCluster::NewChannel(int i) {
  grpc::ChannelArguments args;
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, 100);
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 500);
  auto channel = grpc::CreateCustomChannel(address(i), grpc::InsecureChannelCredentials(), args);
  MutexLock lock(&mu_);
  channels_[i] = std::move(channel);
}

std::shared_ptr<grpc::Channel> GatewayCluster::channel(int i) const {
  MutexLock lock(&mu_);
  return channels_[i];
}

std::shared_ptr<v1::Gateway::Stub> GatewayCluster::client(int i) const { return v1::Gateway::NewStub(channel(i)); }

std::shared_ptr<v1::GatewayControl::Stub> GatewayCluster::control(int i) const {
  return v1::GatewayControl::NewStub(channel(i));
}

Status GatewayCluster::Start(int i, Readiness readiness) {
  Member& m = *members_[i];
  if (m.daemon && !m.daemon->process->Exited()) {
    return Status::FailedPrecondition(id(i) + " is already running");
  }
  m.daemon.reset();
  m.paused = false;
  ++m.starts;
  std::error_code ec;
  m.run_log_offset = std::filesystem::exists(m.log_path, ec) ? std::filesystem::file_size(m.log_path, ec) : 0;
  {
    std::ofstream out(m.log_path, std::ios::app);
    out << "=== gatewaycluster: start " << m.starts << " of " << id(i) << " ===\n";
  }
  auto daemon = StartDaemon(BinaryPath("gateway/baton-gateway"), Args(i), m.log_path);
  if (!daemon.ok()) return daemon.status();
  m.daemon.emplace(std::move(daemon).value());
  NewChannel(i);
  auto ch = channel(i);
  const std::string path = readiness == Readiness::kReadyz ? "/readyz" : "/healthz";
  bool exited = false;
  const bool ready = WaitFor(
      [&] {
        if (m.daemon->process->Exited()) {
          exited = true;
          return true;
        }
        auto r = HttpGet(m.http_port, path, milliseconds(500));
        if (!r.ok() || r->first != 200) return false;
        return ch->WaitForConnected(DeadlineIn(milliseconds(200)));
      },
      options_.start_timeout);
  if (ready && !exited) return Status::Ok();
  std::string why = exited ? "exited (" + DescribeWaitStatus(*m.daemon->process->Wait(milliseconds(0))) + ")"
                           : "not ready (GET " + path + " 200 and gRPC connected) within " +
                                 std::to_string(options_.start_timeout.count()) + " ms";
  m.daemon.reset();  // kills and reaps
  return Status::Unavailable(id(i) + " " + why + "\n" + Tail(CurrentRunLog(i), 40));
}

Status GatewayCluster::StartAll(Readiness readiness) {
  for (int i = 0; i < size(); ++i) {
    Status s = Start(i, readiness);
    if (!s.ok()) return s;
  }
  return Status::Ok();
}

Status GatewayCluster::Stop(int i, milliseconds grace) {
  Member& m = *members_[i];
  if (!m.daemon) return Status::Ok();
  ChildProcess& p = *m.daemon->process;
  NewChannel(i);  // drops our idle connection, which would hold up gRPC's shutdown
  Status result = Status::Ok();
  if (!p.Exited()) {
    (void)p.Signal(SIGCONT);  // a stopped process cannot act on SIGTERM
    (void)p.Signal(SIGTERM);
    auto status = p.Wait(grace);
    if (!status.ok()) {
      (void)p.Signal(SIGKILL);
      (void)p.Wait(std::chrono::seconds(10));
      result =
          Status::Internal(id(i) + " did not exit within " + std::to_string(grace.count()) + " ms of SIGTERM; killed");
    } else if (!WIFEXITED(*status) || WEXITSTATUS(*status) != 0) {
      result = Status::Internal(id(i) + " stopped with " + DescribeWaitStatus(*status));
    }
  } else {
    result = Status::Internal(id(i) + " had already exited: " + DescribeWaitStatus(*p.Wait(milliseconds(0))));
  }
  m.daemon.reset();
  m.paused = false;
  return result;
}

Status GatewayCluster::Kill(int i) {
  Member& m = *members_[i];
  if (!m.daemon) return Status::FailedPrecondition(id(i) + " is not running");
  ChildProcess& p = *m.daemon->process;
  if (p.Exited()) {
    Status s = Status::Internal(id(i) + " had already exited: " + DescribeWaitStatus(*p.Wait(milliseconds(0))));
    m.daemon.reset();
    return s;
  }
  Status sent = p.Signal(SIGKILL);
  auto status = p.Wait(std::chrono::seconds(10));
  m.daemon.reset();
  m.paused = false;
  if (!sent.ok()) return sent;
  if (!status.ok()) return status.status();
  if (!WIFSIGNALED(*status) || WTERMSIG(*status) != SIGKILL) {
    return Status::Internal(id(i) + " ended with " + DescribeWaitStatus(*status) + " instead of SIGKILL");
  }
  return Status::Ok();
}

Status GatewayCluster::Pause(int i) {
  Member& m = *members_[i];
  if (!m.daemon) return Status::FailedPrecondition(id(i) + " is not running");
  Status s = m.daemon->process->Signal(SIGSTOP);
  if (!s.ok()) return s;
  m.paused = true;
  const pid_t pid = m.daemon->process->pid();
  if (!WaitFor([&] { return AllThreadsStopped(pid); }, milliseconds(5000))) {
    return Status::DeadlineExceeded(id(i) + " (pid " + std::to_string(pid) + ") not stopped 5 s after SIGSTOP");
  }
  return Status::Ok();
}

Status GatewayCluster::Resume(int i) {
  Member& m = *members_[i];
  if (!m.daemon) return Status::FailedPrecondition(id(i) + " is not running");
  Status s = m.daemon->process->Signal(SIGCONT);
  if (s.ok()) m.paused = false;
  return s;
}

Status GatewayCluster::Restart(int i, Readiness readiness) {
  Status stopped = Stop(i);
  if (!stopped.ok()) return stopped;
  return Start(i, readiness);
}

bool GatewayCluster::running(int i) {
  Member& m = *members_[i];
  return m.daemon && !m.daemon->process->Exited();
}

pid_t GatewayCluster::pid(int i) const {
  const Member& m = *members_[i];
  return m.daemon ? m.daemon->process->pid() : -1;
}

v1::Assignment GatewayCluster::MakeAssignment(int i, const Spec& spec) const {
  v1::Assignment a;
  a.set_role(spec.role);
  a.set_epoch(spec.epoch);
  a.set_lease_ms(spec.lease_ms);
  const int active = spec.active >= 0 ? spec.active : (spec.role == v1::ROLE_ACTIVE ? i : -1);
  if (active >= 0) a.set_active_address(address(active));
  for (int s : spec.standbys) (*a.mutable_standbys())[id(s)] = address(s);
  for (int s : spec.sync_set) a.add_sync_set(id(s));
  a.set_sync_standbys(spec.sync_standbys);
  a.set_failsafe(spec.failsafe);
  return a;
}

Status GatewayCluster::AssignRaw(int i, const v1::Assignment& assignment) {
  v1::AssignRoleRequest request;
  *request.mutable_assignment() = assignment;
  v1::AssignRoleResponse response;
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(std::chrono::seconds(10)));
  return FromGrpc(control(i)->AssignRole(&context, request, &response)).WithContext("AssignRole " + id(i));
}

Status GatewayCluster::Assign(int i, const Spec& spec) {
  Status s = AssignRaw(i, MakeAssignment(i, spec));
  if (s.ok()) {
    MutexLock lock(&mu_);
    last_spec_[i] = spec;
  }
  return s;
}

Status GatewayCluster::AssignActive(int i, uint64_t epoch, const std::vector<int>& standbys,
                                    const std::vector<int>& sync_set, uint32_t sync_standbys, uint32_t lease_ms,
                                    bool failsafe) {
  return Assign(i, Spec{.role = v1::ROLE_ACTIVE,
                        .epoch = epoch,
                        .active = i,
                        .standbys = standbys,
                        .sync_set = sync_set,
                        .sync_standbys = sync_standbys,
                        .lease_ms = lease_ms,
                        .failsafe = failsafe});
}

Status GatewayCluster::AssignStandby(int i, uint64_t epoch, int active) {
  return Assign(i, Spec{.role = v1::ROLE_STANDBY, .epoch = epoch, .active = active});
}

Status GatewayCluster::Reassign(int i) {
  Spec spec;
  {
    MutexLock lock(&mu_);
    auto it = last_spec_.find(i);
    if (it == last_spec_.end()) return Status::FailedPrecondition(id(i) + " was never assigned");
    spec = it->second;
  }
  return Assign(i, spec);
}

Status GatewayCluster::AssignActiveWithStandbys(int active, const std::vector<int>& standbys, uint64_t epoch,
                                                uint32_t sync_standbys, std::optional<std::vector<int>> sync_set,
                                                uint32_t lease_ms, bool failsafe, milliseconds timeout) {
  const std::vector<int> sync = sync_set ? *sync_set : standbys;
  for (int s : standbys) {
    Status st = Assign(s, Spec{.role = v1::ROLE_STANDBY,
                               .epoch = epoch,
                               .active = active,
                               .standbys = standbys,
                               .sync_set = sync,
                               .sync_standbys = sync_standbys});
    if (!st.ok()) return st;
  }
  Status st = AssignActive(active, epoch, standbys, sync, sync_standbys, lease_ms, failsafe);
  if (!st.ok()) return st;
  return WaitForState(
      active,
      [&](const v1::GetStateResponse& state) {
        if (state.role() != v1::ROLE_ACTIVE || state.epoch() != epoch) return false;
        for (int s : standbys) {
          bool connected = false;
          for (const auto& st : state.standbys()) connected |= st.instance_id() == id(s) && st.connected();
          if (!connected) return false;
        }
        return true;
      },
      timeout, "every standby connected to active " + id(active) + " at epoch " + std::to_string(epoch));
}

Status GatewayCluster::RenewLease(int i, uint64_t epoch, uint32_t lease_ms, int64_t deadline_monotonic_ns) {
  v1::RenewLeaseRequest request;
  request.set_epoch(epoch);
  request.set_lease_ms(lease_ms);
  request.set_deadline_monotonic_ns(deadline_monotonic_ns);
  v1::RenewLeaseResponse response;
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(std::chrono::seconds(10)));
  return FromGrpc(control(i)->RenewLease(&context, request, &response)).WithContext("RenewLease " + id(i));
}

Result<v1::GetStateResponse> GatewayCluster::GetState(int i) const {
  v1::GetStateResponse response;
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(std::chrono::seconds(5)));
  Status s = FromGrpc(control(i)->GetState(&context, v1::GetStateRequest(), &response));
  if (!s.ok()) return s.WithContext("GetState " + id(i));
  return response;
}

bool GatewayCluster::WaitFor(const std::function<bool()>& cond, milliseconds timeout) {
  return baton::testing::WaitFor(cond, timeout, milliseconds(20));
}

Status GatewayCluster::WaitForState(int i, const std::function<bool(const v1::GetStateResponse&)>& pred,
                                    milliseconds timeout, const std::string& what) {
  std::string last = "no answer";
  const bool ok = WaitFor(
      [&] {
        auto state = GetState(i);
        if (!state.ok()) {
          last = state.status().ToString();
          return false;
        }
        last = Describe(*state);
        return pred(*state);
      },
      timeout);
  if (ok) return Status::Ok();
  return Status::DeadlineExceeded("waited " + std::to_string(timeout.count()) + " ms for " + what + " on " + id(i) +
                                  "; last state: " + last);
}

Status GatewayCluster::WaitCaughtUp(int active, int standby, milliseconds timeout) {
  std::string last = "no answer";
  const bool ok = WaitFor(
      [&] {
        auto a = GetState(active);
        auto s = GetState(standby);
        if (!a.ok() || !s.ok()) {
          last = (a.ok() ? s.status() : a.status()).ToString();
          return false;
        }
        last = id(active) + ": " + Describe(*a) + "\n  " + id(standby) + ": " + Describe(*s);
        return s->durable().seq() == a->durable().seq() && s->durable().epoch() == a->durable().epoch() &&
               s->applied().seq() == s->durable().seq() && s->digest() == a->digest() &&
               s->object_count() == a->object_count();
      },
      timeout);
  if (ok) return Status::Ok();
  return Status::DeadlineExceeded(id(standby) + " did not catch up with " + id(active) + " within " +
                                  std::to_string(timeout.count()) + " ms:\n  " + last);
}

int GatewayCluster::ReadyzStatus(int i, milliseconds timeout) const {
  auto r = HttpGet(http_port(i), "/readyz", timeout);
  return r.ok() ? r->first : -1;
}

v1::Object GatewayCluster::MakeObject(const std::string& id, std::vector<float> vector, std::string metadata) {
  v1::Object object;
  object.set_id(id);
  object.mutable_vector()->Add(vector.begin(), vector.end());
  object.set_metadata(std::move(metadata));
  return object;
}

namespace {

std::string BatonActive(const grpc::ClientContext& context) {
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find("baton-active");
  return it == trailers.end() ? "" : std::string(it->second.data(), it->second.size());
}

}  // namespace

GatewayCluster::Outcome GatewayCluster::Insert(int i, const v1::Object& object, milliseconds timeout) const {
  Outcome out;
  v1::InsertRequest request;
  *request.mutable_object() = object;
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(timeout));
  out.status = client(i)->Insert(&context, request, &out.result);
  out.baton_active = BatonActive(context);
  return out;
}

GatewayCluster::Outcome GatewayCluster::Upsert(int i, const v1::Object& object, milliseconds timeout) const {
  Outcome out;
  v1::UpsertRequest request;
  *request.mutable_object() = object;
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(timeout));
  out.status = client(i)->Upsert(&context, request, &out.result);
  out.baton_active = BatonActive(context);
  return out;
}

GatewayCluster::Outcome GatewayCluster::GetObject(int i, const std::string& id, milliseconds timeout) const {
  Outcome out;
  v1::GetObjectRequest request;
  request.set_id(id);
  grpc::ClientContext context;
  context.set_deadline(DeadlineIn(timeout));
  out.status = client(i)->GetObject(&context, request, &out.object);
  out.baton_active = BatonActive(context);
  return out;
}

std::string GatewayCluster::Describe(const v1::GetStateResponse& s) {
  std::string text = s.instance_id() + " role=" + v1::Role_Name(s.role()) + " epoch=" + std::to_string(s.epoch()) +
                     " durable=" + Position(s.durable()) + " applied=" + Position(s.applied()) +
                     " lease_remaining_ms=" + std::to_string(s.lease_remaining_ms()) +
                     " fenced=" + (s.fenced() ? "true" : "false") + " objects=" + std::to_string(s.object_count()) +
                     " digest=" + std::to_string(s.digest()) + " history=[";
  for (const auto& e : s.epoch_history()) text += " " + std::to_string(e.epoch()) + "@" + std::to_string(e.first_seq());
  text += " ] standbys=[";
  for (const auto& st : s.standbys()) {
    text += " {" + st.instance_id() + (st.connected() ? " connected" : " disconnected") +
            (st.sync() ? " sync" : " async") + " acked=" + Position(st.acked()) +
            " lag=" + std::to_string(st.lag_entries()) +
            (st.last_error().empty() ? "" : " error='" + st.last_error() + "'") + "}";
  }
  return text + " ]";
}

}  // namespace baton::testing
