// A minimal Redis (RESP2) client for the benchmarks, header-only: connect
// with a timeout, send commands, read replies (simple strings, errors,
// integers, bulk strings, arrays, nil). Used by redis_wait_bench.cc and
// failover_bench.cc. No hiredis: nothing beyond libc.
//
// Thread-compatible: one RespConn per thread.
#pragma once

#include <fcntl.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <string>
#include <vector>

namespace baton::bench {

// Connects to host:port. connect_timeout_ms bounds the TCP connect;
// io_timeout_ms (0 = none) bounds every later send and recv (SO_RCVTIMEO /
// SO_SNDTIMEO). Returns the socket or -1.
inline int RespConnect(const std::string& host, const std::string& port, int connect_timeout_ms,
                       int io_timeout_ms) {
  addrinfo hints{};
  hints.ai_family = AF_UNSPEC;
  hints.ai_socktype = SOCK_STREAM;
  addrinfo* res = nullptr;
  if (::getaddrinfo(host.c_str(), port.c_str(), &hints, &res) != 0) return -1;
  int fd = -1;
  for (addrinfo* ai = res; ai != nullptr; ai = ai->ai_next) {
    fd = ::socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    if (fd < 0) continue;
    const int flags = ::fcntl(fd, F_GETFL, 0);
    ::fcntl(fd, F_SETFL, flags | O_NONBLOCK);
    int rc = ::connect(fd, ai->ai_addr, ai->ai_addrlen);
    if (rc != 0 && errno == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      rc = ::poll(&p, 1, connect_timeout_ms) == 1 ? 0 : -1;
      if (rc == 0) {
        int err = 0;
        socklen_t len = sizeof err;
        if (::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) != 0 || err != 0) rc = -1;
      }
    }
    if (rc == 0) {
      ::fcntl(fd, F_SETFL, flags);
      break;
    }
    ::close(fd);
    fd = -1;
  }
  ::freeaddrinfo(res);
  if (fd < 0) return -1;
  int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (io_timeout_ms > 0) {
    timeval tv{io_timeout_ms / 1000, (io_timeout_ms % 1000) * 1000};
    ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
  }
  return fd;
}

inline bool RespWriteAll(int fd, const std::string& data) {
  size_t done = 0;
  while (done < data.size()) {
    ssize_t n = ::send(fd, data.data() + done, data.size() - done, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return false;
    done += static_cast<size_t>(n);
  }
  return true;
}

inline std::string RespBulk(const std::string& s) { return "$" + std::to_string(s.size()) + "\r\n" + s + "\r\n"; }

// One command as a RESP array of bulk strings.
inline std::string RespCommand(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const auto& a : args) out += RespBulk(a);
  return out;
}

struct RespValue {
  char type = 0;  // '+', '-', ':', '$', '*'
  bool nil = false;
  std::string str;  // simple string, error text or bulk payload
  long long integer = 0;
  std::vector<RespValue> elements;

  bool ok() const { return type == '+' && str == "OK"; }
  bool error() const { return type == '-'; }
  // For '+' and '$': the text; empty otherwise.
  const std::string& text() const { return str; }
};

// Buffered reply reader over a socket (reads block up to the socket's
// SO_RCVTIMEO).
class RespReader {
 public:
  explicit RespReader(int fd) : fd_(fd) {}

  // One reply line without its CRLF; false on EOF, error or timeout.
  bool Line(std::string* line) {
    for (;;) {
      size_t crlf = buf_.find("\r\n", pos_);
      if (crlf != std::string::npos) {
        line->assign(buf_, pos_, crlf - pos_);
        pos_ = crlf + 2;
        Compact();
        return true;
      }
      if (!Fill()) return false;
    }
  }

  // One whole reply (arrays nested up to a small depth).
  bool Read(RespValue* out, int depth = 0) {
    if (depth > 8) return false;
    std::string line;
    if (!Line(&line) || line.empty()) return false;
    *out = RespValue{};
    out->type = line[0];
    switch (line[0]) {
      case '+':
      case '-':
        out->str = line.substr(1);
        return true;
      case ':':
        out->integer = std::atoll(line.c_str() + 1);
        return true;
      case '$': {
        const long long n = std::atoll(line.c_str() + 1);
        if (n < 0) {
          out->nil = true;
          return true;
        }
        if (n > (512LL << 20)) return false;
        while (buf_.size() - pos_ < static_cast<size_t>(n) + 2) {
          if (!Fill()) return false;
        }
        out->str.assign(buf_, pos_, static_cast<size_t>(n));
        pos_ += static_cast<size_t>(n) + 2;
        Compact();
        return true;
      }
      case '*': {
        const long long n = std::atoll(line.c_str() + 1);
        if (n < 0) {
          out->nil = true;
          return true;
        }
        if (n > 1'000'000) return false;
        out->elements.resize(static_cast<size_t>(n));
        for (auto& e : out->elements) {
          if (!Read(&e, depth + 1)) return false;
        }
        return true;
      }
      default:
        return false;
    }
  }

 private:
  bool Fill() {
    char chunk[16384];
    for (;;) {
      ssize_t n = ::recv(fd_, chunk, sizeof chunk, 0);
      if (n < 0 && errno == EINTR) continue;
      if (n <= 0) return false;
      buf_.append(chunk, static_cast<size_t>(n));
      return true;
    }
  }
  void Compact() {
    if (pos_ == buf_.size()) {
      buf_.clear();
      pos_ = 0;
    } else if (pos_ > (1u << 20)) {
      buf_.erase(0, pos_);
      pos_ = 0;
    }
  }

  int fd_;
  std::string buf_;
  size_t pos_ = 0;
};

// A connection plus its reader; closes on destruction.
class RespConn {
 public:
  RespConn() = default;
  RespConn(const std::string& host, int port, int connect_timeout_ms, int io_timeout_ms)
      : fd_(RespConnect(host, std::to_string(port), connect_timeout_ms, io_timeout_ms)), reader_(fd_) {}
  ~RespConn() { Close(); }
  RespConn(const RespConn&) = delete;
  RespConn& operator=(const RespConn&) = delete;

  bool connected() const { return fd_ >= 0; }
  void Close() {
    if (fd_ >= 0) ::close(fd_);
    fd_ = -1;
  }
  // Sends one command and reads its reply; false (and closed) on any I/O
  // failure or timeout.
  bool Call(const std::vector<std::string>& args, RespValue* reply) {
    if (fd_ < 0) return false;
    if (!RespWriteAll(fd_, RespCommand(args)) || !reader_.Read(reply)) {
      Close();
      return false;
    }
    return true;
  }
  // Pipelines commands, reads one reply each.
  bool CallMany(const std::vector<std::vector<std::string>>& commands, std::vector<RespValue>* replies) {
    if (fd_ < 0) return false;
    std::string out;
    for (const auto& c : commands) out += RespCommand(c);
    if (!RespWriteAll(fd_, out)) {
      Close();
      return false;
    }
    replies->assign(commands.size(), RespValue{});
    for (auto& r : *replies) {
      if (!reader_.Read(&r)) {
        Close();
        return false;
      }
    }
    return true;
  }

 private:
  int fd_ = -1;
  RespReader reader_{-1};
};

}  // namespace baton::bench
