#include "tools/operator_verbs.h"

#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <ctime>
#include <map>
#include <sstream>

#include <CLI/CLI.hpp>
#include <yaml-cpp/yaml.h>

#include "common/mirror_target.h"
#include "tools/rest_client.h"
#include "tools/text_table.h"

namespace baton::tools {
namespace {

using nlohmann::json;

// The arbiter's own default for switchover/failover timeout_ms.
constexpr int kDefaultOperationTimeoutMs = 10000;
// Beyond the operation's timeout, so the arbiter's 504 arrives before ours.
constexpr int kOperationTimeoutSlackMs = 5000;
constexpr int kDefaultHttpTimeoutMs = 5000;

// Field accessors that tolerate absent fields and unexpected types: the
// arbiter is newer or older than this client often enough.
std::string Text(const json& j, const char* key, const std::string& missing = "-") {
  if (!j.is_object()) return missing;
  auto it = j.find(key);
  if (it == j.end() || it->is_null()) return missing;
  if (it->is_string()) return it->get<std::string>();
  return it->dump(-1, ' ', false, json::error_handler_t::replace);
}

std::optional<int64_t> Int(const json& j, const char* key) {
  if (!j.is_object()) return std::nullopt;
  auto it = j.find(key);
  if (it == j.end() || !it->is_number_integer()) return std::nullopt;
  return it->get<int64_t>();
}

std::string Flag(const json& j, const char* key, const char* yes, const char* no) {
  if (!j.is_object()) return "-";
  auto it = j.find(key);
  if (it == j.end() || !it->is_boolean()) return "-";
  return it->get<bool>() ? yes : no;
}

bool IsTrue(const json& j, const char* key) {
  if (!j.is_object()) return false;
  auto it = j.find(key);
  return it != j.end() && it->is_boolean() && it->get<bool>();
}

const json& Member(const json& j, const char* key) {
  static const json kNull;
  if (!j.is_object()) return kNull;
  auto it = j.find(key);
  return it == j.end() ? kNull : *it;
}

std::string Join(const json& list, const std::string& sep) {
  std::string out;
  if (!list.is_array()) return out;
  for (const json& item : list) {
    out += (out.empty() ? "" : sep) + (item.is_string() ? item.get<std::string>() : item.dump());
  }
  return out;
}

std::string Priorities(const json& priorities) {
  std::string out;
  if (!priorities.is_object()) return "-";
  for (const auto& [id, value] : priorities.items()) out += (out.empty() ? "" : " ") + id + "=" + value.dump();
  return out.empty() ? "-" : out;
}

// 1795449845123 -> "2026-11-23T16:04:05.123Z".
std::string IsoTime(int64_t ms) {
  const std::time_t seconds = static_cast<std::time_t>(ms / 1000);
  std::tm tm{};
  gmtime_r(&seconds, &tm);
  char text[40];
  std::strftime(text, sizeof text, "%Y-%m-%dT%H:%M:%S", &tm);
  char millis[8];
  std::snprintf(millis, sizeof millis, ".%03dZ", static_cast<int>(ms % 1000));
  return std::string(text) + millis;
}

// Keeps unreserved characters: cluster names land in a path segment or a
// query value.
std::string UrlEncode(const std::string& in) {
  static const char kHex[] = "0123456789ABCDEF";
  std::string out;
  for (unsigned char c : in) {
    if (std::isalnum(c) || c == '-' || c == '.' || c == '_' || c == '~') {
      out += static_cast<char>(c);
    } else {
      out += '%';
      out += kHex[c >> 4];
      out += kHex[c & 15];
    }
  }
  return out;
}

std::vector<std::string> SplitList(const std::string& text) {
  std::vector<std::string> out;
  std::stringstream ss(text);
  std::string item;
  while (std::getline(ss, item, ',')) {
    const size_t begin = item.find_first_not_of(" \t");
    if (begin == std::string::npos) continue;
    out.push_back(item.substr(begin, item.find_last_not_of(" \t") - begin + 1));
  }
  return out;
}

struct FileSettings {
  std::vector<std::string> addresses;
  std::optional<std::string> token;
};

Result<FileSettings> ReadConfigFile(const std::string& path) {
  auto bad = [&](const std::string& why) { return Status::InvalidArgument("config file '" + path + "': " + why); };
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return bad("cannot be read");
  } catch (const YAML::Exception& e) {
    return bad(e.what());
  }
  FileSettings settings;
  if (root.IsNull()) return settings;
  if (!root.IsMap()) return bad("expected a mapping at the top level");
  // Nested (arbiter: {http: ...}) as in our other config files; the flat
  // dotted spelling is accepted too.
  auto find = [&](const char* section, const char* key) -> YAML::Node {
    const YAML::Node& const_root = root;
    if (const_root[section] && const_root[section].IsMap() && const_root[section][key]) {
      return const_root[section][key];
    }
    return const_root[std::string(section) + "." + key];
  };
  try {
    if (YAML::Node http = find("arbiter", "http"); http && !http.IsNull()) {
      if (http.IsScalar()) {
        settings.addresses = SplitList(http.as<std::string>());
      } else if (http.IsSequence()) {
        for (const YAML::Node& item : http) {
          if (!item.IsScalar()) return bad("arbiter.http must be a list of host:port or a comma-separated string");
          for (std::string& a : SplitList(item.as<std::string>())) settings.addresses.push_back(std::move(a));
        }
      } else {
        return bad("arbiter.http must be a list of host:port or a comma-separated string");
      }
    }
    if (YAML::Node token = find("api", "token"); token && !token.IsNull()) {
      if (!token.IsScalar()) return bad("api.token must be a string");
      settings.token = token.as<std::string>();
    }
  } catch (const YAML::Exception& e) {
    return bad(e.what());
  }
  return settings;
}

// "g2=5" -> {"g2", 5}; names the bad item.
Result<std::pair<std::string, uint32_t>> ParsePriority(const std::string& item) {
  const size_t eq = item.find('=');
  const std::string value = eq == std::string::npos ? "" : item.substr(eq + 1);
  if (eq == std::string::npos || eq == 0 || value.empty() || value.size() > 10 ||
      value.find_first_not_of("0123456789") != std::string::npos || std::stoull(value) > UINT32_MAX) {
    return Status::InvalidArgument("--priority '" + item + "' is not ID=N with N in 0..4294967295");
  }
  return std::pair<std::string, uint32_t>(item.substr(0, eq), static_cast<uint32_t>(std::stoull(value)));
}

int ExitCodeFor(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument: return kExitUsage;
    case StatusCode::kUnavailable: return kExitUnavailable;
    case StatusCode::kDeadlineExceeded: return kExitTimeout;
    default: return kExitRefused;
  }
}

// One verb's run: the client, where output goes and what errors are prefixed with.
class Verb {
 public:
  Verb(const OperatorArgs& args, bool json, std::ostream& out, std::ostream& err, std::string what,
       ArbiterClient client)
      : args_(args), json_(json), out_(out), err_(err), what_(std::move(what)), client_(std::move(client)) {}

  // The answer when it is a 2xx; otherwise prints why and sets *rc.
  std::optional<RestAnswer> Call(std::string_view method, const std::string& path, int* rc,
                                 const std::optional<json>& body = std::nullopt) {
    Result<RestAnswer> answer = Send(method, path, body);
    if (!Check(answer, rc)) return std::nullopt;
    return std::move(answer).value();
  }

  Result<RestAnswer> Send(std::string_view method, const std::string& path,
                          const std::optional<json>& body = std::nullopt) {
    return client_.Call(method, path, body);
  }

  // True for a 2xx answer; otherwise prints why and sets *rc.
  bool Check(const Result<RestAnswer>& answer, int* rc) {
    if (!answer.ok()) {
      *rc = Fail(ExitCodeFor(answer.status()), answer.status().message());
      return false;
    }
    if (answer->http_status < 200 || answer->http_status > 299) {
      std::string text = FormatRestError(answer->http_status, answer->body);
      if (answer->http_status == 401) {
        text += " (give the token with --token, BATON_API_TOKEN or api.token in --config)";
      }
      *rc = Fail(ExitCodeForHttpStatus(answer->http_status), text);
      return false;
    }
    return true;
  }

  int Fail(int rc, const std::string& message) {
    err_ << "batonctl: " << what_ << ": " << message << "\n";
    return rc;
  }

  // The answer as scripts read it (--json), or `text`.
  int Print(const RestAnswer& answer, bool verb_json, const std::string& text) {
    if (json_ || verb_json) {
      out_ << answer.body.dump(2, ' ', false, json::error_handler_t::replace) << "\n";
    } else {
      out_ << text;
    }
    return kExitOk;
  }

  const OperatorArgs& args() const { return args_; }

 private:
  const OperatorArgs& args_;
  const bool json_;
  std::ostream& out_;
  std::ostream& err_;
  const std::string what_;
  const ArbiterClient client_;
};

// A cluster's "mirror" object as lines under its instances: nothing when it
// has no targets (the common case need not pay a line for it).
std::string MirrorTable(const json& mirror) {
  const json& targets = Member(mirror, "targets");
  if (!targets.is_array() || targets.empty()) return "";
  std::vector<std::vector<std::string>> rows = {
      {"TARGET", "CLUSTER", "PEER", "CONNECTED", "DELIVERED", "LAG", "LAG_S", "ERROR"}};
  for (const json& t : targets) {
    const std::string address = Text(t, "address", "");
    const json& lag_seconds = Member(t, "lag_seconds");
    char seconds[32] = "-";
    if (lag_seconds.is_number()) std::snprintf(seconds, sizeof seconds, "%.3f", lag_seconds.get<double>());
    const std::string error = Text(t, "last_error", "");
    rows.push_back({Text(t, "target"), Text(t, "cluster"), address.empty() ? "-" : address,
                    Flag(t, "connected", "yes", "no"), Text(t, "delivered_seq"), Text(t, "lag_entries"), seconds,
                    error.empty() ? "-" : error});
  }
  return "  mirror " + Text(mirror, "mode") + "\n" + RenderTable(rows);
}

std::string ClusterPath(const std::string& cluster, const std::string& suffix = "") {
  return "/v1/clusters/" + UrlEncode(cluster) + suffix;
}

int RunStatus(Verb& v) {
  int rc = kExitOk;
  auto answer = v.Call("GET", "/v1/status", &rc);
  if (!answer) return rc;
  return v.Print(*answer, v.args().json, FormatStatusTable(answer->body));
}

int RunCluster(Verb& v) {
  int rc = kExitOk;
  auto answer = v.Call("GET", ClusterPath(v.args().cluster), &rc);
  if (!answer) return rc;
  return v.Print(*answer, v.args().json, FormatCluster(answer->body));
}

int RunOperation(Verb& v, const std::string& kind) {
  const OperatorArgs& a = v.args();
  json body = json::object();
  if (!a.to.empty()) body["to"] = a.to;
  if (kind == "failover") body["force"] = a.force;
  if (a.timeout_ms > 0) body["timeout_ms"] = a.timeout_ms;
  int rc = kExitOk;
  auto answer = v.Call("POST", ClusterPath(a.cluster, "/" + kind), &rc, body);
  if (!answer) return rc;
  return v.Print(*answer, false, FormatOperation(answer->body));
}

int RunMaintenance(Verb& v) {
  const OperatorArgs& a = v.args();
  const bool on = a.maintenance == "on";
  int rc = kExitOk;
  auto answer = v.Call("PUT", ClusterPath(a.cluster, "/maintenance"), &rc, json{{"enabled", on}});
  if (!answer) return rc;
  return v.Print(*answer, false,
                 "maintenance " + a.maintenance + " for " + a.cluster +
                     (on ? ": automatic failover paused\n" : ": automatic failover resumed\n"));
}

int RunConfigGet(Verb& v) {
  int rc = kExitOk;
  auto answer = v.Call("GET", ClusterPath(v.args().cluster, "/config"), &rc);
  if (!answer) return rc;
  return v.Print(*answer, v.args().json, FormatConfig(answer->body));
}

int RunConfigSet(Verb& v) {
  const OperatorArgs& a = v.args();
  std::map<std::string, uint32_t> priorities;
  for (const std::string& item : a.priorities) {
    Result<std::pair<std::string, uint32_t>> p = ParsePriority(item);
    if (!p.ok()) return v.Fail(kExitUsage, p.status().message());
    if (!priorities.emplace(p->first, p->second).second) {
      return v.Fail(kExitUsage, "--priority '" + p->first + "' given twice");
    }
  }
  if (a.sync_standbys < 0 && priorities.empty() && a.mirror_mode.empty()) {
    return v.Fail(kExitUsage, "nothing to set (give --sync-standbys, --priority or --mirror-mode)");
  }

  const std::string path = ClusterPath(a.cluster, "/config");
  int rc = kExitOk;
  json body = json::object();
  // PUT replaces priorities and mirror whole, so a partial change is applied
  // to the current config; its version makes the PUT a compare-and-set.
  if (a.version < 0 || !priorities.empty()) {
    auto current = v.Call("GET", path, &rc);
    if (!current) return rc;
    const std::optional<int64_t> version = Int(current->body, "version");
    if (!version) return v.Fail(kExitRefused, "the arbiter's config has no version: " + current->body.dump());
    if (a.version >= 0 && a.version != *version) {
      return v.Fail(kExitConflict, "config changed concurrently (version is now " + std::to_string(*version) +
                                       ", not " + std::to_string(a.version) + "); retry");
    }
    body["version"] = *version;
    if (!priorities.empty()) {
      const json& stored = Member(current->body, "priorities");
      json merged = stored.is_object() ? stored : json::object();
      for (const auto& [id, priority] : priorities) merged[id] = priority;
      body["priorities"] = merged;
    }
    if (const json& mirror = Member(current->body, "mirror"); !a.mirror_mode.empty() && mirror.is_object()) {
      body["mirror"] = mirror;
    }
  } else {
    body["version"] = a.version;
  }
  if (a.sync_standbys >= 0) body["sync_standbys"] = a.sync_standbys;
  if (!a.mirror_mode.empty()) {
    if (!body.contains("mirror")) body["mirror"] = json::object();
    body["mirror"]["mode"] = a.mirror_mode;
  }

  Result<RestAnswer> put = v.Send("PUT", path, body);
  if (put.ok() && put->http_status == 409) {
    // The 409 does not say which version won; one more read does.
    Result<RestAnswer> now = v.Send("GET", path);
    const std::optional<int64_t> version =
        now.ok() && now->http_status == 200 ? Int(now->body, "version") : std::nullopt;
    return v.Fail(kExitConflict, "config changed concurrently" +
                                     (version ? " (version is now " + std::to_string(*version) + ")" : "") +
                                     "; retry");
  }
  if (!v.Check(put, &rc)) return rc;
  return v.Print(*put, false,
                 "config " + a.cluster + ": version " + Text(put->body, "version") + "\n" + FormatConfig(put->body));
}

int RunEvents(Verb& v) {
  const OperatorArgs& a = v.args();
  std::string query;
  if (!a.cluster.empty()) query += "cluster=" + UrlEncode(a.cluster);
  if (a.limit > 0) query += (query.empty() ? "" : "&") + std::string("limit=") + std::to_string(a.limit);
  int rc = kExitOk;
  auto answer = v.Call("GET", "/v1/events" + (query.empty() ? "" : "?" + query), &rc);
  if (!answer) return rc;
  return v.Print(*answer, a.json, FormatEvents(answer->body));
}

std::string MirrorTargetPath(const std::string& name) { return "/v1/mirror-targets/" + UrlEncode(name); }

int RunMirrorTargets(Verb& v) {
  int rc = kExitOk;
  auto answer = v.Call("GET", "/v1/mirror-targets", &rc);
  if (!answer) return rc;
  return v.Print(*answer, v.args().json, FormatMirrorTargets(answer->body));
}

int RunMirrorTargetSet(Verb& v) {
  const OperatorArgs& a = v.args();
  std::vector<std::string> addresses;
  for (const std::string& item : a.target_addresses) {
    for (std::string& address : SplitList(item)) addresses.push_back(std::move(address));
  }
  // The arbiter checks the same; checking here sends nothing doomed.
  const MirrorTargetSpec spec{a.target, a.target_cluster, addresses};
  if (Status valid = ValidateMirrorTarget(spec); !valid.ok()) return v.Fail(kExitUsage, valid.message());
  json body = {{"cluster", spec.cluster}, {"addresses", spec.addresses}};
  if (a.version >= 0) body["version"] = a.version;
  int rc = kExitOk;
  auto answer = v.Call("PUT", MirrorTargetPath(a.target), &rc, body);
  if (!answer) return rc;
  const json& t = answer->body;
  return v.Print(*answer, a.json,
                 "mirror target " + Text(t, "name") + ": cluster " + Text(t, "cluster") + " at " +
                     Join(Member(t, "addresses"), ",") + " (version " + Text(t, "version") + ")\n");
}

int RunMirrorTargetDelete(Verb& v) {
  int rc = kExitOk;
  auto answer = v.Call("DELETE", MirrorTargetPath(v.args().target), &rc);
  if (!answer) return rc;
  return v.Print(*answer, v.args().json,
                 "deleted mirror target " + Text(answer->body, "name") + " (cluster " + Text(answer->body, "cluster") +
                     ")\n");
}

}  // namespace

int ExitCodeForHttpStatus(int http_status) {
  if (http_status >= 200 && http_status <= 299) return kExitOk;
  switch (http_status) {
    case 401: return kExitUnauthorized;
    case 409: return kExitConflict;
    case 503: return kExitUnavailable;
    case 504: return kExitTimeout;
    default: return kExitRefused;
  }
}

void AddOperatorVerbs(CLI::App* app, OperatorArgs* a) {
  a->app = app;
  app->add_option("--arbiter", a->arbiters,
                  "Arbiter REST address host:port, tried in order (repeatable or comma list; env BATON_ARBITER, "
                  "config arbiter.http; default " + std::string(kDefaultArbiter) + ")")
      ->delimiter(',');
  app->add_option("--token", a->token, "Bearer token for arbiter mutations (env BATON_API_TOKEN, config api.token)");
  app->add_option("--config", a->config_file, "YAML file with arbiter.http and api.token");
  app->add_option("--http-timeout-ms", a->http_timeout_ms,
                  "Arbiter socket timeout (default: switchover/failover timeout + 5000, else 5000)")
      ->check(CLI::PositiveNumber);

  auto verb = [&](CLI::App* parent, const char* name, const char* help) {
    CLI::App* cmd = parent->add_subcommand(name, help);
    cmd->fallthrough();  // --arbiter and friends may follow the verb
    return cmd;
  };
  auto cluster = [&](CLI::App* cmd) { cmd->add_option("cluster", a->cluster, "Cluster name")->required(); };
  auto json_flag = [&](CLI::App* cmd) { cmd->add_flag("--json", a->json, "Print the arbiter's JSON answer"); };

  a->status = verb(app, "status", "Arbiter: every cluster's state and instances (GET /v1/status)");
  json_flag(a->status);

  a->cluster_cmd = verb(app, "cluster", "Arbiter: one cluster's state and instances");
  cluster(a->cluster_cmd);
  json_flag(a->cluster_cmd);

  a->switchover = verb(app, "switchover", "Arbiter: planned, lossless change of a cluster's active");
  cluster(a->switchover);
  a->switchover->add_option("--to", a->to, "Instance to promote (default: the best healthy sync standby)");
  a->switchover->add_option("--timeout-ms", a->timeout_ms, "Abandon it after this long (arbiter default 10000)")
      ->check(CLI::PositiveNumber);

  a->failover = verb(app, "failover", "Arbiter: promote an instance now, without the active's help");
  cluster(a->failover);
  a->failover->add_option("--to", a->to, "Instance to promote")->required();
  a->failover->add_flag("--force", a->force, "Promote it even if not in the sync set or behind (loses its gap)");
  a->failover->add_option("--timeout-ms", a->timeout_ms, "Abandon it after this long (arbiter default 10000)")
      ->check(CLI::PositiveNumber);

  a->maintenance_cmd = verb(app, "maintenance", "Arbiter: pause (on) or resume (off) automatic failover");
  a->maintenance_cmd->add_option("state", a->maintenance, "on | off")
      ->required()
      ->check(CLI::IsMember({"on", "off"}));
  cluster(a->maintenance_cmd);

  CLI::App* config = verb(app, "config", "Arbiter: read or change a cluster's config");
  config->require_subcommand(1);
  a->config_get = verb(config, "get", "Print the cluster's config");
  cluster(a->config_get);
  json_flag(a->config_get);
  a->config_set = verb(config, "set", "Change the cluster's config (compare-and-set on its version)");
  cluster(a->config_set);
  a->config_set->add_option("--sync-standbys", a->sync_standbys, "Standbys that must ack a write (0..1000)")
      ->check(CLI::Range(int64_t{0}, int64_t{1000}));
  a->config_set->add_option("--priority", a->priorities, "ID=N: promotion priority of an instance (repeatable)")
      ->delimiter(',');
  a->config_set->add_option("--mirror-mode", a->mirror_mode, "async | sync")->check(CLI::IsMember({"async", "sync"}));
  a->config_set->add_option("--version", a->version, "Expected current version (default: read it first)")
      ->check(CLI::NonNegativeNumber);

  a->events = verb(app, "events", "Arbiter: recent events (promotions, switchovers, ...), oldest first");
  a->events->add_option("--cluster", a->cluster, "Only this cluster's events");
  a->events->add_option("--limit", a->limit, "The newest N events (1..1000, arbiter default 100)")
      ->check(CLI::Range(1, 1000));
  json_flag(a->events);

  a->mirror_targets = verb(app, "mirror-targets", "Arbiter: list mirror targets, or set or delete one");
  a->mirror_targets->require_subcommand(0, 1);
  json_flag(a->mirror_targets);
  a->mirror_set = verb(a->mirror_targets, "set", "Create or replace a mirror target (PUT /v1/mirror-targets/NAME)");
  a->mirror_set->add_option("name", a->target, "Target name")->required();
  a->mirror_set->add_option("--cluster", a->target_cluster, "The peer cluster's name (its instance.cluster)")
      ->required();
  a->mirror_set
      ->add_option("--address", a->target_addresses,
                   "gRPC host:port of a peer gateway (repeatable or comma list; at least one)")
      ->required()
      ->delimiter(',');
  a->mirror_set->add_option("--version", a->version, "Change it only if at this version (0: only create)")
      ->check(CLI::NonNegativeNumber);
  a->mirror_delete = verb(a->mirror_targets, "delete", "Delete a mirror target (DELETE /v1/mirror-targets/NAME)");
  a->mirror_delete->add_option("name", a->target, "Target name")->required();
}

std::optional<int> RunOperatorVerb(const OperatorArgs& args, bool json, std::ostream& out, std::ostream& err) {
  std::string name;
  // Subcommands after their parents: the most specific parsed one wins.
  for (auto [cmd, verb_name] : {std::pair{args.status, "status"}, {args.cluster_cmd, "cluster"},
                                {args.switchover, "switchover"}, {args.failover, "failover"},
                                {args.maintenance_cmd, "maintenance"}, {args.config_get, "config get"},
                                {args.config_set, "config set"}, {args.events, "events"},
                                {args.mirror_targets, "mirror-targets"}, {args.mirror_set, "mirror-targets set"},
                                {args.mirror_delete, "mirror-targets delete"}}) {
    if (cmd != nullptr && cmd->parsed()) name = verb_name;
  }
  if (name.empty()) return std::nullopt;
  const bool operation = name == "switchover" || name == "failover";
  const bool mirror = name.rfind("mirror-targets", 0) == 0;
  const bool names_cluster = name != "status" && name != "events" && !mirror;
  std::string what = name;
  if (name == "maintenance") what += " " + args.maintenance;
  if (names_cluster) what += " " + args.cluster;
  if (names_cluster && args.cluster.empty()) {
    err << "batonctl: " << what << ": the cluster name is empty\n";
    return kExitUsage;
  }
  if (name == "mirror-targets set" || name == "mirror-targets delete") what += " " + args.target;

  std::optional<std::string> flag_token;
  if (args.app->count("--token") > 0) flag_token = args.token;
  Result<ArbiterSettings> settings = ResolveArbiterSettings(args.arbiters, flag_token, args.config_file);
  if (!settings.ok()) {
    err << "batonctl: " << what << ": " << settings.status().message() << "\n";
    return kExitUsage;
  }

  OperatorArgs effective = args;
  // batonctl's global --timeout-ms, given before the verb, means the same
  // thing to a switchover as the verb's own.
  if (operation && effective.timeout_ms == 0 && args.app->count("--timeout-ms") > 0) {
    if (const CLI::Option* global = args.app->get_option_no_throw("--timeout-ms")) {
      effective.timeout_ms = global->as<int>();
    }
  }
  int http_timeout_ms = args.http_timeout_ms;
  if (http_timeout_ms <= 0) {
    http_timeout_ms = operation ? (effective.timeout_ms > 0 ? effective.timeout_ms : kDefaultOperationTimeoutMs) +
                                      kOperationTimeoutSlackMs
                                : kDefaultHttpTimeoutMs;
  }

  Verb v(effective, json, out, err, what,
         ArbiterClient(settings->addresses, settings->token, std::chrono::milliseconds(http_timeout_ms)));
  try {
    if (name == "status") return RunStatus(v);
    if (name == "cluster") return RunCluster(v);
    if (operation) return RunOperation(v, name);
    if (name == "maintenance") return RunMaintenance(v);
    if (name == "config get") return RunConfigGet(v);
    if (name == "config set") return RunConfigSet(v);
    if (name == "mirror-targets") return RunMirrorTargets(v);
    if (name == "mirror-targets set") return RunMirrorTargetSet(v);
    if (name == "mirror-targets delete") return RunMirrorTargetDelete(v);
    return RunEvents(v);
  } catch (const json::exception& e) {
    // The formatters read defensively; this is a last resort for an answer
    // shaped unlike anything the contract describes.
    return v.Fail(kExitRefused, std::string("unexpected answer from the arbiter: ") + e.what());
  }
}

Result<ArbiterSettings> ResolveArbiterSettings(const std::vector<std::string>& flag_addresses,
                                               const std::optional<std::string>& flag_token,
                                               const std::string& config_file) {
  FileSettings file;
  if (!config_file.empty()) {
    BATON_ASSIGN_OR_RETURN(file, ReadConfigFile(config_file));
  }
  auto env = [](const char* name) -> std::optional<std::string> {
    const char* value = std::getenv(name);
    if (value == nullptr || *value == '\0') return std::nullopt;
    return std::string(value);
  };

  ArbiterSettings settings;
  std::string source;
  for (const std::string& item : flag_addresses) {
    for (std::string& a : SplitList(item)) settings.addresses.push_back(std::move(a));
  }
  source = "--arbiter";
  if (settings.addresses.empty()) {
    if (std::optional<std::string> value = env("BATON_ARBITER")) {
      settings.addresses = SplitList(*value);
      source = "BATON_ARBITER";
    }
  }
  if (settings.addresses.empty() && !file.addresses.empty()) {
    settings.addresses = file.addresses;
    source = "arbiter.http in " + config_file;
  }
  if (settings.addresses.empty()) {
    settings.addresses = {kDefaultArbiter};
    source = "default";
  }
  for (const std::string& address : settings.addresses) {
    Result<std::pair<std::string, uint16_t>> parsed = ParseHostPort(address);
    if (!parsed.ok()) return parsed.status().WithContext(source);
  }

  if (flag_token) {
    settings.token = *flag_token;
  } else if (std::optional<std::string> value = env("BATON_API_TOKEN")) {
    settings.token = *value;
  } else if (file.token) {
    settings.token = *file.token;
  }
  return settings;
}

std::string FormatCluster(const json& c, const std::string& leader) {
  std::string header = Text(c, "name") + "  epoch " + Text(c, "epoch");
  const std::string active = Text(c, "active", "");
  header += "  active " + (active.empty() ? std::string("none") : active);
  header += "  maintenance " + Flag(c, "maintenance", "on", "off");
  header += "  sync {" + Join(Member(c, "sync_set"), ",") + "}";
  const std::string waiting_for = Text(c, "waiting_for", "");
  if (!waiting_for.empty()) header += "  waiting for: " + waiting_for + ";";
  const json& op = Member(c, "operation");
  if (op.is_object()) {
    header += "  operation " + Text(op, "kind") + " to " + Text(op, "to");
    if (Int(op, "started_ms_ago")) header += " (started " + Text(op, "started_ms_ago") + " ms ago)";
  }
  if (!leader.empty()) header += "  leader " + leader;
  if (const std::optional<int64_t> age = Int(c, "observed_age_ms")) {
    header += *age < 0 ? "  never observed" : "  observed " + std::to_string(*age) + " ms ago";
  }

  std::vector<std::vector<std::string>> rows = {
      {"ID", "ROLE", "HEALTH", "EPOCH", "DURABLE", "LAG", "LEASE", "SYNC", "PRIO", "CONNECTED"}};
  const json& instances = Member(c, "instances");
  if (instances.is_array()) {
    for (const json& i : instances) {
      std::string role = Text(i, "role");
      if (IsTrue(i, "fenced")) role += "/fenced";
      if (IsTrue(i, "handing_over")) role += "/handing_over";
      const json& durable = Member(i, "durable");
      const std::optional<int64_t> lease = Int(i, "lease_remaining_ms");
      rows.push_back({Text(i, "id"), role, Text(i, "health"), Text(i, "epoch"),
                      durable.is_object() ? Text(durable, "epoch") + ":" + Text(durable, "seq") : "-",
                      Text(i, "lag_entries"), lease && *lease >= 0 ? std::to_string(*lease) : "-",
                      Flag(i, "sync", "yes", "no"), Text(i, "priority"), Flag(i, "connected", "yes", "no")});
    }
  }
  std::string out = header + "\n";
  out += rows.size() > 1 ? RenderTable(rows) : "  (no instances)\n";
  out += MirrorTable(Member(c, "mirror"));
  return out;
}

std::string FormatMirrorTargets(const json& answer) {
  const json& list = Member(answer, "mirror_targets");
  if (!list.is_array() || list.empty()) return "no mirror targets\n";
  std::vector<std::vector<std::string>> rows = {{"NAME", "CLUSTER", "ADDRESSES", "VERSION"}};
  for (const json& t : list) {
    const std::string addresses = Join(Member(t, "addresses"), ",");
    rows.push_back({Text(t, "name"), Text(t, "cluster"), addresses.empty() ? "-" : addresses, Text(t, "version")});
  }
  return RenderTable(rows, "");
}

std::string FormatStatusTable(const json& status) {
  const json& leader = Member(status, "leader");
  const std::string leader_id = leader.is_object() ? Text(leader, "id") : "none";
  const json& clusters = Member(status, "clusters");
  if (!clusters.is_array() || clusters.empty()) return "no clusters (leader " + leader_id + ")\n";
  std::string out;
  for (const json& c : clusters) out += (out.empty() ? "" : "\n") + FormatCluster(c, leader_id);
  return out;
}

std::string FormatConfig(const json& config) {
  const json& mirror = Member(config, "mirror");
  return RenderTable({{"version", Text(config, "version")},
                      {"sync_standbys", Text(config, "sync_standbys")},
                      {"priorities", Priorities(Member(config, "priorities"))},
                      {"mirror.mode", mirror.is_object() ? Text(mirror, "mode") : "-"}},
                     "");
}

std::string FormatEvents(const json& events) {
  const json& list = events.is_array() ? events : Member(events, "events");
  if (!list.is_array() || list.empty()) return "no events\n";
  std::vector<std::vector<std::string>> rows = {{"TIME", "CLUSTER", "TYPE", "INSTANCE", "EPOCH", "MESSAGE"}};
  for (const json& e : list) {
    std::string time = Text(e, "time", "");
    if (time.empty()) time = Int(e, "time_ms") ? IsoTime(*Int(e, "time_ms")) : "-";
    const std::string instance = Text(e, "instance", "");
    const std::string message = Text(e, "message", "");
    rows.push_back({time, Text(e, "cluster"), Text(e, "type"), instance.empty() ? "-" : instance, Text(e, "epoch"),
                    message.empty() ? "-" : message});
  }
  return RenderTable(rows, "");
}

std::string FormatOperation(const json& answer) {
  const std::string from = Text(answer, "from", "");
  return Text(answer, "kind") + " " + Text(answer, "cluster") + ": " + (from.empty() ? "none" : from) + " -> " +
         Text(answer, "to") + " at epoch " + Text(answer, "epoch") + " (" + Text(answer, "duration_ms") + " ms)\n";
}

std::string FormatRestError(int http_status, const json& body) {
  const json& error = Member(body, "error");
  if (error.is_object() && error.contains("code")) return Text(error, "code") + ": " + Text(error, "message", "");
  std::string text = "HTTP " + std::to_string(http_status);
  std::string detail = body.is_string() ? body.get<std::string>()
                       : body.is_null() ? ""
                                        : body.dump(-1, ' ', false, json::error_handler_t::replace);
  for (char& ch : detail) {
    if (ch == '\n' || ch == '\r') ch = ' ';
  }
  if (detail.size() > 200) detail = detail.substr(0, 200) + "...";
  return detail.empty() ? text : text + ": " + detail;
}

}  // namespace baton::tools
