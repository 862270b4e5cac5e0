// The approximate-nearest-neighbour graph behind VectorIndex: hnswlib's
// HierarchicalNSW<float> keyed by object id, with its exceptions turned into
// Status. hnswlib is included by hnsw_graph.cc only (its headers define
// non-inline globals, so a second includer would not link).
//
// Thread-compatible: Search() and the accessors may run concurrently with each
// other; Put, Remove and Reset need exclusive access (VectorIndex holds a
// shared/exclusive lock around it).
#pragma once

#include <cstddef>
#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "common/status.h"
#include "gateway/store/metric.h"

namespace baton::gateway {

// Distances exactly as the graph computes them (same SIMD kernels), so an
// object scanned exactly and the same object found in the graph rank alike.
// Vectors must have been through PrepareVector(). Thread-safe after
// construction.
class DistanceSpace {
 public:
  DistanceSpace(Metric metric, size_t dimension);
  ~DistanceSpace();
  DistanceSpace(const DistanceSpace&) = delete;
  DistanceSpace& operator=(const DistanceSpace&) = delete;

  float Distance(const float* a, const float* b) const;
  Metric metric() const { return metric_; }
  size_t dimension() const { return dimension_; }

 private:
  friend class HnswGraph;
  struct Impl;
  Metric metric_;
  size_t dimension_;
  std::unique_ptr<Impl> impl_;
};

struct HnswOptions {
  size_t m = 16;
  size_t ef_construction = 200;
  size_t ef_search = 100;
  size_t initial_capacity = 1024;
  uint64_t random_seed = 100;
};

class HnswGraph {
 public:
  // `space` must outlive the graph.
  HnswGraph(const DistanceSpace& space, HnswOptions options);
  ~HnswGraph();
  HnswGraph(const HnswGraph&) = delete;
  HnswGraph& operator=(const HnswGraph&) = delete;

  // Adds `id`, or moves it to a new vector (prepared). Grows the capacity as
  // needed. RESOURCE_EXHAUSTED / INTERNAL when hnswlib fails; the graph is
  // then unchanged for `id`, or still holds its old vector.
  [[nodiscard]] Status Put(const std::string& id, const float* prepared);
  // Marks `id` deleted; no-op if absent or already deleted. Its slot is kept
  // for a later Put of the same id (hnswlib 0.6 cannot reuse others' slots).
  [[nodiscard]] Status Remove(const std::string& id);
  // Empties the graph, with room for `capacity` objects. RESOURCE_EXHAUSTED
  // (graph unchanged) if the new graph cannot be allocated.
  [[nodiscard]] Status Reset(size_t capacity);
  // The breadth of Search (hnswlib's ef; at least k is used).
  void SetEfSearch(size_t ef);

  // Up to k (distance, id) pairs, nearest first; the id pointers stay valid
  // until the next Put/Remove/Reset. `prepared` is a PrepareVector() output.
  Result<std::vector<std::pair<float, const std::string*>>> Search(const float* prepared, size_t k) const;

  size_t live_count() const { return live_count_; }
  size_t deleted_count() const { return ids_.size() - live_count_; }
  size_t capacity() const;

 private:
  struct Impl;
  const DistanceSpace& space_;
  HnswOptions options_;
  std::unique_ptr<Impl> impl_;
  // label -> id and label -> not deleted; labels are dense from 0.
  std::vector<std::string> ids_;
  std::vector<bool> live_;
  size_t live_count_ = 0;
};

}  // namespace baton::gateway
