// Runs batonctl in-process (RunBatonctl) with its stdout and stderr
// captured, for the verb tests.
//
// Thread-safety: swaps std::cout's and std::cerr's buffers while it runs, so
// call it from one test thread at a time.
#pragma once

#include <string>
#include <vector>

namespace baton::tools {

struct CtlRun {
  int rc;
  std::string out;
  std::string err;
};

// `args` without the program name.
CtlRun Batonctl(std::vector<std::string> args);

}  // namespace baton::tools
