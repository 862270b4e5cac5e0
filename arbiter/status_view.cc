#include "arbiter/status_view.h"

#include <algorithm>
#include <ctime>
#include <limits>
#include <map>
#include <set>

#include <spdlog/fmt/fmt.h>

namespace baton::arbiter {
namespace {

using nlohmann::json;

std::string RoleName(v1::Role role) {
  switch (role) {
    case v1::ROLE_ACTIVE:
      return "active";
    case v1::ROLE_STANDBY:
      return "standby";
    case v1::ROLE_UNASSIGNED:
      return "unassigned";
    default:
      return "unknown";
  }
}

std::string HealthName(v1::Health health) {
  switch (health) {
    case v1::HEALTH_OK:
      return "ok";
    case v1::HEALTH_DEGRADED:
      return "degraded";
    case v1::HEALTH_DOWN:
      return "down";
    default:
      return "unknown";
  }
}

json Position(const v1::LogPosition& position) { return {{"epoch", position.epoch()}, {"seq", position.seq()}}; }

int64_t Ms(MonoTime::duration d) { return std::chrono::duration_cast<std::chrono::milliseconds>(d).count(); }

// The stored parts of a cluster view: what ZooKeeper holds.
void PutStored(json& view, const ClusterState& state, const ClusterConfig& config) {
  view["epoch"] = state.epoch;
  view["active"] = state.active;
  view["maintenance"] = state.maintenance;
  view["sync_set"] = state.sync_set;
  json pending = json::object();
  for (const auto& [id, required] : state.sync_pending) {
    pending[id] = required ? json{{"epoch", required->epoch}, {"seq", required->seq}} : json(nullptr);
  }
  view["sync_pending"] = pending;
  view["config"] = ConfigView(config);
}

json MirrorPeerView(const v1::MirrorPeerState& peer) {
  return {{"target", peer.target()},
          {"cluster", peer.cluster()},
          {"address", peer.address()},
          {"connected", peer.connected()},
          {"delivered_seq", peer.delivered_seq()},
          {"lag_entries", peer.lag_entries()},
          {"lag_seconds", peer.lag_seconds()},
          {"last_error", peer.last_error()},
          {"delivered_writes", peer.delivered_writes()}};
}

// The cluster's mirroring: its mode and, per target, delivery as the active
// last reported it. A target the active does not (yet) report shows with
// nulls: assigned, nothing known. Targets the active reports but the
// cluster is no longer given (just deleted) show too: it still delivers.
json MirrorView(const ClusterObservation& o) {
  std::map<std::string, const v1::MirrorPeerState*> reported;
  if (auto it = o.reports.find(o.state.active); it != o.reports.end()) {
    const v1::Heartbeat& hb = it->second.heartbeat;
    // A gone process delivers nothing: its last words would show a live link.
    if (!hb.gateway_process_gone() && hb.role() == v1::ROLE_ACTIVE) {
      for (const v1::MirrorPeerState& peer : hb.mirror_peers()) reported[peer.target()] = &peer;
    }
  }
  json targets = json::array();
  for (const MirrorTargetSpec& target : o.mirror_targets) {
    auto it = reported.find(target.name);
    if (it != reported.end()) {
      targets.push_back(MirrorPeerView(*it->second));
      reported.erase(it);
      continue;
    }
    targets.push_back({{"target", target.name},
                       {"cluster", target.cluster},
                       {"address", ""},
                       {"connected", false},
                       {"delivered_seq", nullptr},
                       {"lag_entries", nullptr},
                       {"lag_seconds", nullptr},
                       {"last_error", ""},
                       {"delivered_writes", nullptr}});
  }
  for (const auto& [name, peer] : reported) targets.push_back(MirrorPeerView(*peer));
  return {{"mode", o.config.mirror_mode}, {"targets", std::move(targets)}};
}

}  // namespace

int64_t WallNowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::system_clock::now().time_since_epoch())
      .count();
}

json ConfigView(const ClusterConfig& config) {
  return {{"version", config.version},
          {"sync_standbys", config.sync_standbys},
          {"priorities", config.priorities},
          {"mirror", {{"mode", config.mirror_mode}}}};
}

json ClusterView(const std::string& name, const ClusterObservation& o, MonoTime now) {
  json view = {{"name", name}};
  PutStored(view, o.state, o.config);
  view["waiting_for"] = o.waiting_for;
  view["operation"] = nullptr;
  if (o.operation) {
    view["operation"] = {{"kind", std::string(OperationKindName(o.operation->kind))},
                         {"to", o.operation->to},
                         {"started_ms_ago", o.operation_age.count()}};
  }
  view["observed_age_ms"] = 0;
  view["mirror"] = MirrorView(o);

  const InstanceReport* active = nullptr;
  if (auto it = o.reports.find(o.state.active); it != o.reports.end()) active = &it->second;
  std::set<std::string> ids;
  for (const auto& [id, address] : o.state.members) ids.insert(id);
  for (const auto& [id, report] : o.reports) ids.insert(id);
  json instances = json::array();
  for (const std::string& id : ids) {
    const InstanceReport* report = nullptr;
    if (auto it = o.reports.find(id); it != o.reports.end()) report = &it->second;
    json instance = {{"id", id}};
    auto member = o.state.members.find(id);
    instance["address"] = member != o.state.members.end() ? member->second
                          : report != nullptr             ? report->heartbeat.address()
                                                          : std::string();
    instance["sync"] = std::find(o.state.sync_set.begin(), o.state.sync_set.end(), id) != o.state.sync_set.end();
    instance["priority"] = EffectivePriority(o.config, id, report);
    if (report == nullptr) {
      instance.update({{"role", "unknown"}, {"epoch", 0}, {"health", "unknown"}, {"durable", nullptr},
                       {"applied", nullptr}, {"lag_entries", nullptr}, {"lease_remaining_ms", -1},
                       {"fenced", false}, {"handing_over", false}, {"connected", false},
                       {"last_report_ms_ago", -1}});
    } else {
      const v1::Heartbeat& hb = report->heartbeat;
      json lag = nullptr;
      if (id == o.state.active) {
        lag = 0;
      } else if (active != nullptr) {
        const uint64_t head = active->heartbeat.durable().seq();
        lag = head > hb.durable().seq() ? head - hb.durable().seq() : 0;
      }
      instance.update({{"role", hb.gateway_process_gone() ? "unknown" : RoleName(hb.role())},
                       {"epoch", hb.epoch()},
                       {"health", hb.gateway_process_gone() ? "down" : HealthName(hb.health())},
                       {"durable", Position(hb.durable())},
                       {"applied", Position(hb.applied())},
                       {"lag_entries", lag},
                       // The last lease a gone process reported means nothing now.
                       {"lease_remaining_ms", hb.gateway_process_gone() ? -1 : hb.lease_remaining_ms()},
                       {"fenced", hb.fenced()},
                       {"handing_over", hb.handing_over()},
                       {"connected", report->stream_open},
                       {"last_report_ms_ago", std::max<int64_t>(0, Ms(now - report->received))}});
    }
    instances.push_back(std::move(instance));
  }
  view["instances"] = std::move(instances);
  return view;
}

json FollowerClusterView(const std::string& name, const ClusterState& state, const ClusterConfig& config,
                         const std::optional<std::string>& observed, int64_t now_wall_ms) {
  json view;
  if (observed) view = json::parse(*observed, nullptr, /*allow_exceptions=*/false);
  if (!view.is_object() || !view.contains("as_of_ms") || !view["as_of_ms"].is_number_integer()) {
    // Never observed (or not by a version we understand): the stored parts
    // and the members, with nothing live.
    ClusterObservation stored;
    stored.state = state;
    stored.config = config;
    view = ClusterView(name, stored, MonoTime{});
    view["observed_age_ms"] = -1;
    return view;
  }
  const int64_t age = std::max<int64_t>(0, now_wall_ms - view["as_of_ms"].get<int64_t>());
  view.erase("as_of_ms");
  PutStored(view, state, config);
  view["name"] = name;
  view["observed_age_ms"] = age;
  if (view.contains("operation") && view["operation"].is_object()) view["operation"]["started_ms_ago"] = nullptr;
  // The mode is stored config (the truth); the targets' delivery is live.
  if (!view.contains("mirror") || !view["mirror"].is_object()) view["mirror"] = {{"targets", json::array()}};
  view["mirror"]["mode"] = config.mirror_mode;
  if (view.contains("instances") && view["instances"].is_array()) {
    for (json& instance : view["instances"]) {
      if (!instance.is_object()) continue;
      // A non-string id is no member's (found by the rest fuzz target).
      const std::string id = StringFieldOrEmpty(instance, "id");
      instance["sync"] = std::find(state.sync_set.begin(), state.sync_set.end(), id) != state.sync_set.end();
      if (instance.contains("last_report_ms_ago") && instance["last_report_ms_ago"].is_number_integer() &&
          instance["last_report_ms_ago"].get<int64_t>() >= 0) {
        instance["last_report_ms_ago"] = instance["last_report_ms_ago"].get<int64_t>() + age;
      }
    }
  }
  return view;
}

std::string StringFieldOrEmpty(const json& doc, std::string_view key) {
  if (!doc.is_object()) return "";
  const auto it = doc.find(key);
  return it != doc.end() && it->is_string() ? it->get<std::string>() : "";
}

Status CheckFields(const json& body, std::initializer_list<std::string_view> allowed) {
  if (!body.is_object()) return Status::InvalidArgument("request body: must be a JSON object");
  for (auto it = body.begin(); it != body.end(); ++it) {
    if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end()) {
      return Status::InvalidArgument(fmt::format("field \"{}\": unknown field (allowed: {})", it.key(),
                                                 fmt::join(allowed, ", ")));
    }
  }
  return Status::Ok();
}

Result<ClusterConfig> ApplyConfigUpdate(const ClusterConfig& current, const json& body) {
  BATON_RETURN_IF_ERROR(CheckFields(body, {"version", "sync_standbys", "priorities", "mirror"}));
  auto bad = [](std::string_view field, std::string_view problem) {
    return Status::InvalidArgument(fmt::format("field \"{}\": {}", field, problem));
  };
  auto u32 = [&](const json& v, const std::string& field, uint32_t max, uint32_t* out) -> Status {
    if (!v.is_number_unsigned() || v.get<uint64_t>() > max) {
      return bad(field, fmt::format("must be an integer in 0..{}", max));
    }
    *out = static_cast<uint32_t>(v.get<uint64_t>());
    return Status::Ok();
  };
  if (!body.contains("version")) return bad("version", "required (compare-and-set: the version you read)");
  if (!body["version"].is_number_unsigned()) return bad("version", "must be an unsigned integer");
  const uint64_t version = body["version"].get<uint64_t>();
  ClusterConfig next = current;
  if (body.contains("sync_standbys")) {
    BATON_RETURN_IF_ERROR(u32(body["sync_standbys"], "sync_standbys", 1000, &next.sync_standbys));
  }
  if (body.contains("priorities")) {
    const json& priorities = body["priorities"];
    if (!priorities.is_object()) return bad("priorities", "must be an object of instance id -> priority");
    next.priorities.clear();
    for (auto it = priorities.begin(); it != priorities.end(); ++it) {
      if (it.key().empty()) return bad("priorities", "an instance id is empty");
      uint32_t priority = 0;
      BATON_RETURN_IF_ERROR(u32(it.value(), "priorities." + it.key(), std::numeric_limits<uint32_t>::max(), &priority));
      next.priorities[it.key()] = priority;
    }
  }
  if (body.contains("mirror")) {
    const json& mirror = body["mirror"];
    if (!mirror.is_object()) return bad("mirror", "must be an object like {\"mode\": \"async\"}");
    for (auto it = mirror.begin(); it != mirror.end(); ++it) {
      if (it.key() != "mode") return bad("mirror." + it.key(), "unknown field (allowed: mode)");
    }
    if (mirror.contains("mode")) {
      const json& mode = mirror["mode"];
      if (!mode.is_string() || (mode != "async" && mode != "sync")) return bad("mirror.mode", "must be \"async\" or \"sync\"");
      next.mirror_mode = mode.get<std::string>();
    }
  }
  if (version != current.version) {
    return Status::Aborted(fmt::format("version {} is not the current config version {}; read it again and retry",
                                       version, current.version));
  }
  next.version = current.version + 1;
  return next;
}

std::string EncodeEvent(const ClusterEvent& event) {
  json doc = event.fields;
  doc["cluster"] = event.cluster;
  doc["type"] = event.type;
  doc["instance"] = event.instance;
  doc["epoch"] = event.epoch;
  return doc.dump();
}

json EventView(uint64_t seq, const std::string& stored_json) {
  json doc = json::parse(stored_json, nullptr, /*allow_exceptions=*/false);
  if (!doc.is_object()) doc = {{"type", "unreadable"}, {"message", "event znode does not hold a JSON object"}};
  doc["seq"] = seq;
  if (doc.contains("time_ms") && doc["time_ms"].is_number_integer()) {
    const int64_t ms = doc["time_ms"].get<int64_t>();
    const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
    std::tm tm{};
    gmtime_r(&seconds, &tm);
    char buf[32];
    std::strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S", &tm);
    doc["time"] = fmt::format("{}.{:03d}Z", buf, static_cast<int>(ms % 1000));
  }
  return doc;
}

}  // namespace baton::arbiter
