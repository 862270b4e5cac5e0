#include "gateway/store/hnsw_graph.h"

#include <hnswlib/hnswlib.h>

#include <algorithm>
#include <exception>
#include <new>
#include <unordered_map>

namespace baton::gateway {

struct DistanceSpace::Impl {
  std::unique_ptr<hnswlib::SpaceInterface<float>> space;
  hnswlib::DISTFUNC<float> fn;
  void* param;
};

DistanceSpace::DistanceSpace(Metric metric, size_t dimension)
    : metric_(metric), dimension_(dimension), impl_(std::make_unique<Impl>()) {
  // Both spaces compare prepared vectors: for cosine they are unit length, so
  // 1 - inner product is 1 - cosine similarity.
  if (metric == Metric::kL2) {
    impl_->space = std::make_unique<hnswlib::L2Space>(dimension);
  } else {
    impl_->space = std::make_unique<hnswlib::InnerProductSpace>(dimension);
  }
  impl_->fn = impl_->space->get_dist_func();
  impl_->param = impl_->space->get_dist_func_param();
}

DistanceSpace::~DistanceSpace() = default;

float DistanceSpace::Distance(const float* a, const float* b) const { return impl_->fn(a, b, impl_->param); }

struct HnswGraph::Impl {
  std::unique_ptr<hnswlib::HierarchicalNSW<float>> hnsw;
  std::unordered_map<std::string, hnswlib::labeltype> labels;
};

namespace {

std::unique_ptr<hnswlib::HierarchicalNSW<float>> NewHnsw(hnswlib::SpaceInterface<float>* space,
                                                         const HnswOptions& o, size_t capacity) {
  auto h = std::make_unique<hnswlib::HierarchicalNSW<float>>(space, std::max<size_t>(capacity, 1), o.m,
                                                            o.ef_construction, o.random_seed);
  h->setEf(o.ef_search);
  return h;
}

Status FromException(const char* what_op, const std::string& id, const std::exception& e) {
  return Status::Internal(std::string("hnsw ") + what_op + " '" + id + "': " + e.what());
}

}  // namespace

HnswGraph::HnswGraph(const DistanceSpace& space, HnswOptions options)
    : space_(space), options_(options), impl_(std::make_unique<Impl>()) {
  impl_->hnsw = NewHnsw(space_.impl_->space.get(), options_, options_.initial_capacity);
}

HnswGraph::~HnswGraph() = default;

size_t HnswGraph::capacity() const { return impl_->hnsw->max_elements_; }

Status HnswGraph::Reset(size_t capacity) {
  try {
    // The new graph first (peak memory: both), so that a failure keeps the old.
    impl_->hnsw = NewHnsw(space_.impl_->space.get(), options_, std::max(capacity, options_.initial_capacity));
  } catch (const std::exception& e) {
    return Status::ResourceExhausted(std::string("hnsw: cannot allocate a graph for ") + std::to_string(capacity) +
                                     " objects: " + e.what());
  }
  impl_->labels.clear();
  ids_.clear();
  live_.clear();
  live_count_ = 0;
  return Status::Ok();
}

void HnswGraph::SetEfSearch(size_t ef) {
  options_.ef_search = ef;
  impl_->hnsw->setEf(ef);
}

Status HnswGraph::Put(const std::string& id, const float* prepared) {
  auto& hnsw = *impl_->hnsw;
  auto it = impl_->labels.find(id);
  try {
    if (it != impl_->labels.end()) {
      // Same label: hnswlib updates the vector in place (and undeletes).
      const hnswlib::labeltype label = it->second;
      hnsw.addPoint(prepared, label);
      if (!live_[label]) {
        live_[label] = true;
        ++live_count_;
      }
      return Status::Ok();
    }
    if (hnsw.cur_element_count >= hnsw.max_elements_) {
      hnsw.resizeIndex(std::max<size_t>(2 * hnsw.max_elements_, 1024));
    }
    const hnswlib::labeltype label = ids_.size();
    hnsw.addPoint(prepared, label);
    impl_->labels.emplace(id, label);
    ids_.push_back(id);
    live_.push_back(true);
    ++live_count_;
    return Status::Ok();
  } catch (const std::bad_alloc&) {
    return Status::ResourceExhausted("hnsw add '" + id + "': out of memory");
  } catch (const std::exception& e) {
    return FromException("add", id, e);
  }
}

Status HnswGraph::Remove(const std::string& id) {
  auto it = impl_->labels.find(id);
  if (it == impl_->labels.end() || !live_[it->second]) return Status::Ok();
  try {
    impl_->hnsw->markDelete(it->second);
  } catch (const std::exception& e) {
    return FromException("delete", id, e);
  }
  live_[it->second] = false;
  --live_count_;
  return Status::Ok();
}

Result<std::vector<std::pair<float, const std::string*>>> HnswGraph::Search(const float* prepared, size_t k) const {
  std::vector<std::pair<float, const std::string*>> out;
  if (live_count_ == 0 || k == 0) return out;
  try {
    auto queue = impl_->hnsw->searchKnn(prepared, k);  // farthest on top
    out.resize(queue.size());
    for (size_t i = queue.size(); i-- > 0;) {
      out[i] = {queue.top().first, &ids_[queue.top().second]};
      queue.pop();
    }
  } catch (const std::exception& e) {
    return Status::Internal(std::string("hnsw search: ") + e.what());
  }
  return out;
}

}  // namespace baton::gateway
