#include "arbiter/rest_api.h"

#include <future>
#include <sstream>

#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/URI.h>
#include <spdlog/fmt/fmt.h>
#include <spdlog/spdlog.h>

#include "arbiter/mirror_targets.h"
#include "arbiter/state_store.h"
#include "arbiter/status_view.h"

namespace baton::arbiter {
namespace {

using nlohmann::json;

constexpr std::string_view kForwardedBy = "Baton-Forwarded-By";
constexpr int64_t kMaxOperationTimeoutMs = 600000;

class RestApi {
 public:
  RestApi(RestBackend& backend, RestOptions options) : backend_(backend), options_(std::move(options)) {}

  HttpResponse GetStatus(const HttpRequest&) {
    auto views = ClusterViews(std::nullopt);
    if (!views.ok()) return HttpResponse::Error(views.status());
    json clusters = json::array();
    for (auto& [name, view] : *views) clusters.push_back(std::move(view));
    json leader = nullptr;
    if (auto info = backend_.leader()) leader = {{"id", info->id}, {"http", info->http}, {"grpc", info->grpc}};
    return HttpResponse::Json(200, {{"answered_by", backend_.replica_id()}, {"leader", leader}, {"clusters", clusters}});
  }

  HttpResponse GetCluster(const HttpRequest& request) {
    const std::string& cluster = request.PathParam("cluster");
    auto views = ClusterViews(cluster);
    if (!views.ok()) return HttpResponse::Error(views.status());
    return HttpResponse::Json(200, views->at(cluster));
  }

  HttpResponse Operate(const HttpRequest& request, OperationKind kind) {
    const std::string& cluster = request.PathParam("cluster");
    Result<OperationRequest> parsed = ParseOperationBody(kind, request);
    if (!parsed.ok()) return HttpResponse::Error(parsed.status());
    OperationRequest op = std::move(parsed).value();
    if (!backend_.leading()) return Forward(request, op.timeout + options_.forward_timeout);

    const auto timeout = op.timeout;
    auto promise = std::make_shared<std::promise<OperationResult>>();
    std::future<OperationResult> future = promise->get_future();
    Status started = backend_.book().StartOperation(cluster, std::move(op), backend_.now(),
                                                    [promise](const OperationResult& r) { promise->set_value(r); });
    if (!started.ok()) return HttpResponse::Error(started);
    // The leader itself abandons the operation at its timeout; the margin
    // covers a decision loop that is held up (ZooKeeper lost meanwhile).
    if (future.wait_for(timeout + std::chrono::seconds(2)) != std::future_status::ready) {
      return HttpResponse::Error(Status::DeadlineExceeded(
          fmt::format("{} of {} did not complete in {} ms (the leader could not decide meanwhile)",
                      OperationKindName(kind), cluster, timeout.count())));
    }
    const OperationResult result = future.get();
    if (!result.status.ok()) return HttpResponse::Error(result.status);
    return HttpResponse::Json(200, {{"cluster", cluster},
                                    {"kind", std::string(OperationKindName(kind))},
                                    {"from", result.from},
                                    {"to", result.to},
                                    {"epoch", result.epoch},
                                    {"duration_ms", result.duration.count()}});
  }

  HttpResponse PutMaintenance(const HttpRequest& request) {
    const std::string& cluster = request.PathParam("cluster");
    Result<bool> enabled = ParseMaintenanceBody(request);
    if (!enabled.ok()) return HttpResponse::Error(enabled.status());
    if (!backend_.leading()) return Forward(request, options_.forward_timeout);
    auto promise = std::make_shared<std::promise<OperationResult>>();
    std::future<OperationResult> future = promise->get_future();
    Status requested = backend_.book().RequestMaintenance(cluster, *enabled,
                                                          [promise](const OperationResult& r) { promise->set_value(r); });
    if (!requested.ok()) return HttpResponse::Error(requested);
    if (future.wait_for(options_.maintenance_timeout) != std::future_status::ready) {
      return HttpResponse::Error(Status::DeadlineExceeded(
          "the leader could not persist the maintenance flag in time (ZooKeeper slow or lost); it applies it once it can"));
    }
    if (const OperationResult r = future.get(); !r.status.ok()) return HttpResponse::Error(r.status);
    return GetCluster(request);
  }

  HttpResponse GetConfig(const HttpRequest& request) {
    const std::string& cluster = request.PathParam("cluster");
    if (backend_.leading()) {
      auto observed = backend_.book().Observe(backend_.now());
      auto it = observed.find(cluster);
      if (it == observed.end()) return HttpResponse::Error(UnknownCluster(cluster));
      return HttpResponse::Json(200, ConfigView(it->second.config));
    }
    auto store = Store();
    if (!store.ok()) return HttpResponse::Error(store.status());
    if (Status known = CheckKnown(*store->second, cluster); !known.ok()) return HttpResponse::Error(known);
    auto config = store->second->LoadConfig(cluster);
    if (!config.ok()) return HttpResponse::Error(config.status());
    return HttpResponse::Json(200, ConfigView(*config));
  }

  HttpResponse PutConfig(const HttpRequest& request) {
    const std::string& cluster = request.PathParam("cluster");
    auto body = request.JsonBody();
    if (!body.ok()) return HttpResponse::Error(body.status());
    // Shape errors first, so that a follower answers them without the leader.
    if (auto shape = ApplyConfigUpdate(ClusterConfig{}, *body);
        !shape.ok() && shape.status().code() == StatusCode::kInvalidArgument) {
      return HttpResponse::Error(shape.status());
    }
    if (!backend_.leading()) return Forward(request, options_.forward_timeout);
    auto store = Store();
    if (!store.ok()) return HttpResponse::Error(store.status());
    StateStore& zk_store = *store->second;
    if (Status known = CheckKnown(zk_store, cluster); !known.ok()) return HttpResponse::Error(known);
    auto current = zk_store.LoadConfig(cluster);
    if (!current.ok()) return HttpResponse::Error(current.status());
    auto next = ApplyConfigUpdate(*current, *body);
    if (!next.ok()) return HttpResponse::Error(next.status());
    auto written = zk_store.WriteConfig(backend_.election_path(), cluster, *next);
    if (!written.ok()) {
      if (written.status().code() == StatusCode::kAborted) {
        return HttpResponse::Error(Status::Aborted("the config changed concurrently; read it again and retry"));
      }
      return HttpResponse::Error(written.status());
    }
    next->zk_version = *written;
    backend_.book().SetConfig(cluster, *next);
    backend_.book().AddEvent({.cluster = cluster,
                              .type = "config",
                              .fields = {{"version", next->version},
                                         {"config", ConfigView(*next)},
                                         {"message", fmt::format("config version {} (operator)", next->version)}}});
    spdlog::info("cluster={}: config version {} written: {}", cluster, next->version, ConfigView(*next).dump());
    return HttpResponse::Json(200, ConfigView(*next));
  }

  HttpResponse GetEvents(const HttpRequest& request) {
    size_t limit = 100;
    if (const std::string& text = request.Query("limit"); !text.empty()) {
      size_t used = 0;
      unsigned long value = 0;
      try {
        value = std::stoul(text, &used);
      } catch (const std::exception&) {
        used = 0;
      }
      if (used != text.size() || value < 1 || value > 1000) return BadField("limit", "must be an integer in 1..1000");
      limit = value;
    }
    const std::string cluster = request.Query("cluster");
    auto store = Store();
    if (!store.ok()) return HttpResponse::Error(store.status());
    std::function<bool(const std::string&)> accept;
    if (!cluster.empty()) {
      accept = [&cluster](const std::string& stored) {
        json doc = json::parse(stored, nullptr, /*allow_exceptions=*/false);
        return StringFieldOrEmpty(doc, "cluster") == cluster;
      };
    }
    auto events = store->second->ReadEvents(limit, accept, &event_cache_);
    if (!events.ok()) return HttpResponse::Error(events.status());
    json out = json::array();
    for (const auto& event : *events) out.push_back(EventView(event.seq, event.json));
    return HttpResponse::Json(200, {{"events", out}});
  }

  // Mirror targets (docs/operator-api.md): read from ZooKeeper by whichever
  // replica is asked, so leader and followers answer alike.
  HttpResponse ListMirrorTargets(const HttpRequest&) {
    auto store = Store();
    if (!store.ok()) return HttpResponse::Error(store.status());
    auto targets = store->second->ListMirrorTargets();
    if (!targets.ok()) return HttpResponse::Error(targets.status());
    json list = json::array();
    for (const StoredMirrorTarget& target : *targets) list.push_back(MirrorTargetView(target));
    return HttpResponse::Json(200, {{"mirror_targets", list}});
  }

  HttpResponse GetMirrorTarget(const HttpRequest& request) {
    const std::string& name = request.PathParam("name");
    auto store = Store();
    if (!store.ok()) return HttpResponse::Error(store.status());
    auto target = store->second->ReadMirrorTarget(name);
    if (!target.ok()) return HttpResponse::Error(Unreadable(target.status()));
    if (!*target) return HttpResponse::Error(UnknownMirrorTarget(name));
    return HttpResponse::Json(200, MirrorTargetView(**target));
  }

  HttpResponse PutMirrorTarget(const HttpRequest& request) {
    const std::string& name = request.PathParam("name");
    auto body = request.JsonBody();
    if (!body.ok()) return HttpResponse::Error(body.status());
    // Shape errors first, so that a follower answers them without the leader.
    auto put = ParseMirrorTargetPut(name, *body);
    if (!put.ok()) return HttpResponse::Error(put.status());
    if (!backend_.leading()) return Forward(request, options_.forward_timeout);
    auto store = Store();
    if (!store.ok()) return HttpResponse::Error(store.status());
    StateStore& zk_store = *store->second;
    // Without a version the PUT wins over a concurrent one (re-read and
    // retried); with one, any change in between is the caller's conflict.
    constexpr int kAttempts = 3;
    for (int attempt = 1;; ++attempt) {
      auto current = zk_store.ReadMirrorTarget(name);
      if (!current.ok()) return HttpResponse::Error(Unreadable(current.status()));
      if (put->version) {
        const uint64_t have = *current ? (*current)->version() : 0;
        if (have != *put->version) {
          return HttpResponse::Error(Status::Aborted(
              have == 0 ? fmt::format("mirror target \"{}\" does not exist (version {} expected); read it again",
                                      name, *put->version)
                        : fmt::format("mirror target \"{}\" is at version {}, not {}; read it again and retry", name,
                                      have, *put->version)));
        }
      }
      // The same target again changes nothing (no new version, no event).
      if (*current && (*current)->spec == put->target) return HttpResponse::Json(200, MirrorTargetView(**current));
      auto written =
          zk_store.WriteMirrorTarget(backend_.election_path(), put->target, *current ? (*current)->zk_version : -1);
      if (!written.ok()) {
        if (written.status().code() == StatusCode::kAborted) {
          if (!put->version && attempt < kAttempts) continue;
          return HttpResponse::Error(
              Status::Aborted(fmt::format("mirror target \"{}\" changed concurrently; read it again and retry", name)));
        }
        return HttpResponse::Error(written.status());
      }
      const StoredMirrorTarget stored{put->target, *written};
      const MirrorTargetSpec& t = stored.spec;
      backend_.book().AddEvent(
          {.cluster = t.cluster,
           .type = "mirror_target_set",
           .fields = {{"target", t.name},
                      {"addresses", t.addresses},
                      {"version", stored.version()},
                      {"message", fmt::format("mirror target {} -> {} at {} (version {}, operator)", t.name, t.cluster,
                                              fmt::join(t.addresses, ","), stored.version())}}});
      spdlog::info("mirror target {} written (version {}): {}", t.name, stored.version(), FormatMirrorTarget(t));
      // The book takes the stored targets at once and queues the new
      // assignments, which the decision loop sends within decision_interval_ms.
      backend_.ReloadMirrorTargets();
      return HttpResponse::Json(200, MirrorTargetView(stored));
    }
  }

  HttpResponse DeleteMirrorTarget(const HttpRequest& request) {
    const std::string& name = request.PathParam("name");
    if (!backend_.leading()) return Forward(request, options_.forward_timeout);
    auto store = Store();
    if (!store.ok()) return HttpResponse::Error(store.status());
    StateStore& zk_store = *store->second;
    auto current = zk_store.ReadMirrorTarget(name);
    // A znode that does not decode (a hand edit) can still be deleted: that
    // is how an operator gets rid of it.
    if (!current.ok() && current.status().code() != StatusCode::kInvalidArgument) {
      return HttpResponse::Error(current.status());
    }
    const StoredMirrorTarget was =
        current.ok() && *current ? **current : StoredMirrorTarget{MirrorTargetSpec{name, "", {}}, 0};
    if (current.ok() && !*current) return HttpResponse::Error(UnknownMirrorTarget(name));
    Status deleted = zk_store.DeleteMirrorTarget(backend_.election_path(), name, -1);
    if (!deleted.ok()) {
      if (deleted.code() == StatusCode::kNotFound) return HttpResponse::Error(UnknownMirrorTarget(name));
      return HttpResponse::Error(deleted);
    }
    const MirrorTargetSpec& t = was.spec;
    backend_.book().AddEvent({.cluster = t.cluster,
                              .type = "mirror_target_deleted",
                              .fields = {{"target", t.name},
                                         {"message", fmt::format("mirror target {} -> {} deleted (operator)", t.name,
                                                                 t.cluster)}}});
    spdlog::info("mirror target {} deleted (was {})", name, FormatMirrorTarget(t));
    backend_.ReloadMirrorTargets();
    return HttpResponse::Json(200, MirrorTargetView(was));
  }

 private:
  static HttpResponse BadField(std::string_view field, std::string_view problem) {
    return HttpResponse::Error(Status::InvalidArgument(fmt::format("field \"{}\": {}", field, problem)));
  }
  static Status UnknownCluster(const std::string& cluster) {
    return Status::NotFound("no cluster named \"" + cluster + "\"");
  }
  // A stored target that does not decode is the server's problem, not the
  // request's: 500 rather than ReadMirrorTarget's INVALID_ARGUMENT.
  static Status Unreadable(const Status& read) {
    if (read.code() != StatusCode::kInvalidArgument) return read;
    return Status::Internal(read.message() + " (fix or DELETE the target)");
  }
  static Status UnknownMirrorTarget(const std::string& name) {
    return Status::NotFound("no mirror target named \"" + name + "\"");
  }

  // A session and a store on it (the session kept alive by the pair).
  Result<std::pair<std::shared_ptr<ZkClient>, std::unique_ptr<StateStore>>> Store() const {
    auto zk = backend_.zookeeper();
    if (!zk.ok()) return zk.status();
    auto store = std::make_unique<StateStore>(**zk, backend_.zookeeper_root());
    return std::make_pair(std::move(zk).value(), std::move(store));
  }

  static Status CheckKnown(StateStore& store, const std::string& cluster) {
    auto clusters = store.ListClusters();
    if (!clusters.ok()) return clusters.status();
    if (std::find(clusters->begin(), clusters->end(), cluster) == clusters->end()) return UnknownCluster(cluster);
    return Status::Ok();
  }

  // Every cluster's view (or only `only`: NOT_FOUND when unknown), by name.
  Result<std::map<std::string, json>> ClusterViews(const std::optional<std::string>& only) const {
    std::map<std::string, json> views;
    if (backend_.leading()) {
      const MonoTime now = backend_.now();
      for (const auto& [name, observation] : backend_.book().Observe(now)) {
        if (!only || *only == name) views[name] = ClusterView(name, observation, now);
      }
      if (only && views.empty()) return UnknownCluster(*only);
      return views;
    }
    BATON_ASSIGN_OR_RETURN(auto store, Store());
    BATON_ASSIGN_OR_RETURN(auto names, store.second->ListClusters());
    const int64_t now_ms = WallNowMs();
    for (const std::string& name : names) {
      if (only && *only != name) continue;
      BATON_ASSIGN_OR_RETURN(ClusterState state, store.second->LoadState(name));
      BATON_ASSIGN_OR_RETURN(ClusterConfig config, store.second->LoadConfig(name));
      BATON_ASSIGN_OR_RETURN(auto observed, store.second->ReadObserved(name));
      views[name] = FollowerClusterView(name, state, config, observed, now_ms);
    }
    if (only && views.empty()) return UnknownCluster(*only);
    return views;
  }

  // Sends a mutation on to the leader and relays its answer.
  HttpResponse Forward(const HttpRequest& request, std::chrono::milliseconds timeout) const {
    if (!request.Header(kForwardedBy).empty()) {
      return HttpResponse::Error(Status::Unavailable("forwarded to a replica that does not lead; leadership is changing, retry"));
    }
    const std::optional<LeaderInfo> leader = backend_.leader();
    if (!leader || leader->http.empty() || leader->id == backend_.replica_id()) {
      return HttpResponse::Error(Status::Unavailable("no arbiter replica leads right now; retry"));
    }
    try {
      Poco::URI uri("http://" + leader->http);
      std::string target;
      Poco::URI::encode(request.path, "?#", target);
      if (!request.query_params.empty()) {
        std::string query;
        for (const auto& [key, value] : request.query_params) {
          std::string k, v;
          Poco::URI::encode(key, "&=+#", k);
          Poco::URI::encode(value, "&=+#", v);
          query += (query.empty() ? "" : "&") + k + "=" + v;
        }
        target += "?" + query;
      }
      Poco::Net::HTTPClientSession session(uri.getHost(), uri.getPort());
      session.setTimeout(Poco::Timespan(static_cast<Poco::Timespan::TimeDiff>(timeout.count()) * 1000));
      Poco::Net::HTTPRequest out(request.method, target, Poco::Net::HTTPMessage::HTTP_1_1);
      out.set(std::string(kForwardedBy), backend_.replica_id());
      if (const std::string& auth = request.Header("Authorization"); !auth.empty()) out.set("Authorization", auth);
      out.setContentType("application/json");
      out.setContentLength(static_cast<std::streamsize>(request.body.size()));
      session.sendRequest(out) << request.body;
      Poco::Net::HTTPResponse in;
      std::istream& stream = session.receiveResponse(in);
      std::string body;
      Poco::StreamCopier::copyToString(stream, body);
      HttpResponse response;
      response.status = static_cast<int>(in.getStatus());
      response.content_type = in.getContentType();
      response.body = std::move(body);
      response.headers.emplace_back(std::string(kForwardedBy), backend_.replica_id());
      return response;
    } catch (const Poco::Exception& e) {
      return HttpResponse::Error(Status::Unavailable(
          fmt::format("cannot reach the leader {} at {}: {}", leader->id, leader->http, e.displayText())));
    }
  }

  RestBackend& backend_;
  const RestOptions options_;
  // The status page asks for the last 50 events every second: read each
  // event from ZooKeeper once.
  EventCache event_cache_;
};

Status FieldProblem(std::string_view field, std::string_view problem) {
  return Status::InvalidArgument(fmt::format("field \"{}\": {}", field, problem));
}

}  // namespace

Result<OperationRequest> ParseOperationBody(OperationKind kind, const HttpRequest& request) {
  json body = json::object();
  if (!request.body.empty() || kind == OperationKind::kFailover) {
    BATON_ASSIGN_OR_RETURN(body, request.JsonBody());
  }
  const bool failover = kind == OperationKind::kFailover;
  BATON_RETURN_IF_ERROR(failover ? CheckFields(body, {"to", "force", "timeout_ms"})
                                 : CheckFields(body, {"to", "timeout_ms"}));
  OperationRequest op;
  op.kind = kind;
  if (body.contains("to")) {
    if (!body["to"].is_string() || body["to"].get<std::string>().empty()) {
      return FieldProblem("to", "must be a non-empty instance id");
    }
    op.to = body["to"].get<std::string>();
  } else if (failover) {
    return FieldProblem("to", "required: the instance to promote");
  }
  if (body.contains("force")) {
    if (!body["force"].is_boolean()) return FieldProblem("force", "must be true or false");
    op.force = body["force"].get<bool>();
  }
  if (body.contains("timeout_ms")) {
    const json& t = body["timeout_ms"];
    if (!t.is_number_unsigned() || t.get<uint64_t>() < 1 || t.get<uint64_t>() > kMaxOperationTimeoutMs) {
      return FieldProblem("timeout_ms", fmt::format("must be an integer in 1..{}", kMaxOperationTimeoutMs));
    }
    op.timeout = std::chrono::milliseconds(t.get<int64_t>());
  }
  return op;
}

Result<bool> ParseMaintenanceBody(const HttpRequest& request) {
  BATON_ASSIGN_OR_RETURN(json body, request.JsonBody());
  BATON_RETURN_IF_ERROR(CheckFields(body, {"enabled"}));
  if (!body.contains("enabled") || !body["enabled"].is_boolean()) {
    return FieldProblem("enabled", "required: true or false");
  }
  return body["enabled"].get<bool>();
}

void AddRestRoutes(Router& router, RestBackend& backend, RestOptions options) {
  auto api = std::make_shared<RestApi>(backend, options);
  auto bind = [api](HttpResponse (RestApi::*method)(const HttpRequest&)) {
    return [api, method](const HttpRequest& request) { return ((*api).*method)(request); };
  };
  router.Get("/v1/status", bind(&RestApi::GetStatus))
      .Get("/v1/clusters/{cluster}", bind(&RestApi::GetCluster))
      .Post("/v1/clusters/{cluster}/switchover",
            [api](const HttpRequest& r) { return api->Operate(r, OperationKind::kSwitchover); })
      .Post("/v1/clusters/{cluster}/failover",
            [api](const HttpRequest& r) { return api->Operate(r, OperationKind::kFailover); })
      .Put("/v1/clusters/{cluster}/maintenance", bind(&RestApi::PutMaintenance))
      .Get("/v1/clusters/{cluster}/config", bind(&RestApi::GetConfig))
      .Put("/v1/clusters/{cluster}/config", bind(&RestApi::PutConfig))
      .Get("/v1/events", bind(&RestApi::GetEvents))
      .Get("/v1/mirror-targets", bind(&RestApi::ListMirrorTargets))
      .Get("/v1/mirror-targets/{name}", bind(&RestApi::GetMirrorTarget))
      .Put("/v1/mirror-targets/{name}", bind(&RestApi::PutMirrorTarget))
      .Delete("/v1/mirror-targets/{name}", bind(&RestApi::DeleteMirrorTarget));
  if (!options.status_page_html.empty()) {
    router.Get("/", [page = options.status_page_html](const HttpRequest&) {
      HttpResponse response = HttpResponse::Text(200, page);
      response.content_type = "text/html; charset=utf-8";
      return response;
    });
  }
}

}  // namespace baton::arbiter
