// search_bench: loads N random vectors into a fresh gateway with MultiUpsert,
// waits until the index has caught up (baton_gateway_index_pending_objects ==
// 0 on /metrics), then measures recall@10 against a client-side brute-force
// exact top-10 and Search QPS with 1 and 16 client threads. Used by
// bench/search; prints progress to stderr and one final JSON line to stdout.
//
//   search_bench --grpc 127.0.0.1:P --http 127.0.0.1:H [--n 100000]
//                [--dimension 128] [--queries 200] [--qps-seconds 10]
//                [--load-threads 4] [--batch 500] [--index-timeout-s 900]
//                [--seed 42]
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <memory>
#include <random>
#include <string>
#include <thread>
#include <unordered_set>
#include <utility>
#include <vector>

#include <grpcpp/grpcpp.h>

#include "baton/v1/gateway.grpc.pb.h"

namespace {

using Clock = std::chrono::steady_clock;

double Seconds(Clock::time_point a, Clock::time_point b) {
  return std::chrono::duration<double>(b - a).count();
}

struct Options {
  std::string grpc = "127.0.0.1:50051";
  std::string http = "127.0.0.1:8080";
  size_t n = 100000;
  size_t dim = 128;
  size_t queries = 200;
  double qps_seconds = 10;
  size_t load_threads = 4;
  size_t batch = 500;
  double index_timeout_s = 900;
  unsigned seed = 42;
};

bool ParseArgs(int argc, char** argv, Options* o) {
  std::map<std::string, std::string> kv;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a.rfind("--", 0) != 0 || i + 1 >= argc) {
      std::fprintf(stderr, "bad argument: %s\n", a.c_str());
      return false;
    }
    kv[a.substr(2)] = argv[++i];
  }
  for (const auto& [k, v] : kv) {
    if (k == "grpc") o->grpc = v;
    else if (k == "http") o->http = v;
    else if (k == "n") o->n = std::stoul(v);
    else if (k == "dimension") o->dim = std::stoul(v);
    else if (k == "queries") o->queries = std::stoul(v);
    else if (k == "qps-seconds") o->qps_seconds = std::stod(v);
    else if (k == "load-threads") o->load_threads = std::stoul(v);
    else if (k == "batch") o->batch = std::stoul(v);
    else if (k == "index-timeout-s") o->index_timeout_s = std::stod(v);
    else if (k == "seed") o->seed = static_cast<unsigned>(std::stoul(v));
    else {
      std::fprintf(stderr, "unknown flag --%s\n", k.c_str());
      return false;
    }
  }
  return o->n > 0 && o->dim > 0 && o->batch > 0 && o->load_threads > 0;
}

// Minimal HTTP/1.0 GET over loopback; returns the whole response or "".
std::string HttpGet(const std::string& hostport, const std::string& path) {
  const auto colon = hostport.rfind(':');
  if (colon == std::string::npos) return "";
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(std::stoi(hostport.substr(colon + 1))));
  if (inet_pton(AF_INET, hostport.substr(0, colon).c_str(), &addr.sin_addr) != 1) return "";
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) return "";
  timeval tv{5, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  std::string out;
  if (::connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)) == 0) {
    const std::string req = "GET " + path + " HTTP/1.0\r\nHost: " + hostport + "\r\n\r\n";
    if (::send(fd, req.data(), req.size(), 0) == static_cast<ssize_t>(req.size())) {
      char buf[65536];
      for (int i = 0; i < 100000; ++i) {  // bounded
        const ssize_t r = ::recv(fd, buf, sizeof(buf), 0);
        if (r <= 0) break;
        out.append(buf, static_cast<size_t>(r));
      }
    }
  }
  ::close(fd);
  return out;
}

// Value of an unlabelled Prometheus metric, or -1 if absent.
double MetricValue(const std::string& body, const std::string& name) {
  size_t pos = 0;
  while ((pos = body.find(name, pos)) != std::string::npos) {
    const bool line_start = pos == 0 || body[pos - 1] == '\n';
    const size_t after = pos + name.size();
    if (line_start && after < body.size() && (body[after] == ' ' || body[after] == '{')) {
      size_t sp = body.find(' ', after);
      if (body[after] == '{') sp = body.find(' ', body.find('}', after));
      if (sp == std::string::npos) return -1;
      return std::atof(body.c_str() + sp + 1);
    }
    pos = after;
  }
  return -1;
}

std::string Id(size_t i) { return "v" + std::to_string(i); }

double Percentile(std::vector<double> v, double p) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v[static_cast<size_t>(p * static_cast<double>(v.size() - 1))];
}

struct QpsResult {
  double qps = 0;
  double p50_ms = 0;
  double p99_ms = 0;
  size_t ops = 0;
  size_t errors = 0;
};

QpsResult RunSearchLoad(const std::shared_ptr<grpc::Channel>& channel, const std::vector<float>& qvecs,
                        size_t dim, size_t threads, double seconds) {
  const size_t nq = qvecs.size() / dim;
  std::vector<std::vector<double>> lat(threads);
  std::atomic<size_t> errors{0};
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(seconds);
  std::vector<std::thread> ts;
  for (size_t t = 0; t < threads; ++t) {
    ts.emplace_back([&, t] {
      auto stub = baton::v1::Gateway::NewStub(channel);
      size_t q = t;
      // Bounded by time and by count.
      for (size_t i = 0; i < 10'000'000 && Clock::now() < deadline; ++i, q += threads) {
        baton::v1::SearchRequest req;
        const float* v = &qvecs[(q % nq) * dim];
        req.mutable_vector()->Add(v, v + dim);
        req.set_k(10);
        baton::v1::SearchResponse resp;
        grpc::ClientContext ctx;
        ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
        const auto t0 = Clock::now();
        const grpc::Status st = stub->Search(&ctx, req, &resp);
        if (!st.ok()) {
          errors.fetch_add(1);
          continue;
        }
        lat[t].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
      }
    });
  }
  for (auto& th : ts) th.join();
  const double elapsed = Seconds(start, Clock::now());
  std::vector<double> all;
  for (auto& l : lat) all.insert(all.end(), l.begin(), l.end());
  QpsResult r;
  r.ops = all.size();
  r.errors = errors.load();
  r.qps = static_cast<double>(all.size()) / elapsed;
  r.p50_ms = Percentile(all, 0.50);
  r.p99_ms = Percentile(all, 0.99);
  return r;
}

}  // namespace

int main(int argc, char** argv) {
  Options o;
  if (!ParseArgs(argc, argv, &o)) return 2;

  // Data: uniform in [-1, 1), deterministic from the seed.
  std::vector<float> data(o.n * o.dim);
  {
    std::mt19937 rng(o.seed);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (auto& x : data) x = u(rng);
  }
  std::vector<float> qvecs(o.queries * o.dim);
  {
    std::mt19937 rng(o.seed + 1);
    std::uniform_real_distribution<float> u(-1.0f, 1.0f);
    for (auto& x : qvecs) x = u(rng);
  }

  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(64 << 20);
  args.SetMaxSendMessageSize(64 << 20);
  auto channel = grpc::CreateCustomChannel(o.grpc, grpc::InsecureChannelCredentials(), args);
  if (!channel->WaitForConnected(std::chrono::system_clock::now() + std::chrono::seconds(10))) {
    std::fprintf(stderr, "search_bench: cannot connect to %s\n", o.grpc.c_str());
    return 1;
  }

  // 1. Load.
  std::fprintf(stderr, "search_bench: loading %zu x %zu-d vectors (batch %zu, %zu threads)\n", o.n, o.dim,
               o.batch, o.load_threads);
  const auto load_start = Clock::now();
  std::atomic<size_t> next_batch{0};
  std::atomic<size_t> load_errors{0};
  std::atomic<size_t> loaded{0};
  const size_t nbatches = (o.n + o.batch - 1) / o.batch;
  {
    std::vector<std::thread> ts;
    for (size_t t = 0; t < o.load_threads; ++t) {
      ts.emplace_back([&] {
        auto stub = baton::v1::Gateway::NewStub(channel);
        for (size_t b; (b = next_batch.fetch_add(1)) < nbatches;) {
          baton::v1::MultiUpsertRequest req;
          const size_t lo = b * o.batch, hi = std::min(o.n, lo + o.batch);
          for (size_t i = lo; i < hi; ++i) {
            auto* obj = req.add_requests()->mutable_object();
            obj->set_id(Id(i));
            obj->mutable_vector()->Add(&data[i * o.dim], &data[(i + 1) * o.dim]);
          }
          bool ok = false;
          for (int attempt = 0; attempt < 3 && !ok; ++attempt) {
            baton::v1::MultiWriteResult resp;
            grpc::ClientContext ctx;
            ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(60));
            const grpc::Status st = stub->MultiUpsert(&ctx, req, &resp);
            if (!st.ok()) {
              std::fprintf(stderr, "search_bench: MultiUpsert: %s\n", st.error_message().c_str());
              continue;
            }
            ok = true;
            for (const auto& r : resp.results()) {
              if (r.code() != 0) load_errors.fetch_add(1);
            }
          }
          if (!ok) load_errors.fetch_add(hi - lo);
          const size_t done = loaded.fetch_add(hi - lo) + (hi - lo);
          if ((b + 1) % 40 == 0) std::fprintf(stderr, "search_bench: loaded ~%zu/%zu\n", done, o.n);
        }
      });
    }
    for (auto& th : ts) th.join();
  }
  const double load_s = Seconds(load_start, Clock::now());
  std::fprintf(stderr, "search_bench: loaded %zu in %.1f s (%.0f obj/s), %zu item errors\n", o.n, load_s,
               static_cast<double>(o.n) / load_s, load_errors.load());
  if (load_errors.load() > 0) {
    std::fprintf(stderr, "search_bench: load had errors; aborting\n");
    return 1;
  }

  // 2. Wait until indexed (bounded).
  const auto idx_start = Clock::now();
  double pending = -1;
  // The gauge is refreshed only when a write batch commits (the indexer
  // draining does not update it), so poke the write path with a Remove of an
  // id that does not exist: it commits an empty batch, enqueues nothing and
  // answers NOT_FOUND.
  auto poke_stub = baton::v1::Gateway::NewStub(channel);
  for (;;) {
    {
      baton::v1::RemoveRequest req;
      req.set_id("__search_bench_gauge_poke__");
      baton::v1::WriteResult resp;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(10));
      (void)poke_stub->Remove(&ctx, req, &resp);
    }
    const std::string body = HttpGet(o.http, "/metrics");
    pending = MetricValue(body, "baton_gateway_index_pending_objects");
    const double waited = Seconds(idx_start, Clock::now());
    std::fprintf(stderr, "search_bench: index pending %.0f after %.0f s\n", pending, waited);
    if (pending == 0) break;
    if (waited > o.index_timeout_s) {
      std::fprintf(stderr, "search_bench: index not caught up after %.0f s; aborting\n", waited);
      return 1;
    }
    std::this_thread::sleep_for(std::chrono::seconds(pending < 0 ? 1 : 3));
  }
  const double index_wait_s = Seconds(idx_start, Clock::now());

  // 3. Exact top-10 (brute force, squared L2) and recall@10.
  std::fprintf(stderr, "search_bench: exact top-10 for %zu queries\n", o.queries);
  std::vector<std::vector<size_t>> exact(o.queries);
  {
    const size_t nt = std::max<size_t>(1, std::min<size_t>(4, std::thread::hardware_concurrency()));
    std::vector<std::thread> ts;
    for (size_t t = 0; t < nt; ++t) {
      ts.emplace_back([&, t] {
        std::vector<std::pair<float, size_t>> d(o.n);
        for (size_t q = t; q < o.queries; q += nt) {
          const float* qv = &qvecs[q * o.dim];
          for (size_t i = 0; i < o.n; ++i) {
            const float* v = &data[i * o.dim];
            float s = 0;
            for (size_t j = 0; j < o.dim; ++j) {
              const float diff = qv[j] - v[j];
              s += diff * diff;
            }
            d[i] = {s, i};
          }
          const size_t k = std::min<size_t>(10, o.n);
          std::partial_sort(d.begin(), d.begin() + static_cast<std::ptrdiff_t>(k), d.end());
          for (size_t j = 0; j < k; ++j) exact[q].push_back(d[j].second);
        }
      });
    }
    for (auto& th : ts) th.join();
  }
  size_t hits = 0, expected = 0, recall_errors = 0;
  {
    auto stub = baton::v1::Gateway::NewStub(channel);
    for (size_t q = 0; q < o.queries; ++q) {
      baton::v1::SearchRequest req;
      req.mutable_vector()->Add(&qvecs[q * o.dim], &qvecs[(q + 1) * o.dim]);
      req.set_k(10);
      baton::v1::SearchResponse resp;
      grpc::ClientContext ctx;
      ctx.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
      const grpc::Status st = stub->Search(&ctx, req, &resp);
      expected += exact[q].size();
      if (!st.ok()) {
        ++recall_errors;
        continue;
      }
      std::unordered_set<std::string> got;
      for (const auto& r : resp.results()) got.insert(r.id());
      for (size_t i : exact[q]) hits += got.count(Id(i));
    }
  }
  const double recall = expected ? static_cast<double>(hits) / static_cast<double>(expected) : 0;
  std::fprintf(stderr, "search_bench: recall@10 %.4f (%zu search errors)\n", recall, recall_errors);

  // 4. QPS with 1 and 16 client threads.
  std::fprintf(stderr, "search_bench: QPS, 1 thread, %.0f s\n", o.qps_seconds);
  const QpsResult r1 = RunSearchLoad(channel, qvecs, o.dim, 1, o.qps_seconds);
  std::fprintf(stderr, "search_bench: QPS, 16 threads, %.0f s\n", o.qps_seconds);
  const QpsResult r16 = RunSearchLoad(channel, qvecs, o.dim, 16, o.qps_seconds);

  std::printf(
      "{\"bench\":\"search\",\"n\":%zu,\"dimension\":%zu,\"queries\":%zu,\"recall_at_10\":%.4f,"
      "\"qps_1\":%.1f,\"p50_ms_1\":%.3f,\"p99_ms_1\":%.3f,\"qps_16\":%.1f,\"p50_ms_16\":%.3f,"
      "\"p99_ms_16\":%.3f,\"search_errors\":%zu,\"load_seconds\":%.1f,\"index_wait_seconds\":%.1f}\n",
      o.n, o.dim, o.queries, recall, r1.qps, r1.p50_ms, r1.p99_ms, r16.qps, r16.p50_ms, r16.p99_ms,
      recall_errors + r1.errors + r16.errors, load_s, index_wait_s);
  return 0;
}
