#include "tests/support/metrics_text.h"

#include <unistd.h>

#include <cmath>
#include <cstdio>
#include <fstream>
#include <sstream>

namespace baton::testing {

double MetricValue(const std::string& body, const std::string& name,
                   const std::map<std::string, std::string>& labels) {
  std::istringstream lines(body);
  std::string line;
  while (std::getline(lines, line)) {
    if (line.empty() || line[0] == '#') continue;
    if (line.compare(0, name.size(), name) != 0) continue;
    const char next = line.size() > name.size() ? line[name.size()] : '\0';
    if (next != ' ' && next != '{') continue;
    const size_t value_at = line.rfind(' ');
    const std::string series = line.substr(0, value_at);
    bool match = true;
    for (const auto& [key, value] : labels) {
      if (series.find(key + "=\"" + value + "\"") == std::string::npos) match = false;
    }
    if (match) return std::stod(line.substr(value_at + 1));
  }
  return std::nan("");
}

bool PromtoolAvailable() { return ::access("/usr/bin/promtool", X_OK) == 0; }

std::string PromtoolProblems(const std::string& body, const std::string& scratch_path) {
  if (!PromtoolAvailable()) return "";
  std::ofstream(scratch_path) << body;
  FILE* pipe = ::popen(("/usr/bin/promtool check metrics < '" + scratch_path + "' 2>&1").c_str(), "r");
  if (pipe == nullptr) return "popen failed";
  std::string output;
  char buffer[512];
  while (std::fgets(buffer, sizeof(buffer), pipe) != nullptr) output += buffer;
  return ::pclose(pipe) == 0 ? "" : "promtool check metrics:\n" + output;
}

}  // namespace baton::testing
