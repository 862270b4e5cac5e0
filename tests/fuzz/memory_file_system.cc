#include "tests/fuzz/memory_file_system.h"

#include <algorithm>
#include <utility>

namespace baton::fuzz {
namespace {

std::string Parent(const std::string& path) {
  size_t slash = path.rfind('/');
  if (slash == std::string::npos) return "";
  return slash == 0 ? "/" : path.substr(0, slash);
}

std::string Normalize(std::string_view dir) {
  std::string out(dir);
  while (out.size() > 1 && out.back() == '/') out.pop_back();
  return out;
}

Status NoFile(std::string_view op, const std::string& path) {
  return Status::NotFound(std::string(op) + " " + path + ": No such file or directory");
}

}  // namespace

// Handles share the file's bytes and take the file system's mutex for every
// access, so they may be used from any thread.
class MemoryFileSystem::Writable final : public WritableFile {
 public:
  Writable(MemoryFileSystem& fs, Data data) : fs_(fs), data_(std::move(data)) {}
  Status Append(std::string_view data) override {
    MutexLock lock(&fs_.mu_);
    data_->append(data);
    return Status::Ok();
  }
  Status Sync() override { return Status::Ok(); }
  Status Close() override { return Status::Ok(); }
  uint64_t Size() const override {
    MutexLock lock(&fs_.mu_);
    return data_->size();
  }

 private:
  MemoryFileSystem& fs_;
  const Data data_;
};

class MemoryFileSystem::Sequential final : public SequentialFile {
 public:
  Sequential(MemoryFileSystem& fs, Data data) : fs_(fs), data_(std::move(data)) {}
  Status Read(size_t n, std::string* out) override {
    MutexLock lock(&fs_.mu_);
    const size_t at = std::min<uint64_t>(offset_, data_->size());
    *out = data_->substr(at, n);
    offset_ = at + out->size();
    return Status::Ok();
  }
  Status Skip(uint64_t n) override {
    offset_ += n;
    return Status::Ok();
  }

 private:
  MemoryFileSystem& fs_;
  const Data data_;
  uint64_t offset_ = 0;
};

class MemoryFileSystem::RandomAccess final : public RandomAccessFile {
 public:
  RandomAccess(MemoryFileSystem& fs, Data data) : fs_(fs), data_(std::move(data)) {}
  Status Read(uint64_t offset, size_t n, std::string* out) const override {
    MutexLock lock(&fs_.mu_);
    if (offset >= data_->size()) {
      out->clear();
    } else {
      *out = data_->substr(static_cast<size_t>(offset), n);
    }
    return Status::Ok();
  }

 private:
  MemoryFileSystem& fs_;
  const Data data_;
};

void MemoryFileSystem::PutFile(const std::string& path, std::string_view contents) {
  MutexLock lock(&mu_);
  AddDirs(Parent(path));
  files_[path] = std::make_shared<std::string>(contents);
}

const std::string* MemoryFileSystem::Contents(const std::string& path) const {
  MutexLock lock(&mu_);
  auto it = files_.find(path);
  return it == files_.end() ? nullptr : it->second.get();
}

Result<MemoryFileSystem::Data> MemoryFileSystem::Find(const std::string& path) const {
  auto it = files_.find(path);
  if (it == files_.end()) return NoFile("open", path);
  return it->second;
}

void MemoryFileSystem::AddDirs(const std::string& dir) {
  for (std::string d = Normalize(dir); !d.empty() && dirs_.insert(d).second; d = Parent(d)) {
  }
}

Result<std::unique_ptr<WritableFile>> MemoryFileSystem::NewWritableFile(const std::string& path) {
  MutexLock lock(&mu_);
  if (!dirs_.contains(Parent(path))) return NoFile("open", path);
  auto data = std::make_shared<std::string>();
  files_[path] = data;
  return std::unique_ptr<WritableFile>(std::make_unique<Writable>(*this, data));
}

Result<std::unique_ptr<WritableFile>> MemoryFileSystem::NewAppendableFile(const std::string& path) {
  MutexLock lock(&mu_);
  if (!dirs_.contains(Parent(path))) return NoFile("open", path);
  Data& data = files_[path];
  if (!data) data = std::make_shared<std::string>();
  return std::unique_ptr<WritableFile>(std::make_unique<Writable>(*this, data));
}

Result<std::unique_ptr<SequentialFile>> MemoryFileSystem::NewSequentialFile(const std::string& path) {
  MutexLock lock(&mu_);
  BATON_ASSIGN_OR_RETURN(Data data, Find(path));
  return std::unique_ptr<SequentialFile>(std::make_unique<Sequential>(*this, std::move(data)));
}

Result<std::unique_ptr<RandomAccessFile>> MemoryFileSystem::NewRandomAccessFile(const std::string& path) {
  MutexLock lock(&mu_);
  BATON_ASSIGN_OR_RETURN(Data data, Find(path));
  return std::unique_ptr<RandomAccessFile>(std::make_unique<RandomAccess>(*this, std::move(data)));
}

Result<std::string> MemoryFileSystem::ReadFileToString(const std::string& path) {
  MutexLock lock(&mu_);
  BATON_ASSIGN_OR_RETURN(Data data, Find(path));
  return *data;
}

Result<bool> MemoryFileSystem::FileExists(const std::string& path) {
  MutexLock lock(&mu_);
  return files_.contains(path) || dirs_.contains(Normalize(path));
}

Result<uint64_t> MemoryFileSystem::GetFileSize(const std::string& path) {
  MutexLock lock(&mu_);
  BATON_ASSIGN_OR_RETURN(Data data, Find(path));
  return uint64_t{data->size()};
}

Result<std::vector<std::string>> MemoryFileSystem::GetChildren(const std::string& dir) {
  MutexLock lock(&mu_);
  const std::string d = Normalize(dir);
  if (!dirs_.contains(d)) return NoFile("opendir", d);
  std::set<std::string> names;
  const std::string prefix = d == "/" ? d : d + "/";
  auto collect = [&](const std::string& path) {
    if (path.size() <= prefix.size() || path.compare(0, prefix.size(), prefix) != 0) return;
    std::string rest = path.substr(prefix.size());
    names.insert(rest.substr(0, rest.find('/')));
  };
  for (const auto& [path, data] : files_) collect(path);
  for (const std::string& sub : dirs_) collect(sub);
  return std::vector<std::string>(names.begin(), names.end());
}

Status MemoryFileSystem::CreateDirs(const std::string& dir) {
  MutexLock lock(&mu_);
  AddDirs(dir);
  return Status::Ok();
}

Status MemoryFileSystem::RemoveFile(const std::string& path) {
  MutexLock lock(&mu_);
  if (files_.erase(path) == 0) return NoFile("unlink", path);
  return Status::Ok();
}

Status MemoryFileSystem::RenameFile(const std::string& from, const std::string& to) {
  MutexLock lock(&mu_);
  auto it = files_.find(from);
  if (it == files_.end()) return NoFile("rename", from);
  if (!dirs_.contains(Parent(to))) return NoFile("rename", to);
  Data data = it->second;
  files_.erase(it);
  files_[to] = std::move(data);
  return Status::Ok();
}

Status MemoryFileSystem::TruncateFile(const std::string& path, uint64_t size) {
  MutexLock lock(&mu_);
  BATON_ASSIGN_OR_RETURN(Data data, Find(path));
  data->resize(static_cast<size_t>(size));
  return Status::Ok();
}

Status MemoryFileSystem::SyncDir(const std::string& dir) {
  MutexLock lock(&mu_);
  if (!dirs_.contains(Normalize(dir))) return NoFile("fsync", dir);
  return Status::Ok();
}

}  // namespace baton::fuzz
