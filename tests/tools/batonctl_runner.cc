#include "tests/tools/batonctl_runner.h"

#include <iostream>
#include <sstream>

#include "tools/batonctl.h"

namespace baton::tools {

CtlRun Batonctl(std::vector<std::string> args) {
  args.insert(args.begin(), "batonctl");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  std::ostringstream out, err;
  std::streambuf* old_out = std::cout.rdbuf(out.rdbuf());
  std::streambuf* old_err = std::cerr.rdbuf(err.rdbuf());
  const int rc = RunBatonctl(static_cast<int>(argv.size()), argv.data());
  std::cout.rdbuf(old_out);
  std::cerr.rdbuf(old_err);
  return {rc, out.str(), err.str()};
}

}  // namespace baton::tools
