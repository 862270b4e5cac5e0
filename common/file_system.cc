#include "common/file_system.h"

#include <dirent.h>
#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <system_error>
#include <utility>

namespace baton {
namespace {

// "<op> <path>: <strerror>", with the code the caller should act on.
Status PosixError(std::string_view op, std::string_view path, int err) {
  std::string message = std::string(op) + " " + std::string(path) + ": " +
                        std::error_code(err, std::generic_category()).message();
  switch (err) {
    case ENOSPC:
    case EDQUOT:
      return Status::ResourceExhausted(std::move(message));
    case ENOENT:
      return Status::NotFound(std::move(message));
    default:
      return Status::Internal(std::move(message));
  }
}

// Retries a syscall that failed with EINTR (a signal arrived mid-call).
template <typename F>
auto RetryEintr(F&& f) {
  for (;;) {
    auto r = f();
    if (r >= 0 || errno != EINTR) return r;
  }
}

Result<int> OpenFd(std::string_view op, const std::string& path, int flags, mode_t mode = 0644) {
  int fd = RetryEintr([&] { return ::open(path.c_str(), flags | O_CLOEXEC, mode); });
  if (fd < 0) return PosixError(op, path, errno);
  return fd;
}

class PosixWritableFile final : public WritableFile {
 public:
  PosixWritableFile(std::string path, int fd, uint64_t size) : path_(std::move(path)), fd_(fd), size_(size) {}
  ~PosixWritableFile() override {
    if (fd_ >= 0) ::close(fd_);
  }

  Status Append(std::string_view data) override {
    if (fd_ < 0) return Status::FailedPrecondition("append " + path_ + ": file is closed");
    while (!data.empty()) {
      ssize_t n = ::write(fd_, data.data(), data.size());
      if (n < 0) {
        if (errno == EINTR) continue;
        return PosixError("write", path_, errno);
      }
      size_ += static_cast<uint64_t>(n);
      data.remove_prefix(static_cast<size_t>(n));
    }
    return Status::Ok();
  }

  Status Sync() override {
    if (fd_ < 0) return Status::FailedPrecondition("fdatasync " + path_ + ": file is closed");
    if (RetryEintr([&] { return ::fdatasync(fd_); }) != 0) return PosixError("fdatasync", path_, errno);
    return Status::Ok();
  }

  Status Close() override {
    if (fd_ < 0) return Status::Ok();
    int fd = std::exchange(fd_, -1);
    // Not retried on EINTR: on Linux the fd is released even then.
    if (::close(fd) != 0) return PosixError("close", path_, errno);
    return Status::Ok();
  }

  uint64_t Size() const override { return size_; }

 private:
  const std::string path_;
  int fd_;
  uint64_t size_;
};

class PosixSequentialFile final : public SequentialFile {
 public:
  PosixSequentialFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixSequentialFile() override { ::close(fd_); }

  Status Read(size_t n, std::string* out) override {
    out->resize(n);
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::read(fd_, out->data() + got, n - got);
      if (r < 0) {
        if (errno == EINTR) continue;
        out->clear();
        return PosixError("read", path_, errno);
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    out->resize(got);
    return Status::Ok();
  }

  Status Skip(uint64_t n) override {
    if (::lseek(fd_, static_cast<off_t>(n), SEEK_CUR) < 0) return PosixError("lseek", path_, errno);
    return Status::Ok();
  }

 private:
  const std::string path_;
  const int fd_;
};

class PosixRandomAccessFile final : public RandomAccessFile {
 public:
  PosixRandomAccessFile(std::string path, int fd) : path_(std::move(path)), fd_(fd) {}
  ~PosixRandomAccessFile() override { ::close(fd_); }

  Status Read(uint64_t offset, size_t n, std::string* out) const override {
    out->resize(n);
    size_t got = 0;
    while (got < n) {
      ssize_t r = ::pread(fd_, out->data() + got, n - got, static_cast<off_t>(offset + got));
      if (r < 0) {
        if (errno == EINTR) continue;
        out->clear();
        return PosixError("pread", path_, errno);
      }
      if (r == 0) break;
      got += static_cast<size_t>(r);
    }
    out->resize(got);
    return Status::Ok();
  }

 private:
  const std::string path_;
  const int fd_;
};

class PosixFileSystemImpl final : public FileSystem {
 public:
  Result<std::unique_ptr<WritableFile>> NewWritableFile(const std::string& path) override {
    BATON_ASSIGN_OR_RETURN(int fd, OpenFd("open", path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND));
    return std::unique_ptr<WritableFile>(std::make_unique<PosixWritableFile>(path, fd, 0));
  }

  Result<std::unique_ptr<WritableFile>> NewAppendableFile(const std::string& path) override {
    BATON_ASSIGN_OR_RETURN(int fd, OpenFd("open", path, O_WRONLY | O_CREAT | O_APPEND));
    struct stat st;
    if (::fstat(fd, &st) != 0) {
      Status s = PosixError("fstat", path, errno);
      ::close(fd);
      return s;
    }
    return std::unique_ptr<WritableFile>(
        std::make_unique<PosixWritableFile>(path, fd, static_cast<uint64_t>(st.st_size)));
  }

  Result<std::unique_ptr<SequentialFile>> NewSequentialFile(const std::string& path) override {
    BATON_ASSIGN_OR_RETURN(int fd, OpenFd("open", path, O_RDONLY));
    return std::unique_ptr<SequentialFile>(std::make_unique<PosixSequentialFile>(path, fd));
  }

  Result<std::unique_ptr<RandomAccessFile>> NewRandomAccessFile(const std::string& path) override {
    BATON_ASSIGN_OR_RETURN(int fd, OpenFd("open", path, O_RDONLY));
    return std::unique_ptr<RandomAccessFile>(std::make_unique<PosixRandomAccessFile>(path, fd));
  }

  Result<std::string> ReadFileToString(const std::string& path) override {
    BATON_ASSIGN_OR_RETURN(std::unique_ptr<SequentialFile> file, NewSequentialFile(path));
    std::string contents;
    std::string chunk;
    for (;;) {
      BATON_RETURN_IF_ERROR(file->Read(1 << 16, &chunk));
      if (chunk.empty()) break;
      contents += chunk;
    }
    return contents;
  }

  Result<bool> FileExists(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) == 0) return true;
    if (errno == ENOENT) return false;
    return PosixError("stat", path, errno);
  }

  Result<uint64_t> GetFileSize(const std::string& path) override {
    struct stat st;
    if (::stat(path.c_str(), &st) != 0) return PosixError("stat", path, errno);
    return static_cast<uint64_t>(st.st_size);
  }

  Result<std::vector<std::string>> GetChildren(const std::string& dir) override {
    DIR* d = ::opendir(dir.c_str());
    if (d == nullptr) return PosixError("opendir", dir, errno);
    std::vector<std::string> names;
    for (;;) {
      errno = 0;
      struct dirent* entry = ::readdir(d);
      if (entry == nullptr) break;
      std::string_view name = entry->d_name;
      if (name != "." && name != "..") names.emplace_back(name);
    }
    int err = errno;
    ::closedir(d);
    if (err != 0) return PosixError("readdir", dir, err);
    std::sort(names.begin(), names.end());
    return names;
  }

  Status CreateDirs(const std::string& dir) override {
    if (dir.empty()) return Status::InvalidArgument("mkdir: empty path");
    // Create each prefix in turn; EEXIST on a prefix is fine.
    for (size_t pos = 1; pos <= dir.size(); ++pos) {
      if (pos != dir.size() && dir[pos] != '/') continue;
      std::string prefix = dir.substr(0, pos);
      if (::mkdir(prefix.c_str(), 0755) != 0 && errno != EEXIST) return PosixError("mkdir", prefix, errno);
    }
    struct stat st;
    if (::stat(dir.c_str(), &st) != 0) return PosixError("stat", dir, errno);
    if (!S_ISDIR(st.st_mode)) return PosixError("mkdir", dir, ENOTDIR);
    return Status::Ok();
  }

  Status RemoveFile(const std::string& path) override {
    if (::unlink(path.c_str()) != 0) return PosixError("unlink", path, errno);
    return Status::Ok();
  }

  Status RenameFile(const std::string& from, const std::string& to) override {
    if (::rename(from.c_str(), to.c_str()) != 0) return PosixError("rename", from + " -> " + to, errno);
    return Status::Ok();
  }

  Status TruncateFile(const std::string& path, uint64_t size) override {
    BATON_ASSIGN_OR_RETURN(int fd, OpenFd("open", path, O_WRONLY));
    Status status;
    if (RetryEintr([&] { return ::ftruncate(fd, static_cast<off_t>(size)); }) != 0) {
      status = PosixError("ftruncate", path, errno);
    } else if (RetryEintr([&] { return ::fsync(fd); }) != 0) {
      status = PosixError("fsync", path, errno);
    }
    ::close(fd);
    return status;
  }

  Status SyncDir(const std::string& dir) override {
    BATON_ASSIGN_OR_RETURN(int fd, OpenFd("open", dir, O_RDONLY | O_DIRECTORY));
    Status status;
    if (RetryEintr([&] { return ::fsync(fd); }) != 0) status = PosixError("fsync", dir, errno);
    ::close(fd);
    return status;
  }
};

}  // namespace

FileSystem& PosixFileSystem() {
  static PosixFileSystemImpl fs;  // stateless: one instance serves every caller
  return fs;
}

std::string JoinPath(std::string_view dir, std::string_view name) {
  std::string path(dir);
  while (path.size() > 1 && path.back() == '/') path.pop_back();
  while (!name.empty() && name.front() == '/') name.remove_prefix(1);
  if (path.empty()) return std::string(name);
  if (path != "/") path += '/';
  path += name;
  return path;
}

}  // namespace baton
