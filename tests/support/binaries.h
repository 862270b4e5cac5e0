// Running the project's real binaries from tests: where they are, a daemon
// guard that starts one as a child and stops it by pid, and a tiny HTTP GET.
#pragma once

#include <chrono>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "common/process.h"
#include "common/status.h"

namespace baton::testing {

// Absolute path of a built binary, e.g. BinaryPath("arbiter/baton-arbiter").
// Uses BATON_BUILD_DIR (set by ctest); aborts when it is missing.
std::string BinaryPath(const std::string& relative);

// For programs outside ctest (benchmarks in <build>/bench): when
// BATON_BUILD_DIR is unset, sets it to the directory two levels above this
// executable, so BinaryPath() works when the binary is run by hand.
void DefaultBuildDirToExecutable();

// GET http://127.0.0.1:port/path. Returns {status, body}; UNAVAILABLE when
// nothing answers within `timeout`.
Result<std::pair<int, std::string>> HttpGet(uint16_t port, const std::string& path,
                                            std::chrono::milliseconds timeout = std::chrono::seconds(2));

// Any HTTP call to 127.0.0.1:port, for REST tests.
struct HttpAnswer {
  int status = 0;
  std::string body;
  std::map<std::string, std::string> headers;  // as sent (first value of a repeated name)
};
Result<HttpAnswer> HttpCall(uint16_t port, const std::string& method, const std::string& path,
                            const std::string& body = "", const std::map<std::string, std::string>& headers = {},
                            std::chrono::milliseconds timeout = std::chrono::seconds(30));

// A real daemon started as a child, its output in `log_path`.
struct Daemon {
  std::unique_ptr<ChildProcess> process;
  std::string log_path;

  // Whole output so far (for assertions and for failure messages).
  std::string Log() const;
};

Result<Daemon> StartDaemon(const std::string& binary, std::vector<std::string> args, const std::string& log_path);

// Runs a binary to completion (bounded by `timeout`); returns {wait status, output}.
Result<std::pair<int, std::string>> RunToExit(const std::string& binary, std::vector<std::string> args,
                                              const std::string& log_path,
                                              std::chrono::milliseconds timeout = std::chrono::seconds(30));

}  // namespace baton::testing
