// The keys baton-gateway accepts (PRODUCT.md §9).
#pragma once

#include "common/config.h"

namespace baton::gateway {

ConfigSchema GatewayConfigSchema();

}  // namespace baton::gateway
