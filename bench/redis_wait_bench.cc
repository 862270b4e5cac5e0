// redis_wait_bench HOST PORT CLIENTS SECONDS VALUE_BYTES [MAX_OPS]: Redis
// writes acknowledged by a replica. Each of CLIENTS connections loops
// `SET key:<client>:<n> <value>` + `WAIT 1 0` (pipelined in one write) for
// SECONDS or until MAX_OPS in all (default 10M); an op whose WAIT answers 0 is
// an error. Prints one JSON line: ops_per_second, p50/p99/p999_ms, errors, ops.
// Exit status 1 if nothing succeeded (or no connection), 2 on bad usage.
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/socket.h>
#include <sys/time.h>
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

namespace {

using Clock = std::chrono::steady_clock;

// WAIT 1 0 blocks until a replica acks, with no timeout of its own: a socket
// read timeout keeps a lost replica from hanging the bench.
constexpr int kReadTimeoutS = 10;

int Connect(const std::string& host, const std::string& port) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0) return -1;
  int fd = -1;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype, ai->ai_protocol);
    if (fd < 0) continue;
    if (::connect(fd, ai->ai_addr, ai->ai_addrlen) == 0) break;
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  timeval tv{kReadTimeoutS, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  return fd;
}

bool WriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

// Reads RESP replies line by line; only simple strings, errors and integers
// are expected (the answers of SET and WAIT).
class ReplyReader {
 public:
  explicit ReplyReader(int fd) : fd_(fd) {}

  // One reply line without its CRLF; false on EOF, error or timeout.
  bool Line(std::string* line) {
    for (;;) {
      size_t crlf = buf_.find("\r\n", pos_);
      if (crlf != std::string::npos) {
        line->assign(buf_, pos_, crlf - pos_);
        pos_ = crlf + 2;
        if (pos_ == buf_.size()) {
          buf_.clear();
          pos_ = 0;
        }
        return true;
      }
      char chunk[4096];
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      buf_.append(chunk, static_cast<size_t>(n));
    }
  }

 private:
  int fd_;
  std::string buf_;
  size_t pos_ = 0;
};

std::string Bulk(const std::string& s) { return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n"; }

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
    if (!WriteAll(fd, cmd)) {
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
