// Fuzz target: the snapshot loader, the file (gateway/snapshot.*: header,
// CRCs, length) and the store payload inside it (ObjectStore::LoadFrom,
// gateway/store/store_snapshot.cc).
//
// The input is a snapshot file. It is
//  - decoded with DecodeSnapshot; what it accepts must re-encode to the same
//    bytes but for the reserved field, which is under the header CRC and not
//    checked (see docs/testing.md);
//  - found by SnapshotFiles::LoadNewest on an in-memory file system, which
//    must agree with DecodeSnapshot;
//  - and its payload (bytes 48 on, whether the CRCs match or not, so the
//    fuzzer need not forge them to reach the payload parser) loaded into a
//    store that already holds an object: on error the store must be
//    unchanged (LoadFrom is all or nothing); on success it must be at the
//    given position and survive its own SerializeTo/LoadFrom round trip.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include "baton/v1/storage.pb.h"
#include "common/clock.h"
#include "gateway/snapshot.h"
#include "gateway/store/store.h"
#include "tests/fuzz/fuzz_util.h"
#include "tests/fuzz/memory_file_system.h"

namespace baton::gateway {
namespace {

constexpr int kDimension = 4;

void Prefill(ObjectStore& store) {
  v1::WriteRecord record;
  v1::StoredObject* put = record.add_mutations()->mutable_put();
  put->set_id("already-there");
  for (int i = 0; i < kDimension; ++i) put->add_vector(0.5f * static_cast<float>(i));
  put->set_timestamp(1);
  FUZZ_CHECK(store.Apply(record, LogPosition{1, 1}).ok());
}

void CheckDecode(std::string_view data) {
  Result<Snapshot> snapshot = DecodeSnapshot(data);
  if (!snapshot.ok()) {
    FUZZ_CHECK(snapshot.status().code() == StatusCode::kDataLoss, snapshot.status().ToString());
  } else {
    std::string again = EncodeSnapshot(snapshot->covers, snapshot->payload);
    FUZZ_CHECK(again.size() == data.size());
    // Bytes 12..15 are the reserved field; the header CRC (44..47) covers it.
    FUZZ_CHECK(again.compare(0, 12, data, 0, 12) == 0 && again.compare(16, 28, data, 16, 28) == 0 &&
                   again.compare(48, std::string::npos, data, 48) == 0,
               "a decoded snapshot does not re-encode to its bytes");
  }

  fuzz::MemoryFileSystem fs;
  SnapshotFiles files(fs, "/snapshots");
  FUZZ_CHECK(files.Init().ok());
  fs.PutFile("/snapshots/00000000000000000007.snap", data);
  Result<std::optional<Snapshot>> newest = files.LoadNewest();
  FUZZ_CHECK(newest.ok(), newest.status().ToString());
  FUZZ_CHECK(newest->has_value() == snapshot.ok(), "LoadNewest and DecodeSnapshot disagree");
  if (snapshot.ok()) FUZZ_CHECK((*newest)->covers == snapshot->covers && (*newest)->payload == snapshot->payload);
}

void CheckLoad(std::string_view payload) {
  ManualClock clock;
  ObjectStore store(clock, ObjectStoreOptions{kDimension});
  Prefill(store);
  const uint64_t digest_before = store.digest();
  const LogPosition covers{3, 42};

  Status loaded = store.LoadFrom(payload, covers);
  if (!loaded.ok()) {
    FUZZ_CHECK(loaded.code() == StatusCode::kDataLoss || loaded.code() == StatusCode::kFailedPrecondition,
               loaded.ToString());
    FUZZ_CHECK(store.digest() == digest_before && store.size() == 1 && store.tombstone_count() == 0 &&
                   store.applied_position() == (LogPosition{1, 1}),
               "a failed LoadFrom changed the store");
    return;
  }
  FUZZ_CHECK(store.applied_position() == covers);

  std::string again;
  FUZZ_CHECK(store.SerializeTo(&again).ok());
  ObjectStore copy(clock, ObjectStoreOptions{kDimension});
  Status reloaded = copy.LoadFrom(again, covers);
  FUZZ_CHECK(reloaded.ok(), "a loaded store does not load from its own snapshot: " + reloaded.ToString());
  FUZZ_CHECK(copy.digest() == store.digest() && copy.size() == store.size() &&
             copy.tombstone_count() == store.tombstone_count() && copy.mirror_cursors() == store.mirror_cursors() &&
             copy.last_assigned_timestamp() == store.last_assigned_timestamp());
}

}  // namespace
}  // namespace baton::gateway

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  baton::fuzz::QuietLogs();
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  const std::string_view data(reinterpret_cast<const char*>(bytes), size);
  baton::gateway::CheckDecode(data);
  if (size >= baton::gateway::kSnapshotHeaderSize) {
    baton::gateway::CheckLoad(data.substr(baton::gateway::kSnapshotHeaderSize));
  }
  return 0;
}
