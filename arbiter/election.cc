#include "arbiter/election.h"

#include <algorithm>

#include <spdlog/spdlog.h>

namespace baton::arbiter {
namespace {

constexpr std::string_view kPrefix = "n_";

// Children are "n_<10 digits>"; the sequence number orders them (plain
// string order agrees because ZooKeeper zero-pads it).
std::vector<std::string> Candidates(std::vector<std::string> children) {
  std::erase_if(children, [](const std::string& c) { return c.rfind(kPrefix, 0) != 0; });
  std::sort(children.begin(), children.end());
  return children;
}

}  // namespace

Election::Election(ZkClient& zk, std::string dir, std::string data, OnChange on_change)
    : zk_(zk), dir_(std::move(dir)), data_(std::move(data)), on_change_(std::move(on_change)) {}

Election::~Election() {
  MutexLock lock(&lifetime_->mu);  // a running watch callback finishes first
  lifetime_->alive = false;
}

Status Election::Start() {
  BATON_RETURN_IF_ERROR(zk_.EnsurePath(dir_));
  auto created = zk_.Create(dir_ + "/" + std::string(kPrefix), data_, CreateMode::kEphemeralSequential);
  if (!created.ok()) return created.status().WithContext("joining the arbiter election");
  {
    MutexLock lock(&mu_);
    own_path_ = *created;
    own_name_ = own_path_.substr(own_path_.rfind('/') + 1);
  }
  spdlog::info("joined election as {}", *created);
  Evaluate();
  return Status::Ok();
}

void Election::Evaluate() {
  std::string own_name;
  {
    MutexLock lock(&mu_);
    if (gone_) return;
    own_name = own_name_;
  }
  for (;;) {
    auto children = zk_.GetChildren(dir_);
    if (!children.ok()) {
      // Connection loss: the C client re-arms our predecessor watch when it
      // reconnects within the session; an expiry arrives as a session event.
      spdlog::warn("election: cannot list {}: {}", dir_, children.status().ToString());
      if (children.status().code() == StatusCode::kFailedPrecondition) SetLeader(false);
      return;
    }
    std::vector<std::string> candidates = Candidates(std::move(children).value());
    auto own = std::find(candidates.begin(), candidates.end(), own_name);
    if (own == candidates.end()) {
      spdlog::error("election: own znode {}/{} is gone; leaving the election", dir_, own_name);
      {
        MutexLock lock(&mu_);
        gone_ = true;
      }
      SetLeader(false);
      return;
    }
    if (own == candidates.begin()) {
      SetLeader(true);
      return;
    }
    const std::string predecessor = dir_ + "/" + *(own - 1);
    auto exists = zk_.ExistsW(predecessor, [this, lifetime = lifetime_](const ZkWatchEvent& event) {
      MutexLock alive_lock(&lifetime->mu);
      if (!lifetime->alive) return;  // the election is gone; its client is not
      if (event.type == ZkEventType::kSession) {
        {
          MutexLock lock(&mu_);
          gone_ = true;
        }
        SetLeader(false);
        return;
      }
      Evaluate();
    });
    if (!exists.ok()) {
      spdlog::warn("election: cannot watch {}: {}", predecessor, exists.status().ToString());
      if (exists.status().code() == StatusCode::kFailedPrecondition) SetLeader(false);
      return;
    }
    // The predecessor vanished between the listing and the watch: look again.
    if (exists->has_value()) {
      SetLeader(false);
      spdlog::info("election: following; watching {}", predecessor);
      return;
    }
  }
}

void Election::SetLeader(bool leader) {
  {
    MutexLock lock(&mu_);
    if (leader_ == leader) return;
    leader_ = leader;
  }
  spdlog::info("election: this replica is {}", leader ? "the leader" : "no longer the leader");
  if (on_change_) on_change_(leader);
}

bool Election::is_leader() const {
  MutexLock lock(&mu_);
  return leader_;
}

std::string Election::own_path() const {
  MutexLock lock(&mu_);
  return own_path_;
}

Result<std::string> Election::ReadLeaderData() {
  // The lowest candidate may vanish between listing and reading: try again.
  for (int attempt = 0; attempt < 3; ++attempt) {
    auto children = zk_.GetChildren(dir_);
    if (!children.ok()) return children.status();
    std::vector<std::string> candidates = Candidates(std::move(children).value());
    if (candidates.empty()) return Status::NotFound("no arbiter replica is in the election under " + dir_);
    auto node = zk_.Get(dir_ + "/" + candidates.front());
    if (node.ok()) return node->data;
    if (node.status().code() != StatusCode::kNotFound) return node.status();
  }
  return Status::Unavailable("the election under " + dir_ + " keeps changing");
}

}  // namespace baton::arbiter
