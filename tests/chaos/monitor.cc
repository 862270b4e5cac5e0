#include "tests/chaos/monitor.h"

#include "baton/v1/control.grpc.pb.h"

namespace baton::chaos {

Monitor::Monitor(const Mesh& mesh, History& history, std::chrono::milliseconds interval)
    : mesh_(mesh), history_(history), interval_(interval) {}

void Monitor::Start() {
  stop_ = false;
  for (int g = 0; g < mesh_.gateways(); ++g) threads_.emplace_back([this, g] { PollGateway(g); });
  threads_.emplace_back([this] { PollClusters(); });
}

void Monitor::Stop() {
  stop_ = true;
  for (auto& t : threads_) {
    if (t.joinable()) t.join();
  }
  threads_.clear();
}

void Monitor::PollGateway(int g) {
  auto channel = mesh_.NewChannel(g);
  auto stub = v1::GatewayControl::NewStub(channel);
  while (!stop_) {
    GatewayObservation o;
    o.gateway = g;
    v1::GetStateResponse state;
    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(200));
    o.sent = std::chrono::steady_clock::now();
    grpc::Status s = stub->GetState(&context, v1::GetStateRequest(), &state);
    o.received = std::chrono::steady_clock::now();
    o.ok = s.ok();
    if (o.ok) {
      o.role = state.role();
      o.epoch = state.epoch();
      o.lease_remaining_ms = state.lease_remaining_ms();
      o.fenced = state.fenced();
    }
    history_.Observe(o);
    std::this_thread::sleep_for(interval_);  // polling period, not synchronisation
  }
}

void Monitor::PollClusters() {
  while (!stop_) {
    for (int c = 0; c < mesh_.clusters() && !stop_; ++c) {
      auto state = mesh_.ReadState(c);
      if (!state.ok()) continue;
      history_.Observe(ClusterStateObservation{c, std::chrono::steady_clock::now(), state->epoch, state->active});
    }
    std::this_thread::sleep_for(interval_ * 2);  // polling period, not synchronisation
  }
}

}  // namespace baton::chaos
