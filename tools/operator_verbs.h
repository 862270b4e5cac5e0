// batonctl's operator verbs: status, cluster, switchover, failover,
// maintenance, config get|set, events and mirror-targets [set|delete], thin clients of the arbiter's REST
// API (docs/operator-api.md, docs/batonctl.md) over tools/rest_client.h.
//
// The Format* functions are pure (no I/O) and thread-safe; the rest runs on
// the caller's thread, once per batonctl invocation.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <ostream>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace CLI {
class App;
}

namespace baton::tools {

// batonctl's exit codes, which scripts branch on.
enum ExitCode : int {
  kExitOk = 0,
  kExitRefused = 1,       // the server refused: 400, 404, 412, other errors
  kExitUsage = 2,         // bad flags or arguments; nothing was sent
  kExitUnavailable = 3,   // no arbiter reachable, or 503
  kExitTimeout = 4,       // 504, or no answer to a mutation in time
  kExitConflict = 5,      // 409
  kExitUnauthorized = 6,  // 401
};

// 2xx -> kExitOk; 401, 409, 503, 504 -> their codes; anything else kExitRefused.
int ExitCodeForHttpStatus(int http_status);

inline constexpr char kDefaultArbiter[] = "127.0.0.1:7790";

struct OperatorArgs {
  // Where the arbiter is; see ResolveArbiterSettings.
  std::vector<std::string> arbiters;  // --arbiter, repeatable, comma lists allowed
  std::string token;
  std::string config_file;
  int http_timeout_ms = 0;  // 0: the verb's default

  std::string cluster;
  bool json = false;  // the verb's own --json (batonctl's global one works too)
  std::string to;
  bool force = false;
  int timeout_ms = 0;  // switchover/failover operation timeout; 0: the arbiter's default
  std::string maintenance;  // on | off
  int64_t sync_standbys = -1;  // -1: unchanged
  std::vector<std::string> priorities;  // ID=N
  std::string mirror_mode;
  int64_t version = -1;  // -1: read the current one first
  int limit = 0;  // 0: the arbiter's default
  std::string target;  // mirror-targets set|delete NAME
  std::string target_cluster;
  std::vector<std::string> target_addresses;  // --address, repeatable, comma lists allowed

  // Set by AddOperatorVerbs, read by RunOperatorVerb.
  CLI::App* app = nullptr;
  CLI::App* status = nullptr;
  CLI::App* cluster_cmd = nullptr;
  CLI::App* switchover = nullptr;
  CLI::App* failover = nullptr;
  CLI::App* maintenance_cmd = nullptr;
  CLI::App* config_get = nullptr;
  CLI::App* config_set = nullptr;
  CLI::App* events = nullptr;
  CLI::App* mirror_targets = nullptr;
  CLI::App* mirror_set = nullptr;
  CLI::App* mirror_delete = nullptr;
};

// Adds the global --arbiter, --token, --config and --http-timeout-ms options
// to `app` and the operator subcommands (which also accept those options
// after the verb). `*args` must outlive the parse and RunOperatorVerb.
void AddOperatorVerbs(CLI::App* app, OperatorArgs* args);

// Runs the operator verb chosen on the command line, printing to `out` and
// errors to `err`; returns the exit code, or nullopt when no operator verb
// was chosen. `json` is batonctl's global --json.
std::optional<int> RunOperatorVerb(const OperatorArgs& args, bool json, std::ostream& out, std::ostream& err);

struct ArbiterSettings {
  std::vector<std::string> addresses;
  std::string token;
};

// Addresses and token, each from the first of: flag (`flag_token` set when
// --token was given), environment (BATON_ARBITER, a comma list, and
// BATON_API_TOKEN), the YAML file `config_file` (keys arbiter.http, a list or
// comma string, and api.token; other keys are ignored, so an arbiter's own
// config file serves for the token), default (127.0.0.1:7790, no token).
// INVALID_ARGUMENT: unreadable or malformed file, wrong types, a malformed
// address.
Result<ArbiterSettings> ResolveArbiterSettings(const std::vector<std::string>& flag_addresses,
                                               const std::optional<std::string>& flag_token,
                                               const std::string& config_file);

// GET /v1/status as text: per cluster a header line (name, epoch, active,
// maintenance, sync set, waiting_for and operation when set, leader, age of
// the observation) and a table of its instances. Missing fields show as "-"
// rather than failing, so an older or newer arbiter still prints.
std::string FormatStatusTable(const nlohmann::json& status);
// One <cluster> (GET /v1/clusters/{c}); `leader` is shown when non-empty.
// When the cluster mirrors to targets, a second table follows the
// instances': per target its peer address, whether connected, the delivered
// seq, the lag (entries and seconds) and the last error.
std::string FormatCluster(const nlohmann::json& cluster, const std::string& leader = "");
// A config object (GET /v1/clusters/{c}/config).
std::string FormatConfig(const nlohmann::json& config);
// GET /v1/events as a table: TIME, CLUSTER, TYPE, INSTANCE, EPOCH, MESSAGE.
std::string FormatEvents(const nlohmann::json& events);
// GET /v1/mirror-targets as a table: NAME, CLUSTER, ADDRESSES, VERSION.
std::string FormatMirrorTargets(const nlohmann::json& answer);
// A switchover or failover answer: "switchover c1: g1 -> g2 at epoch 5 (180 ms)".
std::string FormatOperation(const nlohmann::json& answer);
// "FAILED_PRECONDITION: <message>" from a REST error body; "HTTP <status>"
// plus the start of the body when it is not one.
std::string FormatRestError(int http_status, const nlohmann::json& body);

}  // namespace baton::tools
