#include "arbiter/cluster_state.h"

#include <spdlog/fmt/fmt.h>

#include <algorithm>
#include <functional>
#include <limits>
#include <nlohmann/json.hpp>
#include <utility>

namespace baton::arbiter {
namespace {

using nlohmann::json;

constexpr std::string_view kStateWhat = "cluster state";
constexpr std::string_view kConfigWhat = "cluster config";

Status FieldError(std::string_view what, std::string_view field, std::string_view problem) {
  return Status::InvalidArgument(fmt::format("{}: field \"{}\": {}", what, field, problem));
}

// Parses `text` into a JSON object. nlohmann reports syntax errors by
// throwing; they stop here.
Result<json> ParseObject(std::string_view what, std::string_view text) {
  json doc;
  try {
    doc = json::parse(text);
  } catch (const json::exception& e) {
    return Status::InvalidArgument(fmt::format("{}: not valid JSON: {}", what, e.what()));
  }
  if (!doc.is_object()) return Status::InvalidArgument(fmt::format("{}: must be a JSON object", what));
  return doc;
}

// Calls the handler registered for each key of `doc`; a key without one is
// an error, so a misspelt or foreign field never passes silently. Missing
// keys keep their defaults.
using FieldHandler = std::function<Status(const json&)>;
Status ForEachField(std::string_view what, const json& doc, const std::map<std::string_view, FieldHandler>& handlers) {
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    auto handler = handlers.find(it.key());
    if (handler == handlers.end()) return FieldError(what, it.key(), "unknown field");
    BATON_RETURN_IF_ERROR(handler->second(it.value()));
  }
  return Status::Ok();
}

Status ReadU64(std::string_view what, std::string_view field, const json& value, uint64_t* out) {
  // Negative numbers parse as number_integer and fractions (or values past
  // 2^64) as number_float: all are refused.
  if (!value.is_number_unsigned()) return FieldError(what, field, "must be an unsigned integer");
  *out = value.get<uint64_t>();
  return Status::Ok();
}

Status ReadU32(std::string_view what, std::string_view field, const json& value, uint32_t* out) {
  uint64_t wide = 0;
  BATON_RETURN_IF_ERROR(ReadU64(what, field, value, &wide));
  if (wide > std::numeric_limits<uint32_t>::max()) {
    return FieldError(what, field, "must be an unsigned 32-bit integer");
  }
  *out = static_cast<uint32_t>(wide);
  return Status::Ok();
}

Status ReadString(std::string_view what, std::string_view field, const json& value, std::string* out) {
  if (!value.is_string()) return FieldError(what, field, "must be a string");
  *out = value.get<std::string>();
  return Status::Ok();
}

Status ReadBool(std::string_view what, std::string_view field, const json& value, bool* out) {
  if (!value.is_boolean()) return FieldError(what, field, "must be a boolean");
  *out = value.get<bool>();
  return Status::Ok();
}

Status ReadMembers(const json& value, std::map<std::string, std::string>* out) {
  if (!value.is_object()) return FieldError(kStateWhat, "members", "must be an object of instance id -> address");
  for (auto it = value.begin(); it != value.end(); ++it) {
    if (it.key().empty()) return FieldError(kStateWhat, "members", "empty instance id");
    BATON_RETURN_IF_ERROR(ReadString(kStateWhat, "members." + it.key(), it.value(), &(*out)[it.key()]));
  }
  return Status::Ok();
}

Status ReadSyncSet(const json& value, std::vector<std::string>* out) {
  if (!value.is_array()) return FieldError(kStateWhat, "sync_set", "must be an array of instance ids");
  for (size_t i = 0; i < value.size(); ++i) {
    std::string id;
    BATON_RETURN_IF_ERROR(ReadString(kStateWhat, fmt::format("sync_set[{}]", i), value[i], &id));
    out->push_back(std::move(id));
  }
  return Status::Ok();
}

// "sync_pending": {"g2": null, "g3": {"epoch": 4, "seq": 10}}.
Status ReadSyncPending(const json& value, std::map<std::string, std::optional<StoredPosition>>* out) {
  constexpr std::string_view field = "sync_pending";
  if (!value.is_object()) return FieldError(kStateWhat, field, "must be an object of instance id -> position or null");
  for (auto it = value.begin(); it != value.end(); ++it) {
    const std::string name = fmt::format("sync_pending.{}", it.key());
    if (it.key().empty()) return FieldError(kStateWhat, field, "empty instance id");
    std::optional<StoredPosition>& required = (*out)[it.key()];
    if (it.value().is_null()) continue;
    if (!it.value().is_object()) return FieldError(kStateWhat, name, "must be null or {\"epoch\": n, \"seq\": n}");
    StoredPosition position;
    for (auto part = it.value().begin(); part != it.value().end(); ++part) {
      const std::string part_name = name + "." + part.key();
      if (part.key() == "epoch") {
        BATON_RETURN_IF_ERROR(ReadU64(kStateWhat, part_name, part.value(), &position.epoch));
      } else if (part.key() == "seq") {
        BATON_RETURN_IF_ERROR(ReadU64(kStateWhat, part_name, part.value(), &position.seq));
      } else {
        return FieldError(kStateWhat, part_name, "unknown field");
      }
    }
    required = position;
  }
  return Status::Ok();
}

// The invariants ClusterState promises (and AssignmentFor relies on).
Status ValidateState(ClusterState& state) {
  std::sort(state.sync_set.begin(), state.sync_set.end());
  state.sync_set.erase(std::unique(state.sync_set.begin(), state.sync_set.end()), state.sync_set.end());
  if (!state.active.empty() && !state.members.contains(state.active)) {
    return FieldError(kStateWhat, "active", fmt::format("\"{}\" is not a member", state.active));
  }
  for (const std::string& id : state.sync_set) {
    if (id == state.active) return FieldError(kStateWhat, "sync_set", fmt::format("contains the active \"{}\"", id));
    if (!state.members.contains(id)) return FieldError(kStateWhat, "sync_set", fmt::format("\"{}\" is not a member", id));
  }
  for (const auto& [id, required] : state.sync_pending) {
    if (!std::binary_search(state.sync_set.begin(), state.sync_set.end(), id)) {
      return FieldError(kStateWhat, "sync_pending", fmt::format("\"{}\" is not in the sync set", id));
    }
  }
  return Status::Ok();
}

std::string Dump(const json& doc) {
  // `replace`: dump() would otherwise throw on a string that is not UTF-8.
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

}  // namespace

bool ClusterState::operator==(const ClusterState& other) const {
  return epoch == other.epoch && active == other.active && members == other.members && sync_set == other.sync_set &&
         sync_pending == other.sync_pending && maintenance == other.maintenance && zk_version == other.zk_version;
}

bool ClusterConfig::operator==(const ClusterConfig& other) const {
  return sync_standbys == other.sync_standbys && priorities == other.priorities && mirror_mode == other.mirror_mode &&
         version == other.version && zk_version == other.zk_version;
}

std::string EncodeClusterState(const ClusterState& state) {
  // Written in the normal form Decode enforces, so what we store we can read.
  std::vector<std::string> sync_set;
  for (const std::string& id : state.sync_set) {
    if (id != state.active) sync_set.push_back(id);
  }
  std::sort(sync_set.begin(), sync_set.end());
  sync_set.erase(std::unique(sync_set.begin(), sync_set.end()), sync_set.end());
  json pending = json::object();
  for (const auto& [id, required] : state.sync_pending) {
    if (!std::binary_search(sync_set.begin(), sync_set.end(), id)) continue;
    pending[id] = required ? json{{"epoch", required->epoch}, {"seq", required->seq}} : json(nullptr);
  }
  json doc = {{"epoch", state.epoch},
              {"active", state.active},
              {"members", state.members},
              {"sync_set", sync_set},
              {"sync_pending", pending},
              {"maintenance", state.maintenance}};
  return Dump(doc);
}

Result<ClusterState> DecodeClusterState(std::string_view text) {
  BATON_ASSIGN_OR_RETURN(json doc, ParseObject(kStateWhat, text));
  ClusterState state;
  const std::string_view w = kStateWhat;
  BATON_RETURN_IF_ERROR(ForEachField(
      w, doc,
      {
          {"epoch", [&](const json& v) { return ReadU64(w, "epoch", v, &state.epoch); }},
          {"active", [&](const json& v) { return ReadString(w, "active", v, &state.active); }},
          {"members", [&](const json& v) { return ReadMembers(v, &state.members); }},
          {"sync_set", [&](const json& v) { return ReadSyncSet(v, &state.sync_set); }},
          {"sync_pending", [&](const json& v) { return ReadSyncPending(v, &state.sync_pending); }},
          {"maintenance", [&](const json& v) { return ReadBool(w, "maintenance", v, &state.maintenance); }},
      }));
  BATON_RETURN_IF_ERROR(ValidateState(state));
  return state;
}

std::string EncodeClusterConfig(const ClusterConfig& config) {
  json doc = {{"sync_standbys", config.sync_standbys},
              {"priorities", config.priorities},
              {"mirror_mode", config.mirror_mode},
              {"version", config.version}};
  return Dump(doc);
}

Result<ClusterConfig> DecodeClusterConfig(std::string_view text) {
  BATON_ASSIGN_OR_RETURN(json doc, ParseObject(kConfigWhat, text));
  ClusterConfig config;
  const std::string_view w = kConfigWhat;
  auto read_priorities = [&](const json& v) -> Status {
    if (!v.is_object()) return FieldError(w, "priorities", "must be an object of instance id -> priority");
    for (auto it = v.begin(); it != v.end(); ++it) {
      if (it.key().empty()) return FieldError(w, "priorities", "empty instance id");
      BATON_RETURN_IF_ERROR(ReadU32(w, "priorities." + it.key(), it.value(), &config.priorities[it.key()]));
    }
    return Status::Ok();
  };
  auto read_mirror_mode = [&](const json& v) -> Status {
    BATON_RETURN_IF_ERROR(ReadString(w, "mirror_mode", v, &config.mirror_mode));
    if (config.mirror_mode != "async" && config.mirror_mode != "sync") {
      return FieldError(w, "mirror_mode", fmt::format("must be \"async\" or \"sync\", not \"{}\"", config.mirror_mode));
    }
    return Status::Ok();
  };
  BATON_RETURN_IF_ERROR(ForEachField(
      w, doc,
      {
          {"sync_standbys", [&](const json& v) { return ReadU32(w, "sync_standbys", v, &config.sync_standbys); }},
          {"priorities", read_priorities},
          {"mirror_mode", read_mirror_mode},
          {"version", [&](const json& v) { return ReadU64(w, "version", v, &config.version); }},
      }));
  return config;
}

v1::Assignment AssignmentFor(const ClusterState& state, const ClusterConfig& config, const std::string& instance,
                             const std::vector<MirrorTargetSpec>& mirror_targets) {
  v1::Assignment assignment;
  if (!state.members.contains(instance)) {
    assignment.set_role(v1::ROLE_UNASSIGNED);
    return assignment;
  }
  const bool is_active = !state.active.empty() && instance == state.active;
  assignment.set_role(is_active ? v1::ROLE_ACTIVE : v1::ROLE_STANDBY);
  assignment.set_epoch(state.epoch);
  if (auto active = state.members.find(state.active); !state.active.empty() && active != state.members.end()) {
    assignment.set_active_address(active->second);
  }
  // Every member gets the same picture of the standbys: the active connects
  // to all of them, a standby learns who its peers are.
  for (const auto& [id, address] : state.members) {
    if (id != state.active) (*assignment.mutable_standbys())[id] = address;
  }
  uint32_t sync_count = 0;
  for (const std::string& id : state.sync_set) {
    if (id == state.active) continue;  // never true for a decoded state; cheap to keep the promise
    assignment.add_sync_set(id);
    ++sync_count;
  }
  assignment.set_sync_standbys(std::min(config.sync_standbys, sync_count));
  assignment.set_config_version(config.version);
  assignment.set_mirror_mode(config.mirror_mode);
  for (const MirrorTargetSpec& spec : mirror_targets) {
    v1::MirrorTarget* target = assignment.add_mirror_targets();
    target->set_name(spec.name);
    target->set_cluster(spec.cluster);
    for (const std::string& address : spec.addresses) target->add_addresses(address);
  }
  return assignment;
}

}  // namespace baton::arbiter
