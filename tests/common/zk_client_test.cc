// ZkClient against a real ZooKeeper server (Debian's zkServer.sh); skipped
// when it is not installed.
#include "common/zk_client.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <stdexcept>
#include <thread>

#include "tests/support/test_util.h"
#include "tests/support/zookeeper_server.h"

namespace baton {
namespace {

using namespace std::chrono_literals;
using testing::WaitFor;

constexpr auto kEventTimeout = 10s;

#define SKIP_WITHOUT_ZOOKEEPER() \
  if (!testing::ZookeeperAvailable()) GTEST_SKIP() << testing::ZookeeperUnavailableReason()

// Collects what callbacks deliver, from any thread.
template <typename T>
class Recorder {
 public:
  void Add(T value) {
    MutexLock lock(&mu_);
    values_.push_back(std::move(value));
  }
  std::vector<T> values() const {
    MutexLock lock(&mu_);
    return values_;
  }
  size_t size() const {
    MutexLock lock(&mu_);
    return values_.size();
  }
  bool Contains(const T& value) const {
    MutexLock lock(&mu_);
    return std::find(values_.begin(), values_.end(), value) != values_.end();
  }

 private:
  mutable Mutex mu_;
  std::vector<T> values_ GUARDED_BY(mu_);
};

// Watch events reduced to what tests compare: "changed /path".
std::string Describe(const ZkWatchEvent& e) { return std::string(ZkEventTypeName(e.type)) + " " + e.path; }

ZkWatchCallback RecordInto(Recorder<std::string>& recorder) {
  return [&recorder](const ZkWatchEvent& e) { recorder.Add(Describe(e)); };
}

// The node's data, or the error as text: a failed call fails the
// expectation instead of aborting the binary.
std::string DataOf(ZkClient& client, const std::string& path) {
  auto node = client.Get(path);
  return node.ok() ? node->data : node.status().ToString();
}
int64_t OwnerOf(ZkClient& client, const std::string& path) {
  auto node = client.Get(path);
  return node.ok() ? node->stat.ephemeral_owner : -1;
}
// "yes", "no", or the error as text.
std::string ExistsText(ZkClient& client, const std::string& path) {
  auto stat = client.Exists(path);
  return stat.ok() ? (stat->has_value() ? "yes" : "no") : stat.status().ToString();
}

// One server shared by the tests that do not stop it; each test works under
// its own root node.
class ZkClientTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    if (!testing::ZookeeperAvailable()) return;
    server_ = std::make_unique<testing::ZookeeperServer>();
    start_status_ = server_->Start();
  }
  static void TearDownTestSuite() { server_.reset(); }

  void SetUp() override {
    SKIP_WITHOUT_ZOOKEEPER();
    ASSERT_TRUE(start_status_.ok()) << start_status_;
    client_ = Connect();
    ASSERT_NE(client_, nullptr);
    root_ = std::string("/") + ::testing::UnitTest::GetInstance()->current_test_info()->name();
    ASSERT_TRUE(client_->EnsurePath(root_).ok());
  }

  std::unique_ptr<ZkClient> Connect(ZkOptions options = {}) {
    options.connect_string = server_->connect_string();
    auto client = ZkClient::Connect(options);
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  static inline std::unique_ptr<testing::ZookeeperServer> server_;
  static inline Status start_status_;
  std::unique_ptr<ZkClient> client_;
  std::string root_;
};

TEST_F(ZkClientTest, ConnectReportsConnectedState) {
  Recorder<ZkState> states;
  auto client = Connect({.on_state = [&](ZkState s) { states.Add(s); }});
  ASSERT_NE(client, nullptr);
  EXPECT_EQ(client->state(), ZkState::kConnected);
  EXPECT_NE(client->session_id(), 0);
  EXPECT_NE(client->session_id(), client_->session_id());
  EXPECT_TRUE(WaitFor([&] { return states.Contains(ZkState::kConnected); }, kEventTimeout));
}

TEST_F(ZkClientTest, CreateGetSetWithVersions) {
  std::string path = root_ + "/node";
  auto created = client_->Create(path, "v1");
  ASSERT_TRUE(created.ok()) << created.status();
  EXPECT_EQ(*created, path);

  auto node = client_->Get(path);
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ(node->data, "v1");
  EXPECT_EQ(node->stat.version, 0);
  EXPECT_EQ(node->stat.ephemeral_owner, 0);
  EXPECT_EQ(node->stat.czxid, node->stat.mzxid);

  auto version = client_->Set(path, "v2", 0);
  ASSERT_TRUE(version.ok()) << version.status();
  EXPECT_EQ(*version, 1);

  auto stale = client_->Set(path, "v3", 0);
  EXPECT_EQ(stale.status().code(), StatusCode::kAborted);
  EXPECT_NE(stale.status().message().find(path), std::string::npos) << stale.status();
  node = client_->Get(path);
  ASSERT_TRUE(node.ok());
  EXPECT_EQ(node->data, "v2");
  EXPECT_EQ(node->stat.version, 1);
  EXPECT_GT(node->stat.mzxid, node->stat.czxid);

  version = client_->Set(path, "v3");  // -1: no version check
  ASSERT_TRUE(version.ok());
  EXPECT_EQ(*version, 2);

  EXPECT_EQ(client_->Delete(path, 1).code(), StatusCode::kAborted);
  EXPECT_TRUE(client_->Delete(path, 2).ok());
  EXPECT_EQ(client_->Get(path).status().code(), StatusCode::kNotFound);
}

TEST_F(ZkClientTest, EmptyAndLargeDataRoundTrip) {
  ASSERT_TRUE(client_->Create(root_ + "/empty", "").ok());
  auto empty = client_->Get(root_ + "/empty");
  ASSERT_TRUE(empty.ok());
  EXPECT_EQ(empty->data, "");

  // Larger than Get()'s first buffer, with a NUL inside.
  std::string big(200 * 1024, 'x');
  big[1000] = '\0';
  ASSERT_TRUE(client_->Create(root_ + "/big", big).ok());
  auto node = client_->Get(root_ + "/big");
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ(node->data, big);
  EXPECT_EQ(node->stat.data_length, static_cast<int32_t>(big.size()));
}

TEST_F(ZkClientTest, CreateExistingIsAlreadyExists) {
  std::string path = root_ + "/node";
  ASSERT_TRUE(client_->Create(path, "first").ok());
  auto again = client_->Create(path, "second");
  EXPECT_EQ(again.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(again.status().message().find(path), std::string::npos) << again.status();
  EXPECT_EQ(DataOf(*client_, path), "first");
}

TEST_F(ZkClientTest, MissingNodeIsNotFound) {
  std::string path = root_ + "/missing";
  auto get = client_->Get(path);
  EXPECT_EQ(get.status().code(), StatusCode::kNotFound);
  EXPECT_NE(get.status().message().find(path), std::string::npos) << get.status();
  EXPECT_EQ(client_->Set(path, "x").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(client_->Delete(path).code(), StatusCode::kNotFound);
  EXPECT_EQ(client_->GetChildren(path).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(client_->Create(path + "/child", "").status().code(), StatusCode::kNotFound);
  auto exists = client_->Exists(path);
  ASSERT_TRUE(exists.ok()) << exists.status();
  EXPECT_FALSE(exists->has_value());
}

TEST_F(ZkClientTest, BadPathIsInvalidArgument) {
  EXPECT_EQ(client_->Get("relative/path").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->Create(root_ + "/trailing/", "").status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client_->EnsurePath("relative").code(), StatusCode::kInvalidArgument);
}

TEST_F(ZkClientTest, DeleteWithChildrenIsFailedPrecondition) {
  ASSERT_TRUE(client_->Create(root_ + "/parent", "").ok());
  ASSERT_TRUE(client_->Create(root_ + "/parent/child", "").ok());
  EXPECT_EQ(client_->Delete(root_ + "/parent").code(), StatusCode::kFailedPrecondition);
}

TEST_F(ZkClientTest, ChildrenAreSortedNames) {
  for (const char* name : {"charlie", "alpha", "bravo"}) {
    ASSERT_TRUE(client_->Create(root_ + "/" + name, "").ok());
  }
  auto children = client_->GetChildren(root_);
  ASSERT_TRUE(children.ok()) << children.status();
  EXPECT_EQ(*children, (std::vector<std::string>{"alpha", "bravo", "charlie"}));
}

TEST_F(ZkClientTest, SequentialNodesGetIncreasingSuffixes) {
  auto first = client_->Create(root_ + "/seq-", "", CreateMode::kPersistentSequential);
  auto second = client_->Create(root_ + "/seq-", "", CreateMode::kEphemeralSequential);
  ASSERT_TRUE(first.ok() && second.ok());
  EXPECT_EQ(*first, root_ + "/seq-0000000000");
  EXPECT_EQ(*second, root_ + "/seq-0000000001");
  EXPECT_EQ(OwnerOf(*client_, *first), 0);
  EXPECT_EQ(OwnerOf(*client_, *second), client_->session_id());
}

TEST_F(ZkClientTest, EnsurePathCreatesMissingParentsIdempotently) {
  std::string path = root_ + "/a/b/c";
  ASSERT_TRUE(client_->EnsurePath(path).ok());
  for (const std::string& p : {root_ + "/a", root_ + "/a/b", path}) {
    auto exists = client_->Exists(p);
    ASSERT_TRUE(exists.ok());
    EXPECT_TRUE(exists->has_value()) << p;
  }
  EXPECT_TRUE(client_->EnsurePath(path).ok());
  EXPECT_TRUE(client_->EnsurePath(root_ + "/a").ok());
  EXPECT_TRUE(client_->EnsurePath("/").ok());
}

TEST_F(ZkClientTest, MultiAppliesAllOps) {
  ASSERT_TRUE(client_->Create(root_ + "/x", "old").ok());
  ASSERT_TRUE(client_->Create(root_ + "/gone", "").ok());
  auto results = client_->Multi({
      ZkOp::Check(root_ + "/x", 0),
      ZkOp::Create(root_ + "/y", "new"),
      ZkOp::Set(root_ + "/x", "updated", 0),
      ZkOp::Delete(root_ + "/gone"),
      ZkOp::Create(root_ + "/seq-", "", CreateMode::kPersistentSequential),
  });
  ASSERT_TRUE(results.ok()) << results.status();
  ASSERT_EQ(results->size(), 5u);
  EXPECT_EQ((*results)[0], "");
  EXPECT_EQ((*results)[1], root_ + "/y");
  EXPECT_EQ((*results)[2], "");
  EXPECT_EQ((*results)[3], "");
  EXPECT_TRUE((*results)[4].starts_with(root_ + "/seq-")) << (*results)[4];
  EXPECT_EQ((*results)[4].size(), (root_ + "/seq-0000000000").size()) << (*results)[4];
  EXPECT_EQ(DataOf(*client_, root_ + "/x"), "updated");
  EXPECT_EQ(DataOf(*client_, root_ + "/y"), "new");
  EXPECT_EQ(ExistsText(*client_, root_ + "/gone"), "no");
  EXPECT_TRUE(client_->Multi({}).ok());
}

TEST_F(ZkClientTest, FailingMultiChangesNothingAndNamesTheOp) {
  ASSERT_TRUE(client_->Create(root_ + "/x", "old").ok());
  auto results = client_->Multi({
      ZkOp::Create(root_ + "/y", "new"),
      ZkOp::Check(root_ + "/x", 7),  // actual version is 0
      ZkOp::Set(root_ + "/x", "updated"),
  });
  ASSERT_FALSE(results.ok());
  EXPECT_EQ(results.status().code(), StatusCode::kAborted);
  EXPECT_NE(results.status().message().find("op 1 (check) " + root_ + "/x"), std::string::npos) << results.status();
  EXPECT_EQ(ExistsText(*client_, root_ + "/y"), "no");
  EXPECT_EQ(DataOf(*client_, root_ + "/x"), "old");

  auto exists = client_->Multi({ZkOp::Set(root_ + "/x", "updated"), ZkOp::Create(root_ + "/x", "")});
  EXPECT_EQ(exists.status().code(), StatusCode::kAlreadyExists);
  EXPECT_NE(exists.status().message().find("op 1 (create)"), std::string::npos) << exists.status();
  EXPECT_EQ(DataOf(*client_, root_ + "/x"), "old");
}

TEST_F(ZkClientTest, WatchFiresOncePerRegistration) {
  std::string path = root_ + "/watched";
  ASSERT_TRUE(client_->Create(path, "0").ok());
  Recorder<std::string> first;
  ASSERT_TRUE(client_->GetW(path, RecordInto(first)).ok());
  ASSERT_TRUE(client_->Set(path, "1").ok());
  ASSERT_TRUE(client_->Set(path, "2").ok());
  ASSERT_TRUE(WaitFor([&] { return first.size() >= 1; }, kEventTimeout));

  // Re-register, change once more. Events arrive in order, so once the second
  // watch has fired any duplicate of the first would have arrived already.
  Recorder<std::string> second;
  ASSERT_TRUE(client_->GetW(path, RecordInto(second)).ok());
  ASSERT_TRUE(client_->Set(path, "3").ok());
  ASSERT_TRUE(WaitFor([&] { return second.size() >= 1; }, kEventTimeout));
  EXPECT_EQ(first.values(), std::vector<std::string>{"changed " + path});
  EXPECT_EQ(second.values(), std::vector<std::string>{"changed " + path});
}

TEST_F(ZkClientTest, ExistsAndChildWatchesReportTheirEvents) {
  std::string path = root_ + "/later";
  Recorder<std::string> events;
  auto exists = client_->ExistsW(path, RecordInto(events));  // armed although missing
  ASSERT_TRUE(exists.ok());
  ASSERT_FALSE(exists->has_value());
  ASSERT_TRUE(client_->GetChildrenW(root_, RecordInto(events)).ok());
  ASSERT_TRUE(client_->Create(path, "").ok());
  ASSERT_TRUE(WaitFor([&] { return events.size() >= 2; }, kEventTimeout));
  ASSERT_TRUE(client_->GetW(path, RecordInto(events)).ok());
  ASSERT_TRUE(client_->Delete(path).ok());
  ASSERT_TRUE(WaitFor([&] { return events.size() >= 3; }, kEventTimeout));
  EXPECT_EQ(events.values(), (std::vector<std::string>{"created " + path, "child " + root_, "deleted " + path}));
}

TEST_F(ZkClientTest, FailedWatchCallNeverFires) {
  std::string path = root_ + "/absent";
  Recorder<std::string> events;
  EXPECT_EQ(client_->GetW(path, RecordInto(events)).status().code(), StatusCode::kNotFound);
  ASSERT_TRUE(client_->Create(path, "").ok());
  // A later watch on the same path fires; the failed one had its chance first.
  Recorder<std::string> sentinel;
  ASSERT_TRUE(client_->GetW(path, RecordInto(sentinel)).ok());
  ASSERT_TRUE(client_->Set(path, "x").ok());
  ASSERT_TRUE(WaitFor([&] { return sentinel.size() == 1; }, kEventTimeout));
  EXPECT_EQ(events.size(), 0u);
}

TEST_F(ZkClientTest, WatchCallbackMayCallIntoTheClient) {
  std::string path = root_ + "/reentrant";
  ASSERT_TRUE(client_->Create(path, "0").ok());
  Recorder<std::string> seen;
  // The usual pattern: on change, read the new value and re-arm, all from
  // inside the callback. Runs on the dispatcher thread, so no deadlock.
  std::function<void(const ZkWatchEvent&)> on_change = [&](const ZkWatchEvent&) {
    auto node = client_->GetW(path, on_change);
    seen.Add(node.ok() ? node->data : node.status().ToString());
  };
  ASSERT_TRUE(client_->GetW(path, on_change).ok());
  ASSERT_TRUE(client_->Set(path, "1").ok());
  ASSERT_TRUE(WaitFor([&] { return seen.size() == 1; }, kEventTimeout));
  ASSERT_TRUE(client_->Set(path, "2").ok());
  ASSERT_TRUE(WaitFor([&] { return seen.size() == 2; }, kEventTimeout));
  EXPECT_EQ(seen.values(), (std::vector<std::string>{"1", "2"}));
  client_.reset();  // drops the armed watch that captures `seen`
}

TEST_F(ZkClientTest, ThrowingCallbackDoesNotStopLaterCallbacks) {
  ASSERT_TRUE(client_->Create(root_ + "/a", "").ok());
  ASSERT_TRUE(client_->Create(root_ + "/b", "").ok());
  std::atomic<int> threw{0};
  ASSERT_TRUE(client_->GetW(root_ + "/a", [&](const ZkWatchEvent&) {
                       ++threw;
                       throw std::runtime_error("callback failure");
                     }).ok());
  Recorder<std::string> later;
  ASSERT_TRUE(client_->GetW(root_ + "/b", RecordInto(later)).ok());
  ASSERT_TRUE(client_->Set(root_ + "/a", "x").ok());
  ASSERT_TRUE(client_->Set(root_ + "/b", "x").ok());
  ASSERT_TRUE(WaitFor([&] { return later.size() == 1; }, kEventTimeout));
  EXPECT_EQ(threw.load(), 1);
}

TEST_F(ZkClientTest, EphemeralNodeVanishesWhenItsSessionCloses) {
  std::string path = root_ + "/ephemeral";
  auto owner = Connect();
  ASSERT_NE(owner, nullptr);
  ASSERT_TRUE(owner->Create(path, "me", CreateMode::kEphemeral).ok());
  auto node = client_->Get(path);
  ASSERT_TRUE(node.ok());
  EXPECT_EQ(node->stat.ephemeral_owner, owner->session_id());
  Recorder<std::string> events;
  ASSERT_TRUE(client_->ExistsW(path, RecordInto(events)).ok());

  owner.reset();  // closes the session
  ASSERT_TRUE(WaitFor([&] { return events.size() == 1; }, kEventTimeout));
  EXPECT_EQ(events.values(), std::vector<std::string>{"deleted " + path});
  EXPECT_EQ(ExistsText(*client_, path), "no");
}

TEST(ZkClientConnectTest, UnreachableServerFailsUnavailableWithinTimeout) {
  std::string address = "127.0.0.1:" + std::to_string(testing::PickFreePort());  // nothing listens
  auto start = std::chrono::steady_clock::now();
  auto client = ZkClient::Connect({.connect_string = address, .connect_timeout_ms = 1000});
  auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(client.ok());
  EXPECT_EQ(client.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(client.status().message().find(address), std::string::npos) << client.status();
  EXPECT_GE(elapsed, 900ms);
  EXPECT_LT(elapsed, 5s);
}

TEST(ZkClientConnectTest, ConnectWithRetryStopsWhenAsked) {
  std::string address = "127.0.0.1:" + std::to_string(testing::PickFreePort());
  auto start = std::chrono::steady_clock::now();
  auto stop = [&] { return std::chrono::steady_clock::now() - start > 1500ms; };
  auto client = ZkClient::ConnectWithRetry({.connect_string = address, .connect_timeout_ms = 300}, stop);
  auto elapsed = std::chrono::steady_clock::now() - start;
  EXPECT_EQ(client.status().code(), StatusCode::kCancelled);
  EXPECT_NE(client.status().message().find(address), std::string::npos) << client.status();
  EXPECT_LT(elapsed, 4s);
}

TEST(ZkClientConnectTest, ConnectWithRetrySucceedsOnceServerStarts) {
  SKIP_WITHOUT_ZOOKEEPER();
  testing::ZookeeperServer server;  // port chosen, not started yet
  std::atomic<bool> give_up{false};
  Result<std::unique_ptr<ZkClient>> result = Status::Unknown("not run");
  std::thread connector([&] {
    result = ZkClient::ConnectWithRetry({.connect_string = server.connect_string(), .connect_timeout_ms = 500},
                                        [&] { return give_up.load(); });
  });
  Status started = server.Start();
  if (!started.ok()) give_up = true;
  connector.join();
  ASSERT_TRUE(started.ok()) << started;
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ((*result)->state(), ZkState::kConnected);
}


// Tests that stop the server get their own.
class ZkClientOutageTest : public ::testing::Test {
 protected:
  void SetUp() override {
    SKIP_WITHOUT_ZOOKEEPER();
    Status started = server_.Start();
    ASSERT_TRUE(started.ok()) << started;
  }

  std::unique_ptr<ZkClient> Connect(int session_timeout_ms) {
    auto client = ZkClient::Connect({.connect_string = server_.connect_string(),
                                     .session_timeout_ms = session_timeout_ms,
                                     .on_state = [this](ZkState s) { states_.Add(s); }});
    EXPECT_TRUE(client.ok()) << client.status();
    return client.ok() ? std::move(client).value() : nullptr;
  }

  testing::ZookeeperServer server_;
  Recorder<ZkState> states_;
};

TEST_F(ZkClientOutageTest, ReportsDisconnectedThenReconnectsWithinSession) {
  auto client = Connect(/*session_timeout_ms=*/10000);
  ASSERT_NE(client, nullptr);
  int64_t session = client->session_id();
  ASSERT_TRUE(client->Create("/mine", "", CreateMode::kEphemeral).ok());
  Recorder<std::string> events;
  ASSERT_TRUE(client->GetW("/mine", RecordInto(events)).ok());

  server_.Stop();
  ASSERT_TRUE(WaitFor([&] { return client->state() == ZkState::kDisconnected; }, kEventTimeout));
  EXPECT_EQ(client->Get("/mine").status().code(), StatusCode::kUnavailable);

  Status restarted = server_.Restart();
  ASSERT_TRUE(restarted.ok()) << restarted;
  ASSERT_TRUE(WaitFor([&] { return client->state() == ZkState::kConnected; }, 30s));
  EXPECT_EQ(client->session_id(), session);
  ASSERT_TRUE(WaitFor([&] { return states_.size() == 3; }, kEventTimeout));
  EXPECT_EQ(states_.values(), (std::vector<ZkState>{ZkState::kConnected, ZkState::kDisconnected, ZkState::kConnected}));
  // Same session: the ephemeral survived and the watch was re-armed.
  auto node = client->Get("/mine");
  ASSERT_TRUE(node.ok()) << node.status();
  EXPECT_EQ(node->stat.ephemeral_owner, session);
  ASSERT_TRUE(client->Set("/mine", "changed").ok());
  ASSERT_TRUE(WaitFor([&] { return events.size() == 1; }, kEventTimeout));
  EXPECT_EQ(events.values(), std::vector<std::string>{"changed /mine"});
}

// A restarted server re-arms the sessions it knew with a full timeout, so to
// expire one the client must stay cut off while the server runs: the server
// moves to another port until it has dropped the session, then comes back.
TEST_F(ZkClientOutageTest, ReportsExpiredWhenSessionTimesOutDuringOutage) {
  auto client = Connect(/*session_timeout_ms=*/1000);
  ASSERT_NE(client, nullptr);
  ASSERT_TRUE(client->Create("/mine", "", CreateMode::kEphemeral).ok());
  Recorder<std::string> events;
  ASSERT_TRUE(client->ExistsW("/other", RecordInto(events)).ok());
  uint16_t port = server_.client_port();

  server_.Stop();
  ASSERT_TRUE(WaitFor([&] { return client->state() == ZkState::kDisconnected; }, kEventTimeout));
  server_.set_client_port(testing::PickFreePort());
  Status moved = server_.Start();
  ASSERT_TRUE(moved.ok()) << moved;
  {
    auto observer = ZkClient::Connect({.connect_string = server_.connect_string()});
    ASSERT_TRUE(observer.ok()) << observer.status();
    // The server expires the unreachable session and deletes its ephemeral.
    ASSERT_TRUE(WaitFor([&] { return ExistsText(**observer, "/mine") == "no"; }, 30s));
  }
  server_.Stop();
  server_.set_client_port(port);
  Status back = server_.Start();
  ASSERT_TRUE(back.ok()) << back;

  ASSERT_TRUE(WaitFor([&] { return client->state() == ZkState::kExpired; }, 30s));
  ASSERT_TRUE(WaitFor([&] { return states_.Contains(ZkState::kExpired); }, kEventTimeout));
  EXPECT_EQ(states_.values().back(), ZkState::kExpired);
  ASSERT_TRUE(WaitFor([&] { return events.size() == 1; }, kEventTimeout));
  EXPECT_EQ(events.values(), std::vector<std::string>{"session "});
  auto get = client->Get("/mine");
  EXPECT_EQ(get.status().code(), StatusCode::kFailedPrecondition) << get.status();
}

TEST(ZkClientEnsembleTest, WritesSucceedWithOneMemberDown) {
  SKIP_WITHOUT_ZOOKEEPER();
  testing::ZookeeperEnsemble ensemble(3);
  Status started = ensemble.Start();
  ASSERT_TRUE(started.ok()) << started;
  auto client = ZkClient::Connect({.connect_string = ensemble.connect_string(), .session_timeout_ms = 8000});
  ASSERT_TRUE(client.ok()) << client.status();
  ASSERT_TRUE((*client)->Create("/counter", "0").ok());

  ensemble.StopMember(0);
  // The client may have been on the stopped member, or it may have led: allow
  // a reconnect or an election, then every write must go through.
  ASSERT_TRUE(WaitFor([&] { return (*client)->Set("/counter", "1").ok(); }, 30s));
  for (int i = 2; i <= 5; ++i) {
    auto version = (*client)->Set("/counter", std::to_string(i));
    ASSERT_TRUE(version.ok()) << version.status();
  }
  // A client of another surviving member sees the writes.
  auto reader = ZkClient::Connect({.connect_string = ensemble.member_connect_string(2)});
  ASSERT_TRUE(reader.ok()) << reader.status();
  ASSERT_TRUE(WaitFor([&] { return DataOf(**reader, "/counter") == "5"; }, kEventTimeout));
}

}  // namespace
}  // namespace baton
