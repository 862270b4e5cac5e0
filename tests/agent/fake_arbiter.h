// FakeArbiter: a real gRPC server on loopback implementing
// baton.v1.Arbiter/Heartbeats, for agent tests. It records every heartbeat
// with its arrival time and answers each one from a script: an empty answer
// (the default), a grant, or a redirect to a leader (then ends the stream,
// as a follower does).
//
// Thread-safe: the script and the records may be read and changed while
// streams run on gRPC's threads.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "baton/v1/arbiter.grpc.pb.h"
#include "common/mutex.h"

namespace baton::agent::testing {

class FakeArbiter {
 public:
  struct Received {
    v1::Heartbeat heartbeat;
    std::chrono::steady_clock::time_point at;
    int stream = 0;  // 1-based number of the stream it came on
  };

  // Binds 127.0.0.1:`port` (0 = any free port). Aborts the test on failure.
  explicit FakeArbiter(std::string id, uint16_t port = 0);
  ~FakeArbiter();  // Shutdown()

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  uint16_t port() const { return port_; }

  // Script. Answers carry `sequence` of the heartbeat and this arbiter's id.
  void AnswerEmpty() EXCLUDES(mu_);
  void Grant(const v1::Assignment& assignment) EXCLUDES(mu_);
  void RedirectTo(const std::string& leader_address) EXCLUDES(mu_);
  // Stop answering at all (a hung leader); heartbeats are still recorded.
  void Silence() EXCLUDES(mu_);
  // The next answer (whatever the mode) also asks for a report now
  // (report_now); the sequence it answered is then report_asked_sequence().
  void AskForReportOnce() EXCLUDES(mu_);
  std::optional<uint64_t> report_asked_sequence() const EXCLUDES(mu_);

  // Ends every stream and closes the port (an arbiter that died).
  void Shutdown();

  std::vector<Received> heartbeats() const EXCLUDES(mu_);
  int streams() const EXCLUDES(mu_);
  // Waits for a recorded heartbeat (any so far, or a later one) satisfying `pred`.
  std::optional<Received> WaitForHeartbeat(const std::function<bool(const Received&)>& pred,
                                           std::chrono::milliseconds timeout) const EXCLUDES(mu_);

 private:
  class Service;
  enum class Mode { kEmpty, kGrant, kRedirect, kSilent };

  const std::string id_;
  bool ask_report_ GUARDED_BY(mu_) = false;
  std::optional<uint64_t> report_asked_sequence_ GUARDED_BY(mu_);
  uint16_t port_ = 0;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;

  mutable Mutex mu_;
  mutable CondVar cv_{&mu_};
  Mode mode_ GUARDED_BY(mu_) = Mode::kEmpty;
  v1::Assignment grant_ GUARDED_BY(mu_);
  std::string leader_ GUARDED_BY(mu_);
  std::vector<Received> received_ GUARDED_BY(mu_);
  int streams_ GUARDED_BY(mu_) = 0;
  bool shut_down_ = false;  // test thread only
};

}  // namespace baton::agent::testing
