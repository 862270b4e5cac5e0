#include "tests/support/temp_dir.h"

#include <stdlib.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <vector>

namespace baton::testing {

TempDir::TempDir() {
  const char* base = std::getenv("TMPDIR");
  std::string templ = std::string(base != nullptr && *base != '\0' ? base : "/tmp") + "/baton-XXXXXX";
  std::vector<char> buf(templ.begin(), templ.end());
  buf.push_back('\0');
  if (::mkdtemp(buf.data()) == nullptr) {
    std::fprintf(stderr, "TempDir: mkdtemp %s: %s\n", templ.c_str(), std::strerror(errno));
    std::abort();
  }
  path_ = buf.data();
}

TempDir::~TempDir() {
  const char* keep = std::getenv("BATON_KEEP_TEMP");
  if (keep != nullptr && std::string_view(keep) == "1") {
    std::fprintf(stderr, "TempDir: keeping %s (BATON_KEEP_TEMP=1)\n", path_.c_str());
    return;
  }
  std::error_code ec;
  std::filesystem::remove_all(path_, ec);
  if (ec) std::fprintf(stderr, "TempDir: removing %s: %s\n", path_.c_str(), ec.message().c_str());
}

std::string TempDir::Join(std::string_view name) const {
  std::string out = path_;
  out += '/';
  out += name;
  return out;
}

}  // namespace baton::testing
