#include "gateway/log/segment.h"

#include <algorithm>
#include <cstdio>
#include <utility>

namespace baton::gateway {
namespace {

constexpr size_t kReadAhead = 256 << 10;
constexpr size_t kNameDigits = 20;
constexpr std::string_view kSuffix = ".log";

}  // namespace

std::string SegmentFileName(uint64_t first_seq) {
  char buf[32];
  std::snprintf(buf, sizeof(buf), "%020llu.log", static_cast<unsigned long long>(first_seq));
  return buf;
}

std::optional<uint64_t> ParseSegmentFileName(std::string_view name) {
  if (name.size() != kNameDigits + kSuffix.size() || name.substr(kNameDigits) != kSuffix) return std::nullopt;
  uint64_t value = 0;
  for (char c : name.substr(0, kNameDigits)) {
    if (c < '0' || c > '9') return std::nullopt;
    uint64_t digit = static_cast<uint64_t>(c - '0');
    if (value > (UINT64_MAX - digit) / 10) return std::nullopt;  // 20 digits can overflow
    value = value * 10 + digit;
  }
  return value;
}

SegmentReader::SegmentReader(std::unique_ptr<RandomAccessFile> file, std::string name)
    : file_(std::move(file)), name_(std::move(name)) {}

void SegmentReader::Invalidate() {
  buf_.clear();
  buf_offset_ = 0;
}

std::string_view SegmentReader::Buffered(uint64_t offset, uint64_t limit) const {
  if (offset < buf_offset_ || offset > buf_offset_ + buf_.size()) return {};
  std::string_view view(buf_);
  view.remove_prefix(static_cast<size_t>(offset - buf_offset_));
  if (view.size() > limit - offset) view = view.substr(0, static_cast<size_t>(limit - offset));
  return view;
}

Status SegmentReader::Fill(uint64_t offset, size_t n, uint64_t limit) {
  if (Buffered(offset, limit).size() >= n) return Status::Ok();
  size_t want = static_cast<size_t>(std::min<uint64_t>(std::max(n, kReadAhead), limit - offset));
  buf_offset_ = offset;
  Status s = file_->Read(offset, want, &buf_);
  if (!s.ok()) Invalidate();
  return s;
}

Result<std::string_view> SegmentReader::Peek(uint64_t offset, size_t n, uint64_t limit) {
  if (offset >= limit) return std::string_view();
  n = static_cast<size_t>(std::min<uint64_t>(n, limit - offset));
  BATON_RETURN_IF_ERROR(Fill(offset, n, limit));
  std::string_view view = Buffered(offset, limit);
  return view.substr(0, std::min(view.size(), n));
}

Result<std::optional<SegmentReader::Entry>> SegmentReader::ReadAt(uint64_t offset, uint64_t limit) {
  if (offset >= limit) return std::optional<Entry>();
  auto context = [&](const Status& s) {
    return Status(s.code(), "wal " + name_ + ": " + s.message() + " at offset " + std::to_string(offset));
  };
  const uint64_t available = limit - offset;
  BATON_RETURN_IF_ERROR(Fill(offset, static_cast<size_t>(std::min<uint64_t>(kHeaderSize, available)), limit));
  Result<size_t> size = PeekRecordSize(Buffered(offset, limit));
  if (!size.ok()) return context(size.status());
  BATON_RETURN_IF_ERROR(Fill(offset, static_cast<size_t>(std::min<uint64_t>(*size, available)), limit));
  Entry entry;
  Result<LogRecord> record = DecodeRecord(Buffered(offset, limit), &entry.size);
  if (!record.ok()) return context(record.status());
  entry.record = std::move(record).value();
  return std::optional<Entry>(std::move(entry));
}

}  // namespace baton::gateway
