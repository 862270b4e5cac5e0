// What every fuzz target shares: a check that aborts (so libFuzzer records
// the input as a crash) with the condition and a message, and quiet logs (a
// warning per damaged input would cost more than the decoding).
#pragma once

#include <google/protobuf/stubs/logging.h>
#include <spdlog/spdlog.h>

#include <cstdio>
#include <cstdlib>
#include <string>

// Aborts with "file:line: check failed: cond (message)" when `cond` is false.
#define FUZZ_CHECK(cond, ...)                                                     \
  do {                                                                            \
    if (!(cond)) ::baton::fuzz::CheckFailed(__FILE__, __LINE__, #cond, ::baton::fuzz::Message(__VA_ARGS__)); \
  } while (0)

namespace baton::fuzz {

inline std::string Message() { return ""; }
inline std::string Message(const std::string& message) { return message; }

[[noreturn]] inline void CheckFailed(const char* file, int line, const char* cond, const std::string& message) {
  std::fprintf(stderr, "%s:%d: check failed: %s%s%s%s\n", file, line, cond, message.empty() ? "" : " (",
               message.c_str(), message.empty() ? "" : ")");
  std::abort();
}

// Silences spdlog and protobuf's own error log (a string field that is not
// UTF-8 logs an ERROR on every parse). Call from LLVMFuzzerInitialize.
inline void QuietLogs() {
  spdlog::set_level(spdlog::level::off);
  google::protobuf::SetLogHandler(nullptr);
}

}  // namespace baton::fuzz
