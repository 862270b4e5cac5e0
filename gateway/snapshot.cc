#include "gateway/snapshot.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

#include <spdlog/spdlog.h>

#include "common/crc32c.h"

namespace baton::gateway {
namespace {

void PutU32(std::string* out, uint32_t v) {
  for (int i = 0; i < 4; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
void PutU64(std::string* out, uint64_t v) {
  for (int i = 0; i < 8; ++i) out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
}
uint32_t GetU32(const char* p) {
  uint32_t v = 0;
  for (int i = 0; i < 4; ++i) v |= static_cast<uint32_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}
uint64_t GetU64(const char* p) {
  uint64_t v = 0;
  for (int i = 0; i < 8; ++i) v |= static_cast<uint64_t>(static_cast<unsigned char>(p[i])) << (8 * i);
  return v;
}

constexpr std::string_view kSuffix = ".snap";

}  // namespace

std::string EncodeSnapshot(LogPosition covers, std::string_view payload) {
  std::string out;
  out.reserve(kSnapshotHeaderSize + payload.size());
  out.append(kSnapshotMagic, sizeof(kSnapshotMagic));
  PutU32(&out, kSnapshotVersion);
  PutU32(&out, 0);  // reserved
  PutU64(&out, covers.epoch);
  PutU64(&out, covers.seq);
  PutU64(&out, payload.size());
  PutU32(&out, Crc32cMask(Crc32c(payload.data(), payload.size())));
  PutU32(&out, Crc32cMask(Crc32c(out.data(), out.size())));
  out.append(payload);
  return out;
}

Result<Snapshot> DecodeSnapshot(std::string_view bytes) {
  if (bytes.size() < kSnapshotHeaderSize) {
    return Status::DataLoss("snapshot is " + std::to_string(bytes.size()) + " bytes, shorter than its header");
  }
  const char* h = bytes.data();
  if (std::memcmp(h, kSnapshotMagic, sizeof(kSnapshotMagic)) != 0) return Status::DataLoss("snapshot has a bad magic");
  if (GetU32(h + 44) != Crc32cMask(Crc32c(h, 44))) return Status::DataLoss("snapshot header has a bad crc");
  if (uint32_t version = GetU32(h + 8); version != kSnapshotVersion) {
    return Status::DataLoss("snapshot format version " + std::to_string(version) + " is not supported");
  }
  Snapshot snapshot;
  snapshot.covers.epoch = GetU64(h + 16);
  snapshot.covers.seq = GetU64(h + 24);
  const uint64_t length = GetU64(h + 32);
  if (length != bytes.size() - kSnapshotHeaderSize) {
    return Status::DataLoss("snapshot payload is " + std::to_string(bytes.size() - kSnapshotHeaderSize) +
                            " bytes, header says " + std::to_string(length));
  }
  std::string_view payload = bytes.substr(kSnapshotHeaderSize);
  if (GetU32(h + 40) != Crc32cMask(Crc32c(payload.data(), payload.size()))) {
    return Status::DataLoss("snapshot payload has a bad crc");
  }
  snapshot.payload = std::string(payload);
  return snapshot;
}

SnapshotFiles::SnapshotFiles(FileSystem& fs, std::string dir, size_t keep)
    : fs_(fs), dir_(std::move(dir)), keep_(std::max<size_t>(keep, 1)) {}

Status SnapshotFiles::Init() { return fs_.CreateDirs(dir_); }

std::string SnapshotFiles::PathFor(uint64_t seq) const {
  char name[32];
  std::snprintf(name, sizeof(name), "%020llu", static_cast<unsigned long long>(seq));
  return dir_ + "/" + name + std::string(kSuffix);
}

Result<std::vector<std::string>> SnapshotFiles::ListSnapshots() {
  BATON_ASSIGN_OR_RETURN(std::vector<std::string> names, fs_.GetChildren(dir_));
  std::vector<std::string> out;
  for (const std::string& name : names) {
    if (name.size() == 20 + kSuffix.size() && name.ends_with(kSuffix) &&
        std::all_of(name.begin(), name.begin() + 20, ::isdigit)) {
      out.push_back(name);
    }
  }
  std::sort(out.begin(), out.end());  // zero-padded: lexical order = seq order
  return out;
}

Status SnapshotFiles::Write(LogPosition covers, std::string_view payload) {
  const auto start = std::chrono::steady_clock::now();
  const std::string path = PathFor(covers.seq);
  const std::string tmp = path + ".tmp";
  const std::string bytes = EncodeSnapshot(covers, payload);
  BATON_ASSIGN_OR_RETURN(auto file, fs_.NewWritableFile(tmp));
  constexpr size_t kChunk = 8 << 20;
  auto last_report = start;
  for (size_t offset = 0; offset < bytes.size(); offset += kChunk) {
    BATON_RETURN_IF_ERROR(file->Append(std::string_view(bytes).substr(offset, kChunk)));
    auto now = std::chrono::steady_clock::now();
    if (now - last_report >= std::chrono::seconds(1)) {
      spdlog::info("snapshot {}: {} of {} MiB written", covers.ToString(), offset >> 20, bytes.size() >> 20);
      last_report = now;
    }
  }
  BATON_RETURN_IF_ERROR(file->Sync());
  BATON_RETURN_IF_ERROR(file->Close());
  BATON_RETURN_IF_ERROR(fs_.RenameFile(tmp, path));
  BATON_RETURN_IF_ERROR(fs_.SyncDir(dir_));
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  spdlog::info("snapshot written: covers {} , {} bytes, {:.2f} s, {}", covers.ToString(), bytes.size(), seconds, path);

  BATON_ASSIGN_OR_RETURN(std::vector<std::string> names, ListSnapshots());
  for (size_t i = 0; i + keep_ < names.size(); ++i) {
    if (dir_ + "/" + names[i] == path) continue;  // never the one just written
    Status s = fs_.RemoveFile(dir_ + "/" + names[i]);
    if (!s.ok()) spdlog::warn("cannot delete old snapshot {}: {}", names[i], s.ToString());
  }
  return Status::Ok();
}

Status SnapshotFiles::RemoveAllExcept(uint64_t seq) {
  const std::string keep = PathFor(seq);
  BATON_ASSIGN_OR_RETURN(std::vector<std::string> names, ListSnapshots());
  for (const std::string& name : names) {
    const std::string path = dir_ + "/" + name;
    if (path != keep) BATON_RETURN_IF_ERROR(fs_.RemoveFile(path));
  }
  return fs_.SyncDir(dir_);
}

Result<std::optional<Snapshot>> SnapshotFiles::LoadNewest() {
  BATON_ASSIGN_OR_RETURN(std::vector<std::string> names, ListSnapshots());
  for (auto it = names.rbegin(); it != names.rend(); ++it) {
    const std::string path = dir_ + "/" + *it;
    const auto start = std::chrono::steady_clock::now();
    auto bytes = fs_.ReadFileToString(path);
    if (!bytes.ok()) {
      spdlog::warn("snapshot {} unreadable, trying an older one: {}", path, bytes.status().ToString());
      continue;
    }
    auto snapshot = DecodeSnapshot(*bytes);
    if (!snapshot.ok()) {
      spdlog::warn("snapshot {} is damaged, trying an older one: {}", path, snapshot.status().ToString());
      continue;
    }
    snapshot->path = path;
    spdlog::info("loaded snapshot {} covering {} ({} bytes, {:.2f} s)", path, snapshot->covers.ToString(),
                 bytes->size(), std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    return std::optional<Snapshot>(std::move(snapshot).value());
  }
  return std::optional<Snapshot>();
}

}  // namespace baton::gateway
