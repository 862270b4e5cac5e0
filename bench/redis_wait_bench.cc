// redis_wait_bench HOST PORT CLIENTS SECONDS VALUE_BYTES [MAX_OPS]: Redis
// writes acknowledged by a replica. Each of CLIENTS connections loops
// `SET key:<client>:<n> <value>` + `WAIT 1 0` (pipelined in one write) for
// SECONDS or until MAX_OPS in all (default 10M); an op whose WAIT answers 0 is
// an error. Prints one JSON line: ops_per_second, p50/p99/p999_ms, errors, ops.
// Exit status 1 if nothing succeeded (or no connection), 2 on bad usage.
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "resp.h"

namespace {

using Clock = std::chrono::steady_clock;

// WAIT 1 0 blocks until a replica acks, with no timeout of its own: a socket
// read timeout keeps a lost replica from hanging the bench.
constexpr int kReadTimeoutS = 10;

int Connect(const std::string& host, const std::string& port) {
  return baton::bench::RespConnect(host, port, kReadTimeoutS * 1000, kReadTimeoutS * 1000);
}

using baton::bench::RespWriteAll;
using ReplyReader = baton::bench::RespReader;

std::string Bulk(const std::string& s) { return baton::bench::RespBulk(s); }

struct ClientResult {
  std::vector<double> lat_ms;  // successful ops only
  long errors = 0;
  std::string failure;  // why the connection stopped early, if it did
};

void RunClient(const std::string& host, const std::string& port, int id, const std::string& value,
               Clock::time_point deadline, std::atomic<long>* budget, ClientResult* out) {
  const int fd = Connect(host, port);
  if (fd < 0) {
    out->failure = "connect failed";
    return;
  }
  ReplyReader reader(fd);
  static const std::string kWait = "*3\r\n" + Bulk("WAIT") + Bulk("1") + Bulk("0");
  const std::string value_bulk = Bulk(value);
  std::string line;
  for (long n = 0; Clock::now() < deadline && budget->fetch_sub(1) > 0; ++n) {
    const std::string cmd =
        "*3\r\n" + Bulk("SET") + Bulk("key:" + std::to_string(id) + ":" + std::to_string(n)) + value_bulk + kWait;
    const auto t0 = Clock::now();
    if (!RespWriteAll(fd, cmd)) {
      out->failure = std::string("write: ") + std::strerror(errno);
      break;
    }
    if (!reader.Line(&line)) {
      out->failure = "no reply to SET";
      break;
    }
    const bool set_ok = line == "+OK";
    if (!reader.Line(&line)) {
      out->failure = "no reply to WAIT";
      break;
    }
    const bool wait_ok = line.size() > 1 && line[0] == ':' && std::atol(line.c_str() + 1) >= 1;
    if (set_ok && wait_ok) {
      out->lat_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    } else {
      ++out->errors;
    }
  }
  if (!out->failure.empty()) ++out->errors;
  ::close(fd);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 6) {
    std::fprintf(stderr, "usage: %s HOST PORT CLIENTS SECONDS VALUE_BYTES [MAX_OPS]\n", argv[0]);
    return 2;
  }
  const std::string host = argv[1], port = argv[2];
  const int clients = std::atoi(argv[3]);
  const double seconds = std::atof(argv[4]);
  const long value_bytes = std::atol(argv[5]);
  const long max_ops = argc > 6 ? std::atol(argv[6]) : 10'000'000;
  if (clients < 1 || clients > 4096 || seconds <= 0 || value_bytes < 0 || value_bytes > (64 << 20) || max_ops < 1) {
    std::fprintf(stderr, "%s: bad arguments\n", argv[0]);
    return 2;
  }
  // Fail fast (and clearly) when nothing listens, before starting the clock.
  const int probe = Connect(host, port);
  if (probe < 0) {
    std::fprintf(stderr, "%s: cannot connect to %s:%s\n", argv[0], host.c_str(), port.c_str());
    return 1;
  }
  ::close(probe);

  const std::string value(static_cast<size_t>(value_bytes), 'v');
  std::atomic<long> budget{max_ops};
  std::vector<ClientResult> results(static_cast<size_t>(clients));
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(seconds));
  for (int i = 0; i < clients; ++i) {
    threads.emplace_back(RunClient, host, port, i, std::cref(value), deadline, &budget, &results[static_cast<size_t>(i)]);
  }
  for (auto& t : threads) t.join();
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();

  std::vector<double> lat;
  long errors = 0;
  for (size_t i = 0; i < results.size(); ++i) {
    lat.insert(lat.end(), results[i].lat_ms.begin(), results[i].lat_ms.end());
    errors += results[i].errors;
    if (!results[i].failure.empty()) std::fprintf(stderr, "client %zu stopped: %s\n", i, results[i].failure.c_str());
  }
  std::sort(lat.begin(), lat.end());
  auto pct = [&](double p) {
    if (lat.empty()) return 0.0;
    return lat[static_cast<size_t>(p * static_cast<double>(lat.size() - 1))];
  };
  std::printf(
      "{\"bench\":\"redis_wait\",\"clients\":%d,\"value_bytes\":%ld,\"seconds\":%.3f,\"ops\":%zu,\"errors\":%ld,"
      "\"ops_per_second\":%.1f,\"p50_ms\":%.3f,\"p99_ms\":%.3f,\"p999_ms\":%.3f}\n",
      clients, value_bytes, elapsed, lat.size(), errors, static_cast<double>(lat.size()) / elapsed, pct(0.50),
      pct(0.99), pct(0.999));
  return lat.empty() ? 1 : 0;
}
