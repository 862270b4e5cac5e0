// PeerClient: the way to one mirror target (a peer cluster). Keeps a channel
// per address of the target and a guess of which one is the peer's active:
// a call that fails UNAVAILABLE with `baton-active` moves the guess there,
// any other failure to the next address. Every call carries
// `baton-mirror-origin: <own cluster>`, so the peer applies the write and
// never forwards it again, and a deadline of `timeout`.
//
// MirrorBatch is the wire form of a run of writes of one op: it turns
// WriteRequests into the Multi* request of that op (RemoveByTimestamp: one
// request) and the answer into one status per item.
//
// Thread-safe: the sender thread and synchronous forwarding share one client.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "baton/v1/gateway.grpc.pb.h"
#include "common/clock.h"
#include "common/mirror_target.h"
#include "common/mutex.h"
#include "common/status.h"
#include "gateway/store/write_planner.h"

namespace baton::gateway {

inline constexpr char kMirrorOriginMetadata[] = "baton-mirror-origin";
inline constexpr char kActiveMetadata[] = "baton-active";

// Items (all with the same op) and their answers once sent.
struct MirrorBatch {
  v1::WriteOp op = v1::WRITE_OP_UNSPECIFIED;
  std::vector<WriteRequest> items;
  // Sent as baton-mirror-origin; empty: this cluster. A full resync sends
  // objects that came from other clusters under their own origin.
  std::string origin;
  // Filled by PeerClient: one per item when the call itself succeeded.
  std::vector<Status> answers;
};

class PeerClient {
 public:
  PeerClient(std::string own_cluster, MirrorTargetSpec target, Duration timeout);

  const MirrorTargetSpec& target() const { return target_; }
  // The address calls go to now.
  std::string address() const EXCLUDES(mu_);

  // Sends `batch` and waits for the answer: the call's status (UNAVAILABLE,
  // DEADLINE_EXCEEDED, the peer's INVALID_ARGUMENT for the whole request,
  // ...); when OK, batch->answers holds one status per item. Moves the
  // address guess after a failure.
  Status Send(MirrorBatch* batch) EXCLUDES(mu_);
  // The same without blocking: `done` runs on a gRPC thread (keep it quick).
  // `batch` must stay alive until then.
  void SendAsync(MirrorBatch* batch, std::function<void(Status)> done) EXCLUDES(mu_);
  // Cancels every call in flight (they finish CANCELLED): a stopping sender
  // does not wait out a hung peer's deadline.
  void CancelInFlight() EXCLUDES(mu_);

 private:
  struct Call;
  std::shared_ptr<Call> StartCall(MirrorBatch* batch) EXCLUDES(mu_);
  // Moves the guess after `call` failed with `status`.
  void NoteFailure(const Call& call, const grpc::Status& status) EXCLUDES(mu_);

  const std::string own_cluster_;
  const MirrorTargetSpec target_;
  const Duration timeout_;
  mutable Mutex mu_;
  std::vector<std::shared_ptr<v1::Gateway::Stub>> stubs_ GUARDED_BY(mu_);  // by address index
  size_t current_ GUARDED_BY(mu_) = 0;
  // An address named by baton-active that is not one of the target's.
  std::string redirect_ GUARDED_BY(mu_);
  std::shared_ptr<v1::Gateway::Stub> redirect_stub_ GUARDED_BY(mu_);
  std::set<grpc::ClientContext*> in_flight_ GUARDED_BY(mu_);
};

}  // namespace baton::gateway
