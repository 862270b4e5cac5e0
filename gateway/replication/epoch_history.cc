#include "gateway/replication/epoch_history.h"

#include <algorithm>
#include <sstream>

#include "common/file_system.h"

namespace baton::gateway {
namespace {

// Start of the epoch run containing `seq` (the entry's first_seq), 1 if none.
uint64_t RunStart(const std::vector<EpochStartEntry>& history, uint64_t seq) {
  uint64_t start = 1;
  for (const EpochStartEntry& e : history) {
    if (e.first_seq > seq) break;
    start = e.first_seq;
  }
  return start;
}

}  // namespace

uint64_t EpochAt(const std::vector<EpochStartEntry>& history, uint64_t seq) {
  uint64_t epoch = 0;
  for (const EpochStartEntry& e : history) {
    if (e.first_seq > seq) break;
    epoch = e.epoch;
  }
  return epoch;
}

uint64_t CommonPrefix(const std::vector<EpochStartEntry>& a, uint64_t a_last, const std::vector<EpochStartEntry>& b,
                      uint64_t b_last) {
  uint64_t seq = std::min(a_last, b_last);
  while (seq > 0) {
    const uint64_t ea = EpochAt(a, seq);
    if (ea != 0 && ea == EpochAt(b, seq)) return seq;
    // Both epochs are constant back to the later of the two runs' starts:
    // nothing in between can match either.
    const uint64_t start = std::max(RunStart(a, seq), RunStart(b, seq));
    if (start <= 1) return 0;
    seq = start - 1;
  }
  return 0;
}

EpochHistory::EpochHistory(FileSystem& fs, std::string dir)
    : fs_(fs), dir_(std::move(dir)), path_(JoinPath(dir_, "epochs")), assigned_path_(JoinPath(dir_, "assigned_epoch")) {}

Status EpochHistory::LoadAssignedLocked() {
  assigned_epoch_ = 0;
  BATON_ASSIGN_OR_RETURN(bool exists, fs_.FileExists(assigned_path_));
  if (!exists) return Status::Ok();
  BATON_ASSIGN_OR_RETURN(std::string text, fs_.ReadFileToString(assigned_path_));
  std::istringstream in(text);
  uint64_t epoch = 0;
  std::string extra;
  if (!(in >> epoch) || (in >> extra) || epoch == 0) {
    return Status::DataLoss(assigned_path_ + ": expected one epoch number, got \"" + text.substr(0, 40) + "\"");
  }
  assigned_epoch_ = epoch;
  return Status::Ok();
}

Status EpochHistory::Load() {
  MutexLock lock(&mu_);
  entries_.clear();
  BATON_RETURN_IF_ERROR(LoadAssignedLocked());
  BATON_ASSIGN_OR_RETURN(bool exists, fs_.FileExists(path_));
  if (!exists) return Status::Ok();
  BATON_ASSIGN_OR_RETURN(std::string text, fs_.ReadFileToString(path_));
  std::istringstream in(text);
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (line.empty()) continue;
    std::istringstream fields(line);
    EpochStartEntry e;
    std::string extra;
    if (!(fields >> e.epoch >> e.first_seq) || (fields >> extra) || e.epoch == 0 || e.first_seq == 0 ||
        (!entries_.empty() && (e.epoch <= entries_.back().epoch || e.first_seq < entries_.back().first_seq))) {
      return Status::DataLoss(path_ + " line " + std::to_string(line_no) + ": expected \"epoch first_seq\" with both " +
                              "growing, got \"" + line + "\"");
    }
    entries_.push_back(e);
  }
  return Status::Ok();
}

Status EpochHistory::Begin(uint64_t epoch, uint64_t first_seq) {
  MutexLock lock(&mu_);
  if (!entries_.empty() && entries_.back().epoch == epoch && entries_.back().first_seq <= first_seq) {
    return Status::Ok();
  }
  if (!entries_.empty() && entries_.back().epoch > epoch && entries_.back().first_seq < first_seq) {
    return Status::FailedPrecondition("epoch history: epoch " + std::to_string(epoch) + " at seq " +
                                      std::to_string(first_seq) + " is older than epoch " +
                                      std::to_string(entries_.back().epoch));
  }
  while (!entries_.empty() && entries_.back().first_seq >= first_seq) entries_.pop_back();
  entries_.push_back(EpochStartEntry{epoch, first_seq});
  return PersistLocked();
}

Status EpochHistory::TruncateAfter(uint64_t seq) {
  MutexLock lock(&mu_);
  size_t before = entries_.size();
  while (!entries_.empty() && entries_.back().first_seq > seq) entries_.pop_back();
  return entries_.size() == before ? Status::Ok() : PersistLocked();
}

Status EpochHistory::Replace(std::vector<EpochStartEntry> entries) {
  MutexLock lock(&mu_);
  entries_ = std::move(entries);
  return PersistLocked();
}

std::vector<EpochStartEntry> EpochHistory::entries() const {
  MutexLock lock(&mu_);
  return entries_;
}

uint64_t EpochHistory::last_epoch() const {
  MutexLock lock(&mu_);
  return entries_.empty() ? 0 : entries_.back().epoch;
}

uint64_t EpochHistory::highest_epoch() const {
  MutexLock lock(&mu_);
  return std::max(entries_.empty() ? 0 : entries_.back().epoch, assigned_epoch_);
}

Status EpochHistory::RecordAssigned(uint64_t epoch) {
  MutexLock lock(&mu_);
  if (epoch <= assigned_epoch_) return Status::Ok();
  BATON_RETURN_IF_ERROR(WriteDurably(assigned_path_, std::to_string(epoch) + "\n"));
  assigned_epoch_ = epoch;
  return Status::Ok();
}

Status EpochHistory::PersistLocked() {
  std::string text;
  for (const EpochStartEntry& e : entries_) text += std::to_string(e.epoch) + " " + std::to_string(e.first_seq) + "\n";
  return WriteDurably(path_, text);
}

Status EpochHistory::WriteDurably(const std::string& path, const std::string& text) {
  const std::string tmp = path + ".tmp";
  BATON_ASSIGN_OR_RETURN(auto file, fs_.NewWritableFile(tmp));
  BATON_RETURN_IF_ERROR(file->Append(text));
  BATON_RETURN_IF_ERROR(file->Sync());
  BATON_RETURN_IF_ERROR(file->Close());
  BATON_RETURN_IF_ERROR(fs_.RenameFile(tmp, path));
  return fs_.SyncDir(dir_);
}

std::vector<EpochStartEntry> EpochHistory::FromProto(const google::protobuf::RepeatedPtrField<v1::EpochStart>& in) {
  std::vector<EpochStartEntry> out;
  for (const v1::EpochStart& e : in) out.push_back(EpochStartEntry{e.epoch(), e.first_seq()});
  return out;
}

void EpochHistory::ToProto(const std::vector<EpochStartEntry>& in,
                           google::protobuf::RepeatedPtrField<v1::EpochStart>* out) {
  for (const EpochStartEntry& e : in) {
    v1::EpochStart* p = out->Add();
    p->set_epoch(e.epoch);
    p->set_first_seq(e.first_seq);
  }
}

}  // namespace baton::gateway
