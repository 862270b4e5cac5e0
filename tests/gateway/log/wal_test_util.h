// Helpers shared by the WAL tests.
#pragma once

#include <spdlog/pattern_formatter.h>
#include <spdlog/sinks/sink.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cstdlib>
#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "common/file_system.h"
#include "common/mutex.h"
#include "gateway/log/format.h"
#include "gateway/log/segment.h"
#include "gateway/log/wal.h"
#include "gateway/log/wal_reader.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_util.h"

namespace baton::gateway::wal_test {

using namespace std::chrono_literals;

using ::baton::testing::TempDir;

inline bool WaitUntil(const std::function<bool()>& cond, std::chrono::milliseconds timeout = 10s) {
  return ::baton::testing::WaitFor(cond, timeout, 1ms);
}

inline LogRecord Rec(std::string payload, RecordType type = RecordType::kWrite) {
  LogRecord record;
  record.type = type;
  record.payload = std::move(payload);
  return record;
}

// Payload of record `seq` in the tests' logs: recognisable and of varying size.
inline std::string PayloadFor(uint64_t seq) {
  return "payload-" + std::to_string(seq) + std::string(seq % 37, static_cast<char>('a' + seq % 26));
}

inline std::vector<LogRecord> RecsFor(uint64_t first_seq, size_t n) {
  std::vector<LogRecord> records;
  for (size_t i = 0; i < n; ++i) records.push_back(Rec(PayloadFor(first_seq + i)));
  return records;
}

inline WalOptions Options(const std::string& dir, uint64_t segment_bytes = kDefaultSegmentBytes) {
  WalOptions options;
  options.dir = dir;
  options.segment_bytes = segment_bytes;
  return options;
}

// All durable records from `from_seq` on (Next with no wait until nullopt).
inline Result<std::vector<LogRecord>> ReadAll(Wal& wal, uint64_t from_seq) {
  std::unique_ptr<WalReader> reader = wal.NewReader(from_seq);
  std::vector<LogRecord> records;
  for (;;) {
    BATON_ASSIGN_OR_RETURN(std::optional<LogRecord> record, reader->Next(0ms));
    if (!record.has_value()) return records;
    records.push_back(std::move(*record));
  }
}

inline std::string SegmentPathIn(const std::string& dir, uint64_t first_seq) {
  return JoinPath(dir, SegmentFileName(first_seq));
}

inline std::vector<std::string> ListDir(const std::string& dir) {
  auto names = PosixFileSystem().GetChildren(dir);
  return names.ok() ? *names : std::vector<std::string>{};
}

inline std::string ReadFile(const std::string& path) {
  auto contents = PosixFileSystem().ReadFileToString(path);
  return contents.ok() ? *contents : std::string();
}

inline void WriteFile(const std::string& path, std::string_view contents) {
  auto file = PosixFileSystem().NewWritableFile(path);
  if (!file.ok() || !(*file)->Append(contents).ok() || !(*file)->Close().ok()) std::abort();
}

// Keeps every formatted line (up to 1000, the newest) in memory. Its own
// sink rather than spdlog's ringbuffer sink: that one's mutex is locked
// inside libspdlog, whose calls TSan's suppressions leave unseen
// (tests/tsan-suppressions.txt), so its inlined unlock read as "unlock of an
// unlocked mutex". Thread-safe.
class CaptureSink final : public spdlog::sinks::sink {
 public:
  void log(const spdlog::details::log_msg& msg) override {
    spdlog::memory_buf_t formatted;
    MutexLock lock(&mu_);
    formatter_->format(msg, formatted);
    lines_.emplace_back(formatted.data(), formatted.size());
    if (lines_.size() > 1000) lines_.erase(lines_.begin());
  }
  void flush() override {}
  void set_pattern(const std::string& pattern) override {
    set_formatter(std::make_unique<spdlog::pattern_formatter>(pattern));
  }
  void set_formatter(std::unique_ptr<spdlog::formatter> formatter) override {
    MutexLock lock(&mu_);
    formatter_ = std::move(formatter);
  }
  std::vector<std::string> Lines() const {
    MutexLock lock(&mu_);
    return lines_;
  }

 private:
  mutable Mutex mu_;
  std::unique_ptr<spdlog::formatter> formatter_ GUARDED_BY(mu_) = std::make_unique<spdlog::pattern_formatter>();
  std::vector<std::string> lines_ GUARDED_BY(mu_);
};

// Captures what the code under test logs through spdlog's default logger.
class LogCapture {
 public:
  LogCapture() : sink_(std::make_shared<CaptureSink>()), previous_(spdlog::default_logger()) {
    sink_->set_pattern("%l %v");
    auto logger = std::make_shared<spdlog::logger>("capture", sink_);
    logger->set_level(spdlog::level::trace);
    spdlog::set_default_logger(logger);
  }
  ~LogCapture() { spdlog::set_default_logger(previous_); }
  LogCapture(const LogCapture&) = delete;
  LogCapture& operator=(const LogCapture&) = delete;

  std::vector<std::string> Lines() const { return sink_->Lines(); }
  // Lines that contain every one of `parts`.
  size_t Count(std::initializer_list<std::string_view> parts) const {
    size_t n = 0;
    for (const std::string& line : Lines()) {
      bool all = true;
      for (std::string_view part : parts) all = all && line.find(part) != std::string::npos;
      n += all ? 1 : 0;
    }
    return n;
  }

 private:
  std::shared_ptr<CaptureSink> sink_;
  std::shared_ptr<spdlog::logger> previous_;
};

}  // namespace baton::gateway::wal_test
