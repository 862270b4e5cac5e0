// The operator REST API of docs/operator-api.md on top of an arbiter
// replica: reads answered here (leader: from memory; follower: from
// ZooKeeper and the leader's published observation), mutations carried out
// by the leader (a follower forwards them over HTTP and relays the answer).
//
// Thread-safety: the handlers run on the HTTP server's worker threads,
// concurrently; the backend must be thread-safe and outlive the routes.
#pragma once

#include <chrono>
#include <memory>
#include <optional>
#include <string>

#include "arbiter/cluster_book.h"
#include "common/clock.h"
#include "common/http_router.h"
#include "common/status.h"
#include "common/zk_client.h"

namespace baton::arbiter {

// Where the leader is, from its election znode.
struct LeaderInfo {
  std::string id;
  std::string http;
  std::string grpc;
};

// What the API needs of the arbiter process.
class RestBackend {
 public:
  virtual ~RestBackend() = default;
  virtual const std::string& replica_id() const = 0;
  virtual bool leading() const = 0;
  // nullopt while nobody is known to lead.
  virtual std::optional<LeaderInfo> leader() const = 0;
  // The live ZooKeeper session and this replica's election znode (empty
  // when not in the election); UNAVAILABLE without a connected session.
  virtual Result<std::shared_ptr<ZkClient>> zookeeper() const = 0;
  virtual std::string election_path() const = 0;
  virtual const std::string& zookeeper_root() const = 0;
  virtual ClusterBook& book() = 0;
  virtual MonoTime now() const = 0;
  // Leader: re-reads the mirror targets from ZooKeeper into the book (which
  // pushes the assignments that change). Reloads run one at a time, so a
  // read that began before a write never lands after the read that follows
  // it.
  virtual void ReloadMirrorTargets() = 0;
};

struct RestOptions {
  // Mutations a follower forwards wait this long for the leader, plus the
  // operation's own timeout for switchover and failover.
  std::chrono::milliseconds forward_timeout{10000};
  // How long PUT .../maintenance waits for the leader to persist it.
  std::chrono::milliseconds maintenance_timeout{5000};
  // Served at GET / (the status page); empty: no route.
  std::string status_page_html;
};

// Adds the /v1 routes (and GET / when a page is given) to `router`.
void AddRestRoutes(Router& router, RestBackend& backend, RestOptions options);

// The bodies of the cluster operations, checked before anything is forwarded
// or decided; pure functions of the request (the fuzz targets call them).
// INVALID_ARGUMENT for malformed JSON and as `field "X": why` otherwise.
//  POST /v1/clusters/{c}/switchover: optional body {"to", "timeout_ms"}.
//  POST /v1/clusters/{c}/failover: {"to" (required), "force", "timeout_ms"}.
Result<OperationRequest> ParseOperationBody(OperationKind kind, const HttpRequest& request);
//  PUT /v1/clusters/{c}/maintenance: {"enabled": true|false}.
Result<bool> ParseMaintenanceBody(const HttpRequest& request);

}  // namespace baton::arbiter
