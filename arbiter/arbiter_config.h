// The keys baton-arbiter accepts (PRODUCT.md §9).
#pragma once

#include "common/config.h"

namespace baton::arbiter {

ConfigSchema ArbiterConfigSchema();

}  // namespace baton::arbiter
