// AgentService: the baton.v1.Arbiter/Heartbeats bidirectional streams, one
// per instance agent, on gRPC's callback API (no thread per stream, so one
// replica holds thousands of agents).
//
// Each heartbeat is answered by the HeartbeatHandler. An answer that names a
// leader (this replica is a follower) is the last one: the stream then ends
// with OK and the agent reconnects to the leader. Push() sends an answer on
// a stream without waiting for a heartbeat (the leader just persisted a
// change, or needs fresh reports). Answers are written one at a time; when
// they outpace the network, only the newest waiting answer is kept (each one
// supersedes the previous).
//
// Thread-safety: the handler is called on gRPC's threads, concurrently for
// different streams; it must not block. The handler must outlive the server
// the service is registered with.
#pragma once

#include <atomic>
#include <cstdint>
#include <map>
#include <string>

#include <grpcpp/grpcpp.h>

#include "baton/v1/arbiter.grpc.pb.h"
#include "common/mutex.h"

namespace baton::arbiter {

class HeartbeatHandler {
 public:
  virtual ~HeartbeatHandler() = default;
  // Answers one heartbeat of stream `stream_id`.
  virtual v1::HeartbeatResponse OnHeartbeat(const v1::Heartbeat& heartbeat, uint64_t stream_id) = 0;
  // The stream ended; `cluster`/`instance` are those of its last heartbeat
  // (empty when it sent none).
  virtual void OnStreamClosed(const std::string& cluster, const std::string& instance, uint64_t stream_id) = 0;
};

class AgentService : public v1::Arbiter::CallbackService {
 public:
  explicit AgentService(HeartbeatHandler& handler) : handler_(handler) {}

  grpc::ServerBidiReactor<v1::Heartbeat, v1::HeartbeatResponse>* Heartbeats(
      grpc::CallbackServerContext* context) override;

  // Streams open right now.
  int64_t open_streams() const { return open_streams_.load(); }

  // Writes `answer` on stream `stream_id` if it is still open and not
  // finishing; false otherwise. Any thread.
  bool Push(uint64_t stream_id, v1::HeartbeatResponse answer) EXCLUDES(streams_mu_);

 private:
  class Stream;

  HeartbeatHandler& handler_;
  Mutex streams_mu_;
  // Open streams by id; a stream removes itself before it is deleted.
  std::map<uint64_t, Stream*> streams_ GUARDED_BY(streams_mu_);
  std::atomic<uint64_t> next_stream_id_{1};
  std::atomic<int64_t> open_streams_{0};
};

// Checks the identity fields of a heartbeat: instance id and cluster present
// and made of [A-Za-z0-9._-] (they become ZooKeeper path parts), at most 128
// bytes. INVALID_ARGUMENT naming the field.
grpc::Status ValidateHeartbeat(const v1::Heartbeat& heartbeat);

}  // namespace baton::arbiter
