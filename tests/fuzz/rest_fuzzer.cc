// Fuzz target: the arbiter's REST request parsing (arbiter/rest_api.cc,
// status_view.*, mirror_targets.*, cluster_state.*; common/http_router.*),
// through the real routes and handlers, and the decoders of the JSON the
// arbiter keeps in ZooKeeper.
//
// Input: byte 0 picks a mode (kModes, 'a' being the first); the bytes up to the first '\n' are
// the "param" (a raw path segment, a query string, or a whole request line),
// the rest is the body. Route modes build the request as HttpServer does
// (Router::Find, PercentDecode, ParseQuery) and call the handler of an
// arbiter replica that does not lead and knows no leader, so a request that
// passes its checks ends in 503 and nothing leaves the process. Checks:
//  - no handler throws (HttpServer would answer 500: a bug), every answer is
//    JSON with a known status;
//  - a mutation answers 400 exactly when its parser (ParseOperationBody,
//    ParseMaintenanceBody, ApplyConfigUpdate, ParseMirrorTargetPut) refuses
//    the body, with the parser's message, and 503 otherwise;
//  - what a parser accepts encodes to JSON its decoder reads back equal
//    (what the leader stores in ZooKeeper, it can read);
//  - the stored-JSON decoders return a value or INVALID_ARGUMENT, and what
//    they accept round-trips through its encoder.
#include <cstddef>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

#include "arbiter/cluster_book.h"
#include "arbiter/cluster_state.h"
#include "arbiter/mirror_targets.h"
#include "arbiter/rest_api.h"
#include "arbiter/status_view.h"
#include "common/http_router.h"
#include "tests/fuzz/fuzz_util.h"

namespace baton::arbiter {
namespace {

using nlohmann::json;

// An arbiter replica that follows nobody: reads find no ZooKeeper, mutations
// find no leader to forward to.
class LonelyBackend : public RestBackend {
 public:
  const std::string& replica_id() const override { return id_; }
  bool leading() const override { return false; }
  std::optional<LeaderInfo> leader() const override { return std::nullopt; }
  Result<std::shared_ptr<ZkClient>> zookeeper() const override {
    return Status::Unavailable("no ZooKeeper in the fuzzer");
  }
  std::string election_path() const override { return ""; }
  const std::string& zookeeper_root() const override { return root_; }
  ClusterBook& book() override { return book_; }
  MonoTime now() const override { return MonoTime{}; }
  void ReloadMirrorTargets() override {}

 private:
  const std::string id_ = "arbiter-fuzz";
  const std::string root_ = "/baton";
  ClusterBook book_{ClusterBookOptions{}};
};

enum Mode : uint8_t {
  kSwitchover, kFailover, kMaintenance, kPutConfig, kPutMirrorTarget, kDeleteMirrorTarget, kEvents, kGetCluster,
  kRequestLine, kClusterState, kClusterConfig, kStoredMirrorTarget, kEvent, kObservation, kModes
};

struct Routed {
  std::string method;
  std::string target;  // raw path and query, as sent
};

Routed RouteFor(uint8_t mode, const std::string& param) {
  switch (mode) {
    case kSwitchover: return {"POST", "/v1/clusters/" + param + "/switchover"};
    case kFailover: return {"POST", "/v1/clusters/" + param + "/failover"};
    case kMaintenance: return {"PUT", "/v1/clusters/" + param + "/maintenance"};
    case kPutConfig: return {"PUT", "/v1/clusters/" + param + "/config"};
    case kPutMirrorTarget: return {"PUT", "/v1/mirror-targets/" + param};
    case kDeleteMirrorTarget: return {"DELETE", "/v1/mirror-targets/" + param};
    case kEvents: return {"GET", "/v1/events?" + param};
    case kGetCluster: return {"GET", "/v1/clusters/" + param};
    default: {  // kRequestLine: "METHOD /path?query"
      const size_t space = param.find(' ');
      if (space == std::string::npos) return {"GET", param};
      return {param.substr(0, space), param.substr(space + 1)};
    }
  }
}

const Router& Routes() {
  static LonelyBackend backend;  // constructed first, so it outlives the routes
  static const Router router = [] {
    Router r;
    AddRestRoutes(r, backend, RestOptions{});
    FUZZ_CHECK(r.status().ok(), r.status().ToString());
    return r;
  }();
  return router;
}

// HttpServer::Impl::Dispatch without Poco: route, decode, call.
std::optional<HttpResponse> Serve(const Routed& routed, const std::string& body, HttpRequest* request) {
  if (routed.method.empty() || routed.target.empty() || routed.target.front() != '/') return std::nullopt;
  const size_t query_at = routed.target.find('?');
  const std::string_view raw_path = std::string_view(routed.target).substr(0, query_at);
  std::string_view raw_query = query_at == std::string::npos ? "" : std::string_view(routed.target).substr(query_at + 1);
  raw_query = raw_query.substr(0, raw_query.find('#'));
  Result<Router::Match> found = Routes().Find(routed.method, raw_path);
  if (!found.ok()) {
    FUZZ_CHECK(found.status().code() == StatusCode::kInvalidArgument, found.status().ToString());
    return std::nullopt;
  }
  if (found->kind != Router::Match::Kind::kFound) return std::nullopt;
  Result<std::string> path = PercentDecode(raw_path, /*plus_is_space=*/false);
  if (!path.ok()) return std::nullopt;
  Result<std::map<std::string, std::string>> query = ParseQuery(raw_query);
  if (!query.ok()) return std::nullopt;
  request->method = routed.method;
  request->path = std::move(*path);
  request->path_params = std::move(found->path_params);
  request->query_params = std::move(*query);
  request->body = body;
  return (*found->handler)(*request);  // a throw escapes: libFuzzer reports it
}

// `s` as an answer carries it: invalid UTF-8 (a path echoed back) replaced.
std::string AsAnswered(const std::string& s) {
  return json::parse(json(s).dump(-1, ' ', false, json::error_handler_t::replace)).get<std::string>();
}

std::string ErrorMessage(const HttpResponse& response) {
  json doc = json::parse(response.body);
  return doc["error"]["message"].get<std::string>();
}

// The answer of a replica that does not lead to a mutation whose body
// `parsed` says is fine (503: no leader to forward to) or not (400).
void CheckMutation(const HttpResponse& response, const Status& parsed) {
  if (parsed.ok()) {
    FUZZ_CHECK(response.status == 503, "accepted body answered " + std::to_string(response.status));
  } else {
    FUZZ_CHECK(parsed.code() == StatusCode::kInvalidArgument, parsed.ToString());
    FUZZ_CHECK(response.status == 400, "refused body answered " + std::to_string(response.status));
    FUZZ_CHECK(ErrorMessage(response) == AsAnswered(parsed.message()),
               ErrorMessage(response) + " vs " + parsed.message());
  }
}

void CheckConfigRoundTrip(const ClusterConfig& config) {
  Result<ClusterConfig> decoded = DecodeClusterConfig(EncodeClusterConfig(config));
  FUZZ_CHECK(decoded.ok(), "a config does not decode from its encoding: " + decoded.status().ToString());
  ClusterConfig expected = config;
  expected.zk_version = decoded->zk_version;
  FUZZ_CHECK(*decoded == expected, "a config changes through its encoding");
}

void CheckRoute(uint8_t mode, const std::string& param, const std::string& body) {
  HttpRequest request;
  std::optional<HttpResponse> response = Serve(RouteFor(mode, param), body, &request);
  if (!response) return;
  FUZZ_CHECK(response->status >= 200 && response->status <= 599);
  const json answer = json::parse(response->body, nullptr, /*allow_exceptions=*/false);
  FUZZ_CHECK(!answer.is_discarded() && answer.is_object(), "an answer is not a JSON object: " + response->body);

  switch (mode) {
    case kSwitchover:
    case kFailover: {
      auto op = ParseOperationBody(mode == kFailover ? OperationKind::kFailover : OperationKind::kSwitchover, request);
      CheckMutation(*response, op.ok() ? Status::Ok() : op.status());
      if (op.ok()) FUZZ_CHECK(op->timeout.count() >= 1 && op->timeout.count() <= 600000);
      break;
    }
    case kMaintenance: {
      auto enabled = ParseMaintenanceBody(request);
      CheckMutation(*response, enabled.ok() ? Status::Ok() : enabled.status());
      break;
    }
    case kPutConfig: {
      auto doc = request.JsonBody();
      if (!doc.ok()) {
        CheckMutation(*response, doc.status());
        break;
      }
      auto shape = ApplyConfigUpdate(ClusterConfig{}, *doc);
      CheckMutation(*response, shape.ok() || shape.status().code() != StatusCode::kInvalidArgument ? Status::Ok()
                                                                                                  : shape.status());
      // The same update against a config at the version the body names.
      ClusterConfig current;
      if (doc->is_object() && doc->contains("version") && (*doc)["version"].is_number_unsigned()) {
        current.version = (*doc)["version"].get<uint64_t>();
      }
      auto next = ApplyConfigUpdate(current, *doc);
      if (next.ok()) {
        FUZZ_CHECK(next->version == current.version + 1);
        CheckConfigRoundTrip(*next);
      }
      break;
    }
    case kPutMirrorTarget: {
      auto doc = request.JsonBody();
      if (!doc.ok()) {
        CheckMutation(*response, doc.status());
        break;
      }
      auto put = ParseMirrorTargetPut(request.PathParam("name"), *doc);
      CheckMutation(*response, put.ok() ? Status::Ok() : put.status());
      if (put.ok()) {
        auto stored = DecodeMirrorTarget(EncodeMirrorTarget(put->target));
        FUZZ_CHECK(stored.ok() && *stored == put->target, "an accepted mirror target does not round-trip");
      }
      break;
    }
    default:
      break;
  }
}

void CheckStored(uint8_t mode, const std::string& param, const std::string& body) {
  switch (mode) {
    case kClusterState: {
      auto state = DecodeClusterState(body);
      if (!state.ok()) {
        FUZZ_CHECK(state.status().code() == StatusCode::kInvalidArgument, state.status().ToString());
        break;
      }
      auto again = DecodeClusterState(EncodeClusterState(*state));
      FUZZ_CHECK(again.ok() && *again == *state, "a cluster state does not round-trip");
      (void)AssignmentFor(*state, ClusterConfig{}, param);
      break;
    }
    case kClusterConfig: {
      auto config = DecodeClusterConfig(body);
      if (!config.ok()) {
        FUZZ_CHECK(config.status().code() == StatusCode::kInvalidArgument, config.status().ToString());
        break;
      }
      CheckConfigRoundTrip(*config);
      (void)ConfigView(*config).dump();
      break;
    }
    case kStoredMirrorTarget: {
      auto target = DecodeMirrorTarget(body);
      if (!target.ok()) {
        FUZZ_CHECK(target.status().code() == StatusCode::kInvalidArgument, target.status().ToString());
        break;
      }
      auto again = DecodeMirrorTarget(EncodeMirrorTarget(*target));
      FUZZ_CHECK(again.ok() && *again == *target, "a mirror target does not round-trip");
      break;
    }
    case kEvent:
      (void)HttpResponse::Json(200, EventView(param.size(), body));
      break;
    case kObservation: {
      ClusterState state;
      state.members = {{"g1", "127.0.0.1:7700"}, {"g2", "127.0.0.1:7701"}};
      state.active = "g1";
      state.sync_set = {"g2"};
      const int64_t now_ms = 1'700'000'000'000 + static_cast<int64_t>(param.size());
      (void)HttpResponse::Json(200, FollowerClusterView("c1", state, ClusterConfig{}, body, now_ms));
      break;
    }
    default:
      break;
  }
}

}  // namespace
}  // namespace baton::arbiter

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  baton::fuzz::QuietLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using namespace baton::arbiter;
  if (size == 0) return 0;
  const uint8_t mode = static_cast<uint8_t>(bytes[0] - 'a') % kModes;  // 'a' = switchover: readable seeds
  const std::string_view rest(reinterpret_cast<const char*>(bytes) + 1, size - 1);
  const size_t newline = rest.find('\n');
  const std::string param(rest.substr(0, newline));
  const std::string body(newline == std::string_view::npos ? std::string_view() : rest.substr(newline + 1));
  if (mode <= kRequestLine) {
    CheckRoute(mode, param, body);
  } else {
    CheckStored(mode, param, body);
  }
  return 0;
}
