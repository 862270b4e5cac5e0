#include "gateway/store/vector_index.h"

#include <pthread.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <exception>
#include <queue>
#include <unordered_set>
#include <utility>

#include <spdlog/spdlog.h>

namespace baton::gateway {
namespace {

// Keeps the k smallest (distance, id), ties broken by id.
class TopK {
 public:
  explicit TopK(size_t k) : k_(k) {}

  void Add(float distance, std::string_view id) {
    if (heap_.size() == k_) {
      const auto& worst = heap_.top();
      if (distance > worst.distance || (distance == worst.distance && id >= worst.id)) return;
      heap_.pop();
    }
    heap_.push(Neighbor{std::string(id), distance});
  }

  std::vector<Neighbor> Take() {
    std::vector<Neighbor> out(heap_.size());
    for (size_t i = out.size(); i-- > 0;) {
      out[i] = heap_.top();
      heap_.pop();
    }
    return out;
  }

 private:
  struct Worse {
    bool operator()(const Neighbor& a, const Neighbor& b) const {
      return a.distance < b.distance || (a.distance == b.distance && a.id < b.id);
    }
  };
  size_t k_;
  std::priority_queue<Neighbor, std::vector<Neighbor>, Worse> heap_;  // worst on top
};

}  // namespace

Result<std::unique_ptr<VectorIndex>> VectorIndex::Create(const ObjectStore& store, VectorIndexOptions options) {
  if (options.dimension <= 0) return Status::InvalidArgument("index.dimension: must be > 0");
  if (store.dimension() > 0 && store.dimension() != options.dimension) {
    return Status::InvalidArgument("index.dimension: " + std::to_string(options.dimension) +
                                   ", but the store holds " + std::to_string(store.dimension()) + "-d vectors");
  }
  if (options.m < 2 || options.m > 200) return Status::InvalidArgument("index.m: must be in 2..200");
  if (options.ef_construction < 1 || options.ef_search < 1) {
    return Status::InvalidArgument("index.ef_construction and index.ef_search: must be > 0");
  }
  if (options.batch_size < 1) return Status::InvalidArgument("index.batch_size: must be > 0");
  return std::unique_ptr<VectorIndex>(new VectorIndex(store, options));
}

VectorIndex::VectorIndex(const ObjectStore& store, VectorIndexOptions options)
    : store_(store),
      options_(options),
      space_(options.metric, static_cast<size_t>(options.dimension)),
      graph_(space_, HnswOptions{options.m, options.ef_construction, options.ef_search, options.initial_capacity,
                                 options.random_seed}) {
  if (options_.start_indexer) indexer_ = std::thread([this] { IndexerLoop(); });
}

VectorIndex::~VectorIndex() {
  {
    MutexLock lock(&pending_mu_);
    stopping_ = true;
  }
  work_cv_.SignalAll();
  if (indexer_.joinable()) indexer_.join();
}

void VectorIndex::EnqueueLocked(std::string_view id) {
  auto [it, inserted] = pending_.try_emplace(std::string(id));
  it->second.seq = next_seq_++;
  if (!it->second.queued) {
    it->second.queued = true;
    queue_.push_back(it->first);
  }
}

void VectorIndex::Enqueue(std::string_view id) {
  {
    MutexLock lock(&pending_mu_);
    EnqueueLocked(id);
  }
  work_cv_.Signal();
}

void VectorIndex::EnqueueRecord(const v1::WriteRecord& record) {
  {
    MutexLock lock(&pending_mu_);
    for (const v1::Mutation& m : record.mutations()) {
      if (m.has_put()) EnqueueLocked(m.put().id());
      if (m.has_remove()) EnqueueLocked(m.remove().id());
    }
  }
  work_cv_.Signal();
}

Status VectorIndex::Rebuild() {
  // No batch in flight while the graph is swapped out.
  MutexLock process_lock(&process_mu_);
  std::vector<std::string> ids;
  store_.ForEachLive([&](std::string_view id, std::span<const float>) { ids.emplace_back(id); });
  {
    // Everything pending first, so that searches stop trusting the graph
    // before it is emptied. On failure below they are simply re-indexed into
    // the old graph.
    MutexLock lock(&pending_mu_);
    for (const std::string& id : ids) EnqueueLocked(id);
  }
  Status reset;
  {
    WriterLock lock(&graph_mu_);
    reset = graph_.Reset(ids.size());
  }
  work_cv_.Signal();
  if (!reset.ok()) return reset.WithContext("vector index rebuild");
  spdlog::info("vector index rebuild started objects={}", ids.size());
  return Status::Ok();
}

void VectorIndex::IndexerLoop() {
  pthread_setname_np(pthread_self(), "baton-indexer");
  // On Linux PRIO_PROCESS with a thread id renices that thread alone.
  if (options_.indexer_nice > 0 && setpriority(PRIO_PROCESS, static_cast<id_t>(gettid()), options_.indexer_nice) != 0) {
    spdlog::warn("vector indexer: cannot set nice {}: {}", options_.indexer_nice, std::strerror(errno));
  }
  for (;;) {
    {
      MutexLock lock(&pending_mu_);
      while (!stopping_ && queue_.empty()) work_cv_.Wait();
      if (stopping_) return;
    }
    try {
      ProcessBatch();
    } catch (const std::exception& e) {
      spdlog::error("vector indexer: batch failed: {}", e.what());
    } catch (...) {
      spdlog::error("vector indexer: batch failed with a non-standard exception");
    }
  }
}

size_t VectorIndex::ProcessBatch() {
  MutexLock process_lock(&process_mu_);
  std::vector<std::pair<std::string, uint64_t>> batch;  // (id, seq taken)
  {
    MutexLock lock(&pending_mu_);
    while (!queue_.empty() && batch.size() < options_.batch_size) {
      std::string id = std::move(queue_.front());
      queue_.pop_front();
      Pending& p = pending_.at(id);
      p.queued = false;
      batch.emplace_back(std::move(id), p.seq);
    }
    if (batch.empty()) return 0;
    ++in_flight_;
  }

  std::vector<Status> results(batch.size());
  try {
    // Read the store after taking the seqs: the graph gets a state at least
    // as new as every Enqueue the batch covers.
    std::vector<std::vector<float>> vectors(batch.size());
    std::vector<bool> live(batch.size(), false);
    std::vector<float> raw;
    for (size_t i = 0; i < batch.size(); ++i) {
      if (store_.GetVector(batch[i].first, &raw)) {
        live[i] = true;
        PrepareVector(options_.metric, raw, &vectors[i]);
      }
    }
    // One change per exclusive hold: a search waits for at most one graph
    // insertion (~0.1-1 ms at 128-d), not for a whole batch.
    for (size_t i = 0; i < batch.size(); ++i) {
      WriterLock lock(&graph_mu_);
      results[i] = live[i] ? graph_.Put(batch[i].first, vectors[i].data()) : graph_.Remove(batch[i].first);
    }
  } catch (const std::exception& e) {  // bad_alloc: give the whole batch up
    for (Status& r : results) {
      if (r.ok()) r = Status::ResourceExhausted(std::string("vector index batch: ") + e.what());
    }
  }

  size_t failed = 0;
  const Status* first_failure = nullptr;
  {
    MutexLock lock(&pending_mu_);
    for (size_t i = 0; i < batch.size(); ++i) {
      if (!results[i].ok()) {
        // Stays pending (searched exactly) until enqueued again or rebuilt.
        ++failed;
        if (first_failure == nullptr) first_failure = &results[i];
        continue;
      }
      // A newer Enqueue re-queued it: keep it pending for that one.
      auto it = pending_.find(batch[i].first);
      if (it != pending_.end() && it->second.seq == batch[i].second) pending_.erase(it);
    }
    failures_total_ += failed;
    --in_flight_;
    if (queue_.empty() && in_flight_ == 0) idle_cv_.SignalAll();
  }
  if (failed > 0) {
    spdlog::warn("vector index: {} of {} changes not indexed, searched exactly instead: {}", failed, batch.size(),
                 first_failure->message());
  }
  return batch.size();
}

size_t VectorIndex::ProcessPendingForTest() {
  size_t total = 0;
  while (size_t n = ProcessBatch()) total += n;
  return total;
}

bool VectorIndex::WaitUntilIndexed(std::chrono::milliseconds timeout) const {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  MutexLock lock(&pending_mu_);
  while (!(queue_.empty() && in_flight_ == 0)) {
    const auto now = std::chrono::steady_clock::now();
    if (now >= deadline) return false;
    idle_cv_.WaitFor(deadline - now);
  }
  return true;
}

void VectorIndex::SetEfSearch(size_t ef) {
  WriterLock lock(&graph_mu_);
  graph_.SetEfSearch(std::max<size_t>(ef, 1));
}

VectorIndexStats VectorIndex::stats() const {
  VectorIndexStats s;
  {
    ReaderLock lock(&graph_mu_);
    s.indexed = graph_.live_count();
    s.deleted_in_graph = graph_.deleted_count();
    s.capacity = graph_.capacity();
  }
  MutexLock lock(&pending_mu_);
  s.pending = pending_.size();
  s.failures_total = failures_total_;
  return s;
}

size_t VectorIndex::pending_count() const {
  MutexLock lock(&pending_mu_);
  return pending_.size();
}

Status VectorIndex::CheckQuery(std::span<const float> query, size_t k) const {
  if (query.size() != static_cast<size_t>(options_.dimension)) {
    return Status::InvalidArgument("vector: " + std::to_string(query.size()) + " values, index.dimension is " +
                                   std::to_string(options_.dimension));
  }
  if (k == 0) return Status::InvalidArgument("k: must be at least 1");
  return Status::Ok();
}

Result<std::vector<Neighbor>> VectorIndex::Search(std::span<const float> query, size_t k) const {
  BATON_RETURN_IF_ERROR(CheckQuery(query, k));
  std::vector<float> q;
  PrepareVector(options_.metric, query, &q);

  TopK top(k);
  std::vector<float> scratch;
  auto add_exact = [&](std::string_view id, std::span<const float> v) {
    const float* p = v.data();
    if (options_.metric == Metric::kCosine) {
      PrepareVector(Metric::kCosine, v, &scratch);
      p = scratch.data();
    }
    top.Add(space_.Distance(q.data(), p), id);
  };

  bool exact = store_.size() < options_.exact_threshold;
  std::vector<std::string> pending_ids;
  if (!exact) {
    MutexLock lock(&pending_mu_);
    if (pending_.size() > options_.max_pending_for_ann) {
      exact = true;
    } else {
      pending_ids.reserve(pending_.size());
      for (const auto& [id, p] : pending_) pending_ids.push_back(id);
    }
  }
  if (exact) {
    store_.ForEachLive(add_exact);
    return top.Take();
  }

  const std::unordered_set<std::string_view> skip(pending_ids.begin(), pending_ids.end());
  {
    ReaderLock lock(&graph_mu_);
    auto found = graph_.Search(q.data(), k + pending_ids.size());
    if (!found.ok()) return found.status();
    for (const auto& [distance, id] : *found) {
      if (!skip.count(*id)) top.Add(distance, *id);
    }
  }
  store_.ForEachLiveOf(pending_ids, add_exact);
  return top.Take();
}

Result<std::vector<Neighbor>> VectorIndex::SearchByID(std::string_view id, size_t k) const {
  std::vector<float> v;
  if (!store_.GetVector(id, &v)) return Status::NotFound("object '" + std::string(id) + "' not found");
  BATON_ASSIGN_OR_RETURN(std::vector<Neighbor> found, Search(v, k));
  // The object itself first, even where the graph missed it or a tie (or a
  // zero vector under cosine) ranked another object level with it.
  std::erase_if(found, [&](const Neighbor& n) { return n.id == id; });
  std::vector<float> p;
  PrepareVector(options_.metric, v, &p);
  found.insert(found.begin(), Neighbor{std::string(id), space_.Distance(p.data(), p.data())});
  if (found.size() > k) found.pop_back();
  return found;
}

}  // namespace baton::gateway
