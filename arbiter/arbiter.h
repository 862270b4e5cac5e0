// The arbiter process: connects to ZooKeeper (retrying with backoff while it
// is unreachable), serves /healthz, /readyz and /metrics. Election, cluster
// state and the REST API are added by the arbiter issue.
#pragma once

#include <atomic>
#include <memory>
#include <thread>

#include "common/config.h"
#include "common/http_server.h"
#include "common/metrics.h"
#include "common/status.h"
#include "common/zk_client.h"

namespace baton::arbiter {

// Thread-safe: Start() and Stop() from the main thread; accessors anywhere.
class Arbiter {
 public:
  explicit Arbiter(const Config& config);
  ~Arbiter();

  // Starts the HTTP server and the ZooKeeper connector. Fails if the HTTP
  // address cannot be bound; ZooKeeper being down is not an error.
  Status Start();
  void Stop();

  bool zookeeper_connected() const { return zk_connected_.load(); }
  uint16_t http_port() const;

 private:
  void ConnectLoop();

  const Config config_;
  Metrics metrics_;
  prometheus::Gauge* zk_connected_gauge_ = nullptr;
  std::unique_ptr<HttpServer> http_;
  std::unique_ptr<ZkClient> zk_;
  std::atomic<bool> zk_connected_{false};
  std::atomic<bool> stopping_{false};
  std::thread connector_;
};

}  // namespace baton::arbiter
