// Plain-text tables for batonctl's readable output. Pure; thread-safe.
#pragma once

#include <string>
#include <string_view>
#include <vector>

namespace baton::tools {

// One line per row, each starting with `indent`, columns left-aligned and
// separated by at least two spaces; the last column is not padded, so lines
// carry no trailing blanks.
std::string RenderTable(const std::vector<std::vector<std::string>>& rows, std::string_view indent = "  ");

}  // namespace baton::tools
