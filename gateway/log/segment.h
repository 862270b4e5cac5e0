// Segment files: the log is a directory of files named by the seq of their
// first record, "00000000000000001234.log" (20 digits, so names sort like
// numbers), each a plain concatenation of encoded records (format.h).
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/file_system.h"
#include "common/status.h"
#include "gateway/log/format.h"

namespace baton::gateway {

// "00000000000000001234.log" for 1234.
std::string SegmentFileName(uint64_t first_seq);
// The first seq named by `name`, or nullopt if `name` is not a segment name.
std::optional<uint64_t> ParseSegmentFileName(std::string_view name);

// Reads records of one segment at explicit offsets through a read-ahead
// buffer (one pread per ~256 KiB, not one per record). Confined to one thread;
// other handles may append to the file meanwhile: bytes below a `limit` the
// caller knows to be final are the only ones looked at.
class SegmentReader {
 public:
  // `name` is only for messages.
  SegmentReader(std::unique_ptr<RandomAccessFile> file, std::string name);

  struct Entry {
    LogRecord record;
    uint64_t size = 0;  // encoded bytes; the next record starts at offset + size
  };

  // Decodes the record that starts at `offset`, using only bytes before
  // `limit`. nullopt when offset == limit (end of the readable data).
  // DATA_LOSS "wal <name>: <reason> at offset <offset>" when the bytes there
  // are not a whole valid record (reasons as DecodeRecord gives them); I/O
  // errors as the FileSystem reports them.
  Result<std::optional<Entry>> ReadAt(uint64_t offset, uint64_t limit);

  // Up to `n` raw bytes at `offset` (fewer before `limit`), for the recovery
  // scan that looks for valid records after a bad one.
  Result<std::string_view> Peek(uint64_t offset, size_t n, uint64_t limit);

  // Forgets buffered bytes: the file was truncated and may be rewritten.
  void Invalidate();

  const std::string& name() const { return name_; }

 private:
  // Makes the buffer hold [offset, offset + n), n <= limit - offset.
  Status Fill(uint64_t offset, size_t n, uint64_t limit);
  std::string_view Buffered(uint64_t offset, uint64_t limit) const;

  std::unique_ptr<RandomAccessFile> file_;
  const std::string name_;
  std::string buf_;
  uint64_t buf_offset_ = 0;
};

}  // namespace baton::gateway
