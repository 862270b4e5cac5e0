// The keys baton-gateway accepts (PRODUCT.md §9).
#pragma once

#include <chrono>
#include <string_view>

#include "common/config.h"
#include "common/status.h"

namespace baton::gateway {

ConfigSchema GatewayConfigSchema();

// "90s", "15m", "24h", "7d" or a plain number of seconds (mirror.tombstone_ttl);
// INVALID_ARGUMENT naming the text otherwise.
Result<std::chrono::seconds> ParseDurationText(std::string_view text);

}  // namespace baton::gateway
