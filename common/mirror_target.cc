#include "common/mirror_target.h"

#include <set>

namespace baton {
namespace {

constexpr size_t kMaxNameLength = 64;

bool NameChar(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') || c == '.' || c == '_' ||
         c == '-';
}

Status CheckName(std::string_view what, std::string_view value) {
  if (value.empty()) return Status::InvalidArgument(std::string(what) + " is empty");
  if (value.size() > kMaxNameLength) {
    return Status::InvalidArgument(std::string(what) + " \"" + std::string(value) + "\" is longer than " +
                                   std::to_string(kMaxNameLength) + " characters");
  }
  for (char c : value) {
    if (!NameChar(c)) {
      return Status::InvalidArgument(std::string(what) + " \"" + std::string(value) +
                                     "\" may contain only letters, digits, '.', '_' and '-'");
    }
  }
  return Status::Ok();
}

Status CheckAddress(size_t index, std::string_view address) {
  const std::string what = "address " + std::to_string(index + 1) + " \"" + std::string(address) + "\"";
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos || colon == 0) return Status::InvalidArgument(what + " is not host:port");
  std::string_view port = address.substr(colon + 1);
  if (port.empty() || port.size() > 5) return Status::InvalidArgument(what + " has no valid port");
  int value = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return Status::InvalidArgument(what + " has no valid port");
    value = value * 10 + (c - '0');
  }
  if (value < 1 || value > 65535) return Status::InvalidArgument(what + ": port must be 1..65535");
  return Status::Ok();
}

}  // namespace

Status ValidateMirrorTarget(const MirrorTargetSpec& target) {
  BATON_RETURN_IF_ERROR(CheckName("name", target.name));
  BATON_RETURN_IF_ERROR(CheckName("cluster", target.cluster));
  if (target.addresses.empty()) return Status::InvalidArgument("addresses: at least one host:port is needed");
  for (size_t i = 0; i < target.addresses.size(); ++i) BATON_RETURN_IF_ERROR(CheckAddress(i, target.addresses[i]));
  return Status::Ok();
}

Result<MirrorTargetSpec> ParseMirrorTarget(std::string_view spec) {
  const std::string quoted = "mirror target \"" + std::string(spec) + "\"";
  const size_t eq = spec.find('=');
  const size_t at = spec.find('@', eq == std::string_view::npos ? 0 : eq);
  if (eq == std::string_view::npos || at == std::string_view::npos) {
    return Status::InvalidArgument(quoted + " is not NAME=CLUSTER@HOST:PORT[+HOST:PORT...]");
  }
  MirrorTargetSpec target;
  target.name = std::string(spec.substr(0, eq));
  target.cluster = std::string(spec.substr(eq + 1, at - eq - 1));
  std::string_view rest = spec.substr(at + 1);
  while (true) {
    const size_t plus = rest.find('+');
    target.addresses.emplace_back(rest.substr(0, plus));
    if (plus == std::string_view::npos) break;
    rest = rest.substr(plus + 1);
  }
  Status valid = ValidateMirrorTarget(target);
  if (!valid.ok()) return Status::InvalidArgument(quoted + ": " + valid.message());
  return target;
}

std::string FormatMirrorTarget(const MirrorTargetSpec& target) {
  std::string out = target.name + "=" + target.cluster + "@";
  for (size_t i = 0; i < target.addresses.size(); ++i) {
    if (i > 0) out += "+";
    out += target.addresses[i];
  }
  return out;
}

Result<std::vector<MirrorTargetSpec>> ParseMirrorTargets(const std::vector<std::string>& specs) {
  std::vector<MirrorTargetSpec> targets;
  std::set<std::string> names;
  for (const std::string& spec : specs) {
    BATON_ASSIGN_OR_RETURN(MirrorTargetSpec target, ParseMirrorTarget(spec));
    if (!names.insert(target.name).second) {
      return Status::InvalidArgument("mirror target name \"" + target.name + "\" is given twice");
    }
    targets.push_back(std::move(target));
  }
  return targets;
}

}  // namespace baton
