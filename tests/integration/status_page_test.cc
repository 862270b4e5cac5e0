// The arbiter's status page (arbiter/status_page.h) rendered by a real
// browser: a fake REST server in this process serves the page and canned
// /v1/status and /v1/events answers (docs/operator-api.md shapes, two
// clusters); headless Chromium loads it, runs its script for 5 s of virtual
// time and dumps the DOM, which must hold the rendered tables, with every
// string from the API escaped, and keep the last good events plus an error
// banner once /v1/events starts failing.
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <csignal>
#include <cstdlib>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include "arbiter/status_page.h"
#include "common/http_server.h"
#include "common/mutex.h"
#include "common/process.h"
#include "tests/support/temp_dir.h"

namespace baton::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

constexpr const char* kStatusJson = R"json({
  "answered_by": "arbiter-2",
  "leader": {"id": "arbiter-1", "http": "127.0.0.1:7790", "grpc": "127.0.0.1:7791"},
  "clusters": [
    {"name": "c1", "epoch": 4, "active": "g1", "maintenance": false, "sync_set": ["g2"],
     "config": {"version": 3, "sync_standbys": 1, "priorities": {"g2": 2}, "mirror": {"mode": "async"}},
     "waiting_for": "", "operation": null, "observed_age_ms": 80,
     "instances": [
       {"id": "g1", "address": "127.0.0.1:7700", "role": "active", "epoch": 4, "health": "ok",
        "durable": {"epoch": 4, "seq": 1200}, "applied": {"epoch": 4, "seq": 1200}, "lag_entries": 0,
        "lease_remaining_ms": 1830, "fenced": false, "handing_over": false, "sync": false, "priority": 1,
        "connected": true, "last_report_ms_ago": 40},
       {"id": "g2", "address": "127.0.0.1:7702", "role": "standby", "epoch": 4, "health": "ok",
        "durable": {"epoch": 4, "seq": 1187}, "applied": {"epoch": 4, "seq": 1187}, "lag_entries": 13,
        "lease_remaining_ms": -1, "fenced": false, "handing_over": false, "sync": true, "priority": 2,
        "connected": true, "last_report_ms_ago": 35}
     ]},
    {"name": "c2", "epoch": 7, "active": "", "maintenance": true, "sync_set": ["g3"],
     "config": {"version": 1, "sync_standbys": 1, "priorities": {}, "mirror": {"mode": "async"}},
     "waiting_for": "a quorum & <i>g3</i>",
     "operation": {"kind": "failover", "to": "g3", "started_ms_ago": 120}, "observed_age_ms": -1,
     "instances": [
       {"id": "g3", "address": "127.0.0.1:7704", "role": "standby", "epoch": 7, "health": "degraded",
        "durable": {"epoch": 7, "seq": 55}, "applied": {"epoch": 7, "seq": 50}, "lag_entries": 0,
        "lease_remaining_ms": -1, "fenced": false, "handing_over": false, "sync": true, "priority": 1,
        "connected": true, "last_report_ms_ago": 20},
       {"id": "g4", "address": "127.0.0.1:7706", "role": "unknown", "epoch": 6, "health": "down",
        "durable": {"epoch": 6, "seq": 54}, "applied": {"epoch": 6, "seq": 54}, "lag_entries": 1,
        "lease_remaining_ms": -1, "fenced": true, "handing_over": false, "sync": false, "priority": 1,
        "connected": false, "last_report_ms_ago": -1}
     ]}
  ]
})json";

constexpr const char* kEventsJson = R"json({"events": [
  {"seq": 40, "time": "2026-11-23T16:04:05.000Z", "time_ms": 1795449845000, "cluster": "c2",
   "type": "fencing", "instance": "g4", "epoch": 6, "message": "<b>x</b>"},
  {"seq": 41, "time": "2026-11-23T16:04:05.123Z", "time_ms": 1795449845123, "cluster": "c1",
   "type": "promotion", "instance": "g2", "epoch": 5, "reason": "process_gone",
   "message": "promoted g2 to active at epoch 5 (g1's agent reports its gateway exited)",
   "detected_to_committed_ms": 12}
]})json";

// The fake arbiter: the page, canned JSON, and every request it saw.
// /v1/events answers only its first request; later ones get 503, so the page
// must show an error banner and keep the events it had.
class FakeArbiter {
 public:
  Status Start() {
    Router router;
    router.Get("/", [this](const HttpRequest& req) {
      Record(req);
      HttpResponse response;
      response.content_type = "text/html; charset=utf-8";
      response.body = std::string(arbiter::StatusPageHtml());
      return response;
    });
    router.Get("/v1/status", [this](const HttpRequest& req) {
      Record(req);
      return HttpResponse::Json(200, nlohmann::json::parse(kStatusJson));
    });
    router.Get("/v1/events", [this](const HttpRequest& req) {
      if (Record(req) > 1) return HttpResponse::Error(Status::Unavailable("no arbiter leads (test)"));
      return HttpResponse::Json(200, nlohmann::json::parse(kEventsJson));
    });
    HttpServerOptions options;
    options.listen_address = "127.0.0.1:0";
    auto server = HttpServer::Start(options, std::move(router));
    if (!server.ok()) return server.status();
    server_ = std::move(server).value();
    return Status::Ok();
  }

  uint16_t port() const { return server_->port(); }

  // "GET /v1/events?limit=50", in arrival order.
  std::vector<std::string> requests() const {
    MutexLock lock(&mu_);
    return requests_;
  }
  int count(const std::string& path) const {
    MutexLock lock(&mu_);
    return counts_.count(path) ? counts_.at(path) : 0;
  }

 private:
  // Returns how many requests for this path arrived so far, this one included.
  int Record(const HttpRequest& req) {
    std::string line = req.method + " " + req.path;
    std::string query;
    for (const auto& [k, v] : req.query_params) query += (query.empty() ? "?" : "&") + k + "=" + v;
    MutexLock lock(&mu_);
    requests_.push_back(line + query);
    return ++counts_[req.path];
  }

  mutable Mutex mu_;
  std::vector<std::string> requests_ GUARDED_BY(mu_);
  std::map<std::string, int> counts_ GUARDED_BY(mu_);
  std::unique_ptr<HttpServer> server_;
};

std::string FindChromium() {
  std::vector<std::string> dirs;
  if (const char* path = std::getenv("PATH")) {
    std::stringstream ss(path);
    for (std::string dir; std::getline(ss, dir, ':');) {
      if (!dir.empty()) dirs.push_back(dir);
    }
  }
  dirs.push_back("/usr/bin");
  for (const char* name : {"chromium", "chromium-browser"}) {
    for (const std::string& dir : dirs) {
      const std::string candidate = dir + "/" + name;
      struct stat st {};
      if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) && ::access(candidate.c_str(), X_OK) == 0) {
        return candidate;
      }
    }
  }
  return "";
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

std::string Tail(const std::string& text, size_t chars) {
  return text.size() > chars ? "..." + text.substr(text.size() - chars) : text;
}

// The element from the start tag holding `marker` (e.g. id="events") to the
// first `close` after it; "" when absent.
std::string Element(const std::string& dom, const std::string& marker, const std::string& close) {
  const size_t at = dom.find(marker);
  if (at == std::string::npos) return "";
  const size_t start = dom.rfind('<', at);
  const size_t end = dom.find(close, at);
  if (start == std::string::npos || end == std::string::npos) return "";
  return dom.substr(start, end + close.size() - start);
}

// The start tag of the element carrying `attribute` (e.g. data-instance="g1").
std::string StartTag(const std::string& html, const std::string& attribute) {
  const size_t at = html.find(attribute);
  if (at == std::string::npos) return "";
  const size_t start = html.rfind('<', at);
  const size_t end = html.find('>', at);
  if (start == std::string::npos || end == std::string::npos) return "";
  return html.substr(start, end + 1 - start);
}

bool Contains(const std::string& haystack, const std::string& needle) {
  return haystack.find(needle) != std::string::npos;
}

TEST(StatusPage, RendersStatusAndEventsInChromium) {
  const std::string chromium = FindChromium();
  if (chromium.empty()) {
    GTEST_SKIP() << "chromium not installed (apt-get install chromium); skipping the status page test";
  }
  FakeArbiter fake;
  ASSERT_TRUE(fake.Start().ok());
  TempDir dir;
  const std::string url = "http://127.0.0.1:" + std::to_string(fake.port()) + "/";
  const std::string dom_path = dir.Join("dom.html");
  const std::string log_path = dir.Join("chromium.log");
  // sh only redirects stdout (the DOM) and stderr (Chromium's logging) apart,
  // then execs Chromium in its place: the pid we bound is Chromium's.
  std::vector<std::string> argv = {"/bin/sh", "-c", "exec \"$0\" \"$@\" >\"$DOM_PATH\" 2>\"$LOG_PATH\"",
                                   chromium,
                                   "--headless",
                                   "--no-sandbox",
                                   "--disable-gpu",
                                   "--disable-dev-shm-usage",
                                   "--disable-extensions",
                                   "--no-first-run",
                                   "--no-default-browser-check",
                                   "--user-data-dir=" + dir.Join("profile"),
                                   "--virtual-time-budget=5000",
                                   "--dump-dom",
                                   url};
  ChildOptions options;
  options.argv = argv;
  options.env = {{"DOM_PATH", dom_path}, {"LOG_PATH", log_path}, {"HOME", dir.path()},
                 {"XDG_CONFIG_HOME", dir.Join("xdg-config")}, {"XDG_CACHE_HOME", dir.Join("xdg-cache")}};
  options.working_dir = dir.path();
  auto child = ChildProcess::Spawn(options);
  ASSERT_TRUE(child.ok()) << child.status();
  // Bounded: a Chromium that hangs is killed (its whole process group) and
  // the test fails instead of running into the ctest timeout.
  auto waited = (*child)->Wait(seconds(90));
  if (!waited.ok()) {
    (void)(*child)->Signal(SIGKILL);
    (void)(*child)->Wait(seconds(10));
    FAIL() << "chromium did not finish within 90 s (killed pid " << (*child)->pid() << "); its log:\n"
           << Tail(ReadFile(log_path), 4000);
  }
  const std::string dom = ReadFile(dom_path);
  std::string seen;
  for (const auto& r : fake.requests()) seen += "  " + r + "\n";
  const std::string diagnostics = "\n--- chromium exit: " + DescribeWaitStatus(*waited) + "\n--- requests seen:\n" +
                                  seen + "--- chromium log (tail):\n" + Tail(ReadFile(log_path), 3000) +
                                  "\n--- dumped DOM (tail):\n" + Tail(dom, 6000);
  ASSERT_TRUE(WIFEXITED(*waited) && WEXITSTATUS(*waited) == 0) << diagnostics;
  ASSERT_FALSE(dom.empty()) << diagnostics;

  // The page asked the API: the status (several times: it refreshes every
  // second) and the newest 50 events.
  EXPECT_GE(fake.count("/"), 1) << diagnostics;
  EXPECT_GE(fake.count("/v1/status"), 2) << diagnostics;
  EXPECT_GE(fake.count("/v1/events"), 2) << diagnostics;
  bool events_limit = false;
  for (const auto& r : fake.requests()) events_limit |= r == "GET /v1/events?limit=50";
  EXPECT_TRUE(events_limit) << diagnostics;

  // Header.
  EXPECT_TRUE(Contains(Element(dom, "id=\"leader\"", "</span>"), "arbiter-1")) << diagnostics;
  EXPECT_TRUE(Contains(Element(dom, "id=\"answered-by\"", "</span>"), "arbiter-2")) << diagnostics;
  const std::string updated = Element(dom, "id=\"updated\"", "</span>");
  EXPECT_TRUE(Contains(updated, "updated")) << updated << diagnostics;
  EXPECT_FALSE(Contains(updated, "not loaded")) << updated << diagnostics;

  // One table per cluster, a row per instance with its role.
  struct Row {
    const char* cluster;
    const char* id;
    const char* role;
  };
  for (const Row& row : {Row{"c1", "g1", "active"}, Row{"c1", "g2", "standby"}, Row{"c2", "g3", "standby"},
                         Row{"c2", "g4", "unknown"}}) {
    const std::string table = Element(dom, std::string("id=\"cluster-") + row.cluster + "\"", "</table>");
    ASSERT_FALSE(table.empty()) << "no table for cluster " << row.cluster << diagnostics;
    EXPECT_TRUE(Contains(StartTag(table, "id=\"cluster-"), "class=\"cluster\"")) << table;
    const std::string tr = StartTag(table, std::string("data-instance=\"") + row.id + "\"");
    ASSERT_FALSE(tr.empty()) << "no row for " << row.id << " in " << table;
    EXPECT_TRUE(Contains(tr, "class=\"instance\"")) << tr;
    EXPECT_TRUE(Contains(tr, std::string("data-role=\"") + row.role + "\"")) << tr;
  }
  const std::string c1 = Element(dom, "id=\"cluster-c1\"", "</table>");
  for (const char* header : {"Instance", "Role", "Health", "Epoch", "Durable", "Lag", "Lease", "Sync", "Connected"}) {
    EXPECT_TRUE(Contains(c1, std::string("<th>") + header + "</th>")) << header << " column missing: " << c1;
  }
  EXPECT_TRUE(Contains(c1, "4:1187")) << "g2's durable position: " << c1;
  EXPECT_TRUE(Contains(c1, "1830 ms")) << "g1's lease: " << c1;
  const std::string c2 = Element(dom, "id=\"cluster-c2\"", "</table>");
  const std::string caption = Element(c2, "<caption", "</caption>");
  EXPECT_TRUE(Contains(caption, "epoch 7")) << caption;
  EXPECT_TRUE(Contains(caption, "maintenance: on")) << caption;
  EXPECT_TRUE(Contains(caption, "failover")) << caption;
  // waiting_for holds markup: shown as text, never parsed.
  EXPECT_TRUE(Contains(caption, "a quorum &amp; &lt;i&gt;g3&lt;/i&gt;")) << caption;
  EXPECT_FALSE(Contains(dom, "<i>g3</i>")) << diagnostics;

  // Events: the last good answer stays after /v1/events started failing,
  // and the event message with markup is escaped.
  const std::string events = Element(dom, "id=\"events\"", "</table>");
  ASSERT_FALSE(events.empty()) << diagnostics;
  EXPECT_TRUE(Contains(events, "promoted g2 to active at epoch 5")) << events;
  EXPECT_TRUE(Contains(events, "&lt;b&gt;x&lt;/b&gt;")) << events;
  EXPECT_FALSE(Contains(dom, "<b>x</b>")) << diagnostics;
  const std::string banner = Element(dom, "id=\"error\"", "</div>");
  EXPECT_TRUE(Contains(banner, "503")) << "no error banner after /v1/events failed: " << banner << diagnostics;
  EXPECT_TRUE(Contains(banner, "no arbiter leads (test)")) << banner;
}

}  // namespace
}  // namespace baton::testing
