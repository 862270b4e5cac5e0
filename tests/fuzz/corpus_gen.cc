// Writes the seed corpora of the fuzz targets (tests/fuzz/corpus/<target>/)
// with the real writers: WAL segments from Wal::AppendBatch with payloads the
// write planner made, snapshots from ObjectStore::SerializeTo and
// EncodeSnapshot, requests from protobuf, plus the text inputs of the config
// and REST targets. Each valid input comes with edge cases derived from it.
//
//   fuzz_corpus_gen DIR     (scripts/fuzz --regenerate-corpus runs it)
//
// Output is deterministic (a ManualClock), so regenerating changes nothing
// unless a format did.
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>
#include <vector>

#include <spdlog/spdlog.h>

#include "baton/v1/gateway.pb.h"
#include "baton/v1/storage.pb.h"
#include "common/clock.h"
#include "gateway/log/format.h"
#include "gateway/log/segment.h"
#include "gateway/log/wal.h"
#include "gateway/snapshot.h"
#include "gateway/store/store.h"
#include "gateway/store/write_planner.h"
#include "tests/fuzz/memory_file_system.h"

namespace baton::gateway {
namespace {

namespace fs = std::filesystem;

constexpr int kDimension = 4;  // the fuzz targets' index.dimension

fs::path out_dir;

void Write(const std::string& target, const std::string& name, std::string_view bytes) {
  const fs::path dir = out_dir / target;
  fs::create_directories(dir);
  std::ofstream(dir / name, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

v1::Object MakeObject(const std::string& id, float base, int64_t timestamp = 0, std::string metadata = "") {
  v1::Object object;
  object.set_id(id);
  for (int i = 0; i < kDimension; ++i) object.add_vector(base + static_cast<float>(i));
  object.set_timestamp(timestamp);
  object.set_metadata(std::move(metadata));
  return object;
}

// Plans `requests` against `store` as one call, applies the record and
// returns its payload: exactly what the gateway logs.
std::string Planned(ObjectStore& store, const std::vector<WriteRequest>& requests, LogPosition at) {
  WriteBatchPlanner planner(store);
  v1::WriteRecord record;
  for (const WriteRequest& request : requests) {
    for (v1::Mutation& m : planner.Plan(request).mutations) *record.add_mutations() = m;
    if (request.mirrored) record.set_mirror_origin(request.origin_cluster);
  }
  if (!store.Apply(record, at).ok()) std::abort();
  return record.SerializeAsString();
}

// A store with objects, tombstones and cursors, and the segment that built it.
std::string BuildLog(ObjectStore& store) {
  fuzz::MemoryFileSystem mem;
  ManualClock clock;
  WalOptions options;
  options.dir = "/log";
  auto wal = Wal::Open(mem, options, clock);
  if (!wal.ok() || !(*wal)->SetEpoch(1).ok()) std::abort();
  auto append = [&](RecordType type, std::string payload) {
    std::vector<LogRecord> records(1);
    records[0].type = type;
    records[0].payload = std::move(payload);
    auto at = (*wal)->AppendBatch(records);
    if (!at.ok()) std::abort();
    return *at;
  };
  append(RecordType::kEpochStart, "");
  append(RecordType::kWrite,
                Planned(store, {WriteRequest::Put(v1::WRITE_OP_INSERT, MakeObject("a", 1), "c1"),
                                WriteRequest::Put(v1::WRITE_OP_INSERT, MakeObject("b", 2, 0, "meta"), "c1")},
                        LogPosition{1, 2}));
  append(RecordType::kWrite, Planned(store, {WriteRequest::Put(v1::WRITE_OP_UPDATE, MakeObject("a", 5), "c1")},
                                     LogPosition{1, 3}));
  append(RecordType::kWrite, Planned(store, {WriteRequest::Remove("b", 0, "c1")}, LogPosition{1, 4}));
  v1::MirrorCursorRecord cursors;
  v1::MirrorCursor* cursor = cursors.add_cursors();
  cursor->set_target("site-b");
  cursor->set_delivered_seq(3);
  append(RecordType::kCursor, cursors.SerializeAsString());
  if (!(*wal)->SetEpoch(2).ok()) std::abort();
  append(RecordType::kEpochStart, "");
  append(RecordType::kWrite,
         Planned(store, {WriteRequest::Put(v1::WRITE_OP_UPSERT, MakeObject("z", 9, 1'700'000'000'000'000'000), "c2",
                                           /*mirrored=*/true)},
                 LogPosition{2, 8}));
  append(RecordType::kNoop, "");
  const std::string* bytes = mem.Contents(JoinPath("/log", SegmentFileName(1)));
  if (bytes == nullptr) std::abort();
  return *bytes;
}

void WalSeeds(const std::string& log) {
  Write("wal", "valid_log", log);
  std::string one;
  EncodeRecord(LogRecord{{0, 1}, RecordType::kNoop, ""}, &one);
  Write("wal", "one_noop", one);
  Write("wal", "torn_tail", log + log.substr(0, 40));
  Write("wal", "zero_tail", log + std::string(64, '\0'));
  std::string bad_crc = log;
  bad_crc[kHeaderSize + 2] ^= 0x01;  // inside the first record: a valid one follows
  Write("wal", "bad_crc_then_valid", bad_crc);
  std::string gap = one;
  EncodeRecord(LogRecord{{0, 3}, RecordType::kNoop, ""}, &gap);
  Write("wal", "seq_gap", gap);
  std::string epoch_back;
  EncodeRecord(LogRecord{{5, 1}, RecordType::kNoop, ""}, &epoch_back);
  EncodeRecord(LogRecord{{4, 2}, RecordType::kNoop, ""}, &epoch_back);
  Write("wal", "epoch_back", epoch_back);
  std::string huge = one;
  huge[0] = '\xff', huge[1] = '\xff', huge[2] = '\xff', huge[3] = '\x7f';  // length far above the maximum
  Write("wal", "huge_length", huge);
  std::string undecodable;
  EncodeRecord(LogRecord{{1, 1}, RecordType::kWrite, "not a protobuf \xff\xff"}, &undecodable);
  Write("wal", "undecodable_payload", undecodable);
}

void SnapshotSeeds(const ObjectStore& store) {
  std::string payload;
  if (!store.SerializeTo(&payload).ok()) std::abort();
  const std::string file = EncodeSnapshot(LogPosition{2, 9}, payload);
  Write("snapshot", "valid_snapshot", file);
  ManualClock clock;
  ObjectStore empty(clock, ObjectStoreOptions{kDimension});
  std::string empty_payload;
  if (!empty.SerializeTo(&empty_payload).ok()) std::abort();
  Write("snapshot", "empty_store", EncodeSnapshot(LogPosition{0, 0}, empty_payload));
  Write("snapshot", "truncated", file.substr(0, file.size() - 7));
  std::string bad_payload_crc = file;
  bad_payload_crc.back() ^= 0x40;
  Write("snapshot", "bad_payload_crc", bad_payload_crc);
  Write("snapshot", "header_only", file.substr(0, kSnapshotHeaderSize));
}

template <typename Message>
void Request(const std::string& name, uint8_t kind, const Message& message, bool mirrored = false) {
  Write("validation", name, std::string(1, static_cast<char>(kind | (mirrored ? 0x10 : 0))) + message.SerializeAsString());
}

// Kinds as validation_fuzzer.cc numbers them.
void ValidationSeeds() {
  v1::InsertRequest insert;
  *insert.mutable_object() = MakeObject("d", 1, 0, "metadata");
  Request("insert", 0, insert);
  Request("insert_mirrored", 0, insert, true);
  v1::UpdateRequest update;
  *update.mutable_object() = MakeObject("a", 2, 2000);
  Request("update", 1, update);
  v1::UpsertRequest upsert;
  *upsert.mutable_object() = MakeObject("c", 3);
  Request("upsert_removed", 2, upsert);
  v1::RemoveRequest remove;
  remove.set_id("b");
  Request("remove", 3, remove);
  v1::RemoveByTimestampRequest by_timestamp;
  by_timestamp.set_before(2000);
  Request("remove_by_timestamp", 4, by_timestamp);
  v1::MultiInsertRequest multi_insert;
  *multi_insert.add_requests()->mutable_object() = MakeObject("e", 1);
  *multi_insert.add_requests()->mutable_object() = MakeObject("e", 2, 5);
  *multi_insert.add_requests()->mutable_object() = MakeObject("a", 3, 1);
  Request("multi_insert", 5, multi_insert);
  v1::MultiUpdateRequest multi_update;
  *multi_update.add_requests()->mutable_object() = MakeObject("a", 1, 1000);
  *multi_update.add_requests()->mutable_object() = MakeObject("b", 7);
  Request("multi_update_mirrored", 6, multi_update, true);
  v1::MultiUpsertRequest multi_upsert;
  *multi_upsert.add_requests()->mutable_object() = MakeObject("f", 1);
  Request("multi_upsert", 7, multi_upsert);
  v1::MultiRemoveRequest multi_remove;
  multi_remove.add_requests()->set_id("a");
  multi_remove.add_requests()->set_id("c");
  multi_remove.add_requests()->set_id("a");
  Request("multi_remove", 8, multi_remove);
  v1::SearchRequest search;
  for (int i = 0; i < kDimension; ++i) search.add_vector(0.25f);
  search.set_k(10);
  Request("search", 9, search);
  v1::SearchByIDRequest by_id;
  by_id.set_id("a");
  by_id.set_k(1000);
  Request("search_by_id", 10, by_id);
  v1::GetObjectRequest get;
  get.set_id("h\xc3\xa9llo");
  Request("get_object_utf8", 11, get);
  v1::ExistsRequest exists;
  exists.set_id(std::string(256, 'x'));
  Request("exists_longest_id", 12, exists);
  // Edge cases validation must refuse.
  v1::InsertRequest nan;
  *nan.mutable_object() = MakeObject("n", 1);
  nan.mutable_object()->set_vector(2, std::numeric_limits<float>::quiet_NaN());
  Request("insert_nan", 0, nan);
  v1::InsertRequest short_vector;
  *short_vector.mutable_object() = MakeObject("s", 1);
  short_vector.mutable_object()->mutable_vector()->RemoveLast();
  Request("insert_wrong_dimension", 0, short_vector);
  v1::RemoveRequest negative;
  negative.set_id("a");
  negative.set_timestamp(-1);
  Request("remove_negative_timestamp", 3, negative);
  v1::UpdateRequest newest;
  *newest.mutable_object() = MakeObject("a", 1, std::numeric_limits<int64_t>::max());
  Request("update_max_timestamp", 1, newest);
}

void ConfigSeeds() {
  using namespace std::string_literals;
  Write("config", "gateway_minimal", "instance:\n  id: g1\n  cluster: c1\ndata_dir: /var/lib/baton\nindex:\n  dimension: 128\n"s);
  Write("config", "gateway_full",
        "instance: {id: g1, cluster: c1}\nlog: {level: debug}\nhttp: {listen: \"127.0.0.1:7780\"}\n"
        "grpc: {listen: \"[::1]:7700\"}\ndata_dir: /data\nindex: {dimension: 4, metric: cosine, ef_search: 200}\n"
        "wal: {segment_bytes: 1048576}\nmirror:\n  mode: sync\n  targets:\n    - site-b=c2@10.0.0.7:7700+10.0.0.8:7700\n"
        "  tombstone_ttl: 7d\narbiter:\n  addresses: [\"127.0.0.1:7791\"]\n"s);
  Write("config", "arbiter", "zookeeper:\n  connect: [\"zk1:2181\", \"zk2:2181\"]\n  session_timeout_ms: 4000\n"
                             "lease_ms: 2000\nfailsafe: off\napi:\n  token: secret\n"s);
  Write("config", "agent_flags",
        "\0--instance.id\0g1\0--data_dir=/d\0--index.dimension\0008\0BATON_LOG_LEVEL=warn\0--mirror.tombstone_ttl\00090s"s);
  Write("config", "file_and_flags", "data_dir: /a\nindex:\n  dimension: 3\n\0--index.dimension\0004\0--help"s);
  Write("config", "bad_yaml", "data_dir: [unclosed\n  - x: {\n"s);
  Write("config", "unknown_key", "index:\n  dimension: 4\n  nope: 1\ndata_dir: /x\n"s);
  Write("config", "anchors", "base: &b {dimension: 4}\nindex: *b\n"s);
  Write("config", "out_of_range", "data_dir: /x\nindex: {dimension: 0}\nreplication: {heartbeat_ms: 99999999999999999999}\n"s);
}

void RestSeeds() {
  // Mode letters as rest_fuzzer.cc numbers them ('a' = switchover).
  Write("rest", "switchover", "ac1\n{\"to\": \"g2\", \"timeout_ms\": 5000}");
  Write("rest", "switchover_empty", "ac1\n");
  Write("rest", "failover", "bc1\n{\"to\": \"g2\", \"force\": true}");
  Write("rest", "failover_no_to", "bc1\n{}");
  Write("rest", "maintenance", "cc1\n{\"enabled\": true}");
  Write("rest", "config", "dc1\n{\"version\": 1, \"sync_standbys\": 2, \"priorities\": {\"g1\": 10, \"g2\": 0}, "
                          "\"mirror\": {\"mode\": \"sync\"}}");
  Write("rest", "config_bad_version", "dc1\n{\"version\": -1}");
  Write("rest", "mirror_target", "esite-b\n{\"cluster\": \"c2\", \"addresses\": [\"10.0.0.7:7700\"], \"version\": 0}");
  Write("rest", "mirror_target_encoded_name", "esite%2Fb%ff\n{\"cluster\": \"c2\", \"addresses\": [\"[::1]:7700\"]}");
  Write("rest", "delete_mirror_target", "fsite-b\n");
  Write("rest", "events", "glimit=10&cluster=c1\n");
  Write("rest", "get_cluster", "hc%31\n");
  Write("rest", "request_line", "iPUT /v1/clusters/c1/maintenance?x=1#frag\n{\"enabled\": false}");
  Write("rest", "stored_state", "j\n{\"epoch\": 3, \"active\": \"g1\", \"members\": {\"g1\": \"a:1\", \"g2\": \"b:2\"}, "
                                "\"sync_set\": [\"g2\", \"g2\"], \"maintenance\": false}");
  Write("rest", "stored_state_pending",
        "j\n{\"epoch\": 5, \"active\": \"g1\", \"members\": {\"g1\": \"a:1\", \"g2\": \"b:2\", \"g3\": \"c:3\"}, "
        "\"sync_set\": [\"g2\", \"g3\"], \"sync_pending\": {\"g2\": null, \"g3\": {\"epoch\": 4, \"seq\": 120}}}");
  Write("rest", "stored_config", "k\n{\"sync_standbys\": 1, \"priorities\": {\"g1\": 4294967295}, "
                                 "\"mirror_mode\": \"async\", \"version\": 7}");
  Write("rest", "stored_mirror_target", "l\n{\"name\": \"site-b\", \"cluster\": \"c2\", \"addresses\": [\"h:1\"]}");
  Write("rest", "stored_event", "m12\n{\"cluster\": \"c1\", \"type\": \"promoted\", \"time_ms\": 1700000000123}");
  Write("rest", "observation", "n\n{\"as_of_ms\": 1699999999000, \"instances\": [{\"id\": \"g1\", "
                               "\"last_report_ms_ago\": 20}], \"mirror\": {\"targets\": []}, \"operation\": {}}");
}

}  // namespace
}  // namespace baton::gateway

int main(int argc, char** argv) {
  using namespace baton::gateway;
  if (argc != 2) {
    std::fprintf(stderr, "usage: %s DIR\n", argv[0]);
    return 2;
  }
  out_dir = argv[1];
  spdlog::set_level(spdlog::level::off);
  baton::ManualClock clock;
  baton::gateway::ObjectStore store(clock, baton::gateway::ObjectStoreOptions{kDimension});
  WalSeeds(BuildLog(store));
  SnapshotSeeds(store);
  ValidationSeeds();
  ConfigSeeds();
  RestSeeds();
  return 0;
}
