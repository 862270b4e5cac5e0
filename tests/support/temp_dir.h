// A directory that exists for the lifetime of the object: created unique
// under $TMPDIR (or /tmp) as "baton-XXXXXX", removed recursively on
// destruction unless the environment sets BATON_KEEP_TEMP=1 (then its path is
// printed so a failed test can be inspected). Thread-compatible.
#pragma once

#include <string>
#include <string_view>

namespace baton::testing {

class TempDir {
 public:
  // Aborts with a message if the directory cannot be created: a test cannot
  // do anything useful without it.
  TempDir();
  ~TempDir();
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;

  // Absolute path, no trailing slash.
  const std::string& path() const { return path_; }
  // path() + "/" + name.
  std::string Join(std::string_view name) const;

 private:
  std::string path_;
};

}  // namespace baton::testing
