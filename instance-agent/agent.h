// The instance agent process. In this version it serves /healthz and
// /metrics; probing, heartbeats and role assignment arrive with the arbiter
// issue.
#pragma once

#include <memory>

#include "common/config.h"
#include "common/http_server.h"
#include "common/metrics.h"
#include "common/status.h"

namespace baton::agent {

// Start() and Stop() from the main thread.
class Agent {
 public:
  explicit Agent(const Config& config);
  ~Agent();
  Status Start();
  void Stop();

 private:
  const Config config_;
  Metrics metrics_;
  std::unique_ptr<HttpServer> http_;
};

}  // namespace baton::agent
