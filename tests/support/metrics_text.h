// Reading a Prometheus text exposition in tests: one sample's value, and a
// lint with Debian's promtool. Thread-safe (no state).
#pragma once

#include <map>
#include <string>

namespace baton::testing {

// The value of the first sample `name{labels...}` whose labels include all
// of `labels`; NaN when there is none (so any comparison with it fails).
double MetricValue(const std::string& body, const std::string& name,
                   const std::map<std::string, std::string>& labels = {});

bool PromtoolAvailable();
// Runs `promtool check metrics` on `body` (written to `scratch_path`);
// returns its complaints, "" when clean or when promtool is not installed.
std::string PromtoolProblems(const std::string& body, const std::string& scratch_path);

}  // namespace baton::testing
