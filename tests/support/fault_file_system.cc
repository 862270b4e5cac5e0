#include "tests/support/fault_file_system.h"

#include <utility>

namespace baton::testing {
namespace {

std::string ParentDir(const std::string& path) {
  size_t slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

std::string StripTrailingSlash(std::string dir) {
  while (dir.size() > 1 && dir.back() == '/') dir.pop_back();
  return dir;
}

}  // namespace

// Forwards to the real file and reports sizes back to the FaultFileSystem.
class FaultFileSystem::File final : public WritableFile {
 public:
  File(FaultFileSystem* fs, std::string path, std::unique_ptr<WritableFile> base)
      : fs_(fs), path_(std::move(path)), base_(std::move(base)) {}

  Status Append(std::string_view data) override {
    Status injected = fs_->BeforeAppend();
    if (!injected.ok()) {
      // A short write, as the kernel does when the disk fills mid-write.
      Status ignored = base_->Append(data.substr(0, data.size() / 2));
      (void)ignored;
      fs_->AfterAppend(path_, base_->Size());
      return injected.WithContext("write " + path_);
    }
    Status s = base_->Append(data);
    fs_->AfterAppend(path_, base_->Size());
    return s;
  }

  Status Sync() override {
    fs_->sync_calls_.fetch_add(1);
    BATON_RETURN_IF_ERROR(fs_->BeforeSync().WithContext("fdatasync " + path_));
    BATON_RETURN_IF_ERROR(base_->Sync());
    fs_->AfterSync(path_, base_->Size());
    fs_->syncs_completed_.fetch_add(1);
    return Status::Ok();
  }

  Status Close() override { return base_->Close(); }
  uint64_t Size() const override { return base_->Size(); }

 private:
  FaultFileSystem* const fs_;
  const std::string path_;
  std::unique_ptr<WritableFile> base_;
};

void FaultFileSystem::FailSyncs(Status status) {
  MutexLock lock(&mu_);
  sync_failure_ = std::move(status);
}

void FaultFileSystem::ClearSyncFailure() {
  MutexLock lock(&mu_);
  sync_failure_.reset();
}

void FaultFileSystem::SetDiskFull(bool full) {
  MutexLock lock(&mu_);
  disk_full_ = full;
}

void FaultFileSystem::FailTruncates(Status status) {
  MutexLock lock(&mu_);
  truncate_failure_ = std::move(status);
}

void FaultFileSystem::ClearTruncateFailure() {
  MutexLock lock(&mu_);
  truncate_failure_.reset();
}

void FaultFileSystem::CloseSyncGate() {
  MutexLock lock(&mu_);
  gate_closed_ = true;
}

void FaultFileSystem::OpenSyncGate() {
  MutexLock lock(&mu_);
  gate_closed_ = false;
  cv_.SignalAll();
}

int FaultFileSystem::blocked_syncs() const {
  MutexLock lock(&mu_);
  return blocked_syncs_;
}

bool FaultFileSystem::WaitForBlockedSyncs(int n, std::chrono::milliseconds timeout) const {
  auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock lock(&mu_);
  while (blocked_syncs_ < n) {
    auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    cv_.WaitFor(deadline - now);
  }
  return true;
}

Status FaultFileSystem::BeforeAppend() {
  MutexLock lock(&mu_);
  if (disk_full_) return Status::ResourceExhausted("No space left on device (injected)");
  return Status::Ok();
}

Status FaultFileSystem::BeforeSync() {
  MutexLock lock(&mu_);
  if (gate_closed_) {
    ++blocked_syncs_;
    cv_.SignalAll();  // wakes WaitForBlockedSyncs
    while (gate_closed_) cv_.Wait();
    --blocked_syncs_;
  }
  if (sync_failure_.has_value()) return *sync_failure_;
  return Status::Ok();
}

void FaultFileSystem::AfterAppend(const std::string& path, uint64_t size) {
  MutexLock lock(&mu_);
  files_[path].size = size;
}

void FaultFileSystem::AfterSync(const std::string& path, uint64_t size) {
  MutexLock lock(&mu_);
  FileState& state = files_[path];
  state.size = size;
  state.synced_size = size;
}

Result<std::unique_ptr<WritableFile>> FaultFileSystem::Wrap(const std::string& path,
                                                            Result<std::unique_ptr<WritableFile>> base,
                                                            bool existed) {
  if (!base.ok()) return base.status();
  std::unique_ptr<WritableFile> file = std::move(base).value();
  {
    MutexLock lock(&mu_);
    auto [it, inserted] = files_.try_emplace(path);
    FileState& state = it->second;
    state.size = file->Size();
    if (inserted) {
      // A file we did not write before: whatever it holds already is durable.
      state.synced_size = file->Size();
      state.entry_durable = existed;
    } else if (state.synced_size > state.size) {
      state.synced_size = state.size;  // reopened with truncation
    }
  }
  return std::unique_ptr<WritableFile>(std::make_unique<File>(this, path, std::move(file)));
}

Result<std::unique_ptr<WritableFile>> FaultFileSystem::NewWritableFile(const std::string& path) {
  BATON_ASSIGN_OR_RETURN(bool existed, base_.FileExists(path));
  return Wrap(path, base_.NewWritableFile(path), existed);
}

Result<std::unique_ptr<WritableFile>> FaultFileSystem::NewAppendableFile(const std::string& path) {
  BATON_ASSIGN_OR_RETURN(bool existed, base_.FileExists(path));
  return Wrap(path, base_.NewAppendableFile(path), existed);
}

Status FaultFileSystem::RemoveFile(const std::string& path) {
  BATON_RETURN_IF_ERROR(base_.RemoveFile(path));
  MutexLock lock(&mu_);
  files_.erase(path);
  return Status::Ok();
}

Status FaultFileSystem::RenameFile(const std::string& from, const std::string& to) {
  BATON_RETURN_IF_ERROR(base_.RenameFile(from, to));
  MutexLock lock(&mu_);
  auto it = files_.find(from);
  if (it != files_.end()) {
    FileState state = it->second;
    state.entry_durable = false;  // the new name is durable only after SyncDir
    files_.erase(it);
    files_[to] = state;
  }
  return Status::Ok();
}

Status FaultFileSystem::TruncateFile(const std::string& path, uint64_t size) {
  {
    MutexLock lock(&mu_);
    if (truncate_failure_.has_value()) return truncate_failure_->WithContext("ftruncate " + path);
  }
  BATON_RETURN_IF_ERROR(base_.TruncateFile(path, size));
  MutexLock lock(&mu_);
  auto it = files_.find(path);
  if (it != files_.end()) {
    it->second.size = size;  // TruncateFile is durable
    it->second.synced_size = size;
  }
  return Status::Ok();
}

Status FaultFileSystem::SyncDir(const std::string& dir) {
  BATON_RETURN_IF_ERROR(base_.SyncDir(dir));
  std::string normalized = StripTrailingSlash(dir);
  MutexLock lock(&mu_);
  for (auto& [path, state] : files_) {
    if (ParentDir(path) == normalized) state.entry_durable = true;
  }
  return Status::Ok();
}

Status FaultFileSystem::DropUnsyncedData() {
  std::map<std::string, FileState> files;
  {
    MutexLock lock(&mu_);
    files = files_;
  }
  for (const auto& [path, state] : files) {
    BATON_ASSIGN_OR_RETURN(bool exists, base_.FileExists(path));
    if (!exists) continue;
    if (!state.entry_durable) {
      BATON_RETURN_IF_ERROR(base_.RemoveFile(path));
      continue;
    }
    BATON_ASSIGN_OR_RETURN(uint64_t size, base_.GetFileSize(path));
    if (size > state.synced_size) BATON_RETURN_IF_ERROR(base_.TruncateFile(path, state.synced_size));
  }
  MutexLock lock(&mu_);
  for (auto it = files_.begin(); it != files_.end();) {
    if (!it->second.entry_durable) {
      it = files_.erase(it);
    } else {
      it->second.size = it->second.synced_size;
      ++it;
    }
  }
  return Status::Ok();
}

}  // namespace baton::testing
