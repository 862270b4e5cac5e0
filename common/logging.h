// One log format for every binary: spdlog to stderr (journald and kubectl
// logs pick it up), level from `log.level`.
#pragma once

#include <string_view>

#include "common/config.h"
#include "common/status.h"

namespace baton {

// Installs the default spdlog logger for `component` ("gateway", "agent", ...)
// at `level` (trace|debug|info|warn|error|critical|off). Call once from main()
// before any thread starts. Unknown level -> INVALID_ARGUMENT.
Status InitLogging(std::string_view component, std::string_view level);

// InitLogging from `log.level`, then logs the effective config (secrets
// masked) and the loader's warnings. Exits with status 2 on a bad level.
void InitLoggingFromConfig(std::string_view component, const Config& config);

}  // namespace baton
