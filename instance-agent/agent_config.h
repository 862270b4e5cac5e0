// The keys baton-agent accepts (PRODUCT.md §9).
#pragma once

#include "common/config.h"

namespace baton::agent {

ConfigSchema AgentConfigSchema();

}  // namespace baton::agent
