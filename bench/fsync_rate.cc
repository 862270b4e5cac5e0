// fsync_rate DIR [SECONDS]: appends 1 KiB records to a file in DIR, calling
// fdatasync after each, for SECONDS (default 3). Prints one JSON line with
// the rate and latency percentiles: the disk's limit for durable writes that
// are not batched.
#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

int main(int argc, char** argv) {
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s DIR [SECONDS]\n", argv[0]);
    return 2;
  }
  const std::string path = std::string(argv[1]) + "/fsync_rate.dat";
  const double seconds = argc > 2 ? std::atof(argv[2]) : 3.0;
  const int fd = ::open(path.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0600);
  if (fd < 0) {
    std::perror("open");
    return 1;
  }
  std::vector<char> buf(1024, 'x');
  std::vector<double> lat_ms;
  using Clock = std::chrono::steady_clock;
  const auto start = Clock::now();
  const auto deadline = start + std::chrono::duration<double>(seconds);
  // Bounded by time and by count.
  while (Clock::now() < deadline && lat_ms.size() < 10'000'000) {
    const auto t0 = Clock::now();
    if (::write(fd, buf.data(), buf.size()) != static_cast<ssize_t>(buf.size())) {
      std::perror("write");
      return 1;
    }
    if (::fdatasync(fd) != 0) {
      std::perror("fdatasync");
      return 1;
    }
    lat_ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
  }
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  ::close(fd);
  ::unlink(path.c_str());
  std::sort(lat_ms.begin(), lat_ms.end());
  auto pct = [&](double p) {
    if (lat_ms.empty()) return 0.0;
    size_t i = static_cast<size_t>(p * static_cast<double>(lat_ms.size() - 1));
    return lat_ms[i];
  };
  std::printf(
      "{\"bench\":\"fsync_rate\",\"writes\":%zu,\"seconds\":%.3f,\"fsync_per_second\":%.1f,"
      "\"p50_ms\":%.3f,\"p99_ms\":%.3f}\n",
      lat_ms.size(), elapsed, static_cast<double>(lat_ms.size()) / elapsed, pct(0.50), pct(0.99));
  return 0;
}
