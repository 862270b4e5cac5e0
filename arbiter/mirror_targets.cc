#include "arbiter/mirror_targets.h"

#include <algorithm>

#include <spdlog/fmt/fmt.h>

namespace baton::arbiter {
namespace {

using nlohmann::json;

Status FieldError(std::string_view field, std::string_view problem) {
  return Status::InvalidArgument(fmt::format("field \"{}\": {}", field, problem));
}

// ValidateMirrorTarget's messages begin with the part they are about
// ("name ...", "cluster ...", "addresses: ..." or "address 2 ..."); REST
// errors name the JSON field, so say which one that is.
Status AsFieldError(const Status& invalid) {
  const std::string& message = invalid.message();
  std::string_view field = "addresses";
  if (message.rfind("name", 0) == 0) field = "name";
  if (message.rfind("cluster", 0) == 0) field = "cluster";
  return FieldError(field, message);
}

Status ReadString(const json& doc, const char* field, std::string* out) {
  auto it = doc.find(field);
  if (it == doc.end()) return FieldError(field, "required");
  if (!it->is_string()) return FieldError(field, "must be a string");
  *out = it->get<std::string>();
  return Status::Ok();
}

Status ReadAddresses(const json& doc, std::vector<std::string>* out) {
  auto it = doc.find("addresses");
  if (it == doc.end()) return FieldError("addresses", "required: a list of host:port");
  if (!it->is_array()) return FieldError("addresses", "must be a list of host:port strings");
  for (size_t i = 0; i < it->size(); ++i) {
    if (!(*it)[i].is_string()) return FieldError(fmt::format("addresses[{}]", i), "must be a host:port string");
    out->push_back((*it)[i].get<std::string>());
  }
  return Status::Ok();
}

Status CheckOnly(const json& doc, std::initializer_list<std::string_view> allowed) {
  if (!doc.is_object()) return Status::InvalidArgument("must be a JSON object");
  for (auto it = doc.begin(); it != doc.end(); ++it) {
    if (std::find(allowed.begin(), allowed.end(), it.key()) == allowed.end()) {
      return FieldError(it.key(), fmt::format("unknown field (allowed: {})", fmt::join(allowed, ", ")));
    }
  }
  return Status::Ok();
}

}  // namespace

std::string EncodeMirrorTarget(const MirrorTargetSpec& target) {
  json doc = {{"name", target.name}, {"cluster", target.cluster}, {"addresses", target.addresses}};
  return doc.dump(-1, ' ', false, json::error_handler_t::replace);
}

Result<MirrorTargetSpec> DecodeMirrorTarget(std::string_view text) {
  json doc = json::parse(text, nullptr, /*allow_exceptions=*/false);
  if (doc.is_discarded()) return Status::InvalidArgument("mirror target: not valid JSON");
  auto fail = [](const Status& s) { return Status::InvalidArgument("mirror target: " + s.message()); };
  if (Status s = CheckOnly(doc, {"name", "cluster", "addresses"}); !s.ok()) return fail(s);
  MirrorTargetSpec target;
  if (Status s = ReadString(doc, "name", &target.name); !s.ok()) return fail(s);
  if (Status s = ReadString(doc, "cluster", &target.cluster); !s.ok()) return fail(s);
  if (Status s = ReadAddresses(doc, &target.addresses); !s.ok()) return fail(s);
  if (Status s = ValidateMirrorTarget(target); !s.ok()) return fail(AsFieldError(s));
  return target;
}

Result<MirrorTargetPut> ParseMirrorTargetPut(const std::string& name, const json& body) {
  if (!body.is_object()) return Status::InvalidArgument("request body: must be a JSON object");
  BATON_RETURN_IF_ERROR(CheckOnly(body, {"name", "cluster", "addresses", "version"}));
  MirrorTargetPut put;
  put.target.name = name;
  if (body.contains("name")) {
    std::string in_body;
    BATON_RETURN_IF_ERROR(ReadString(body, "name", &in_body));
    if (in_body != name) {
      return FieldError("name", fmt::format("\"{}\" differs from the name in the path \"{}\" (a target cannot be "
                                            "renamed: PUT the new name, then DELETE the old one)",
                                            in_body, name));
    }
  }
  BATON_RETURN_IF_ERROR(ReadString(body, "cluster", &put.target.cluster));
  BATON_RETURN_IF_ERROR(ReadAddresses(body, &put.target.addresses));
  if (body.contains("version")) {
    const json& version = body["version"];
    // Znode versions are int32: anything beyond cannot match.
    if (!version.is_number_unsigned() || version.get<uint64_t>() > (uint64_t{1} << 31)) {
      return FieldError("version", "must be an unsigned integer (the version you read; 0: create only)");
    }
    put.version = version.get<uint64_t>();
  }
  if (Status s = ValidateMirrorTarget(put.target); !s.ok()) return AsFieldError(s);
  return put;
}

json MirrorTargetView(const StoredMirrorTarget& target) {
  return {{"name", target.spec.name},
          {"cluster", target.spec.cluster},
          {"addresses", target.spec.addresses},
          {"version", target.version()}};
}

std::vector<MirrorTargetSpec> MirrorTargetsFor(const std::vector<MirrorTargetSpec>& all, const std::string& cluster) {
  std::vector<MirrorTargetSpec> out;
  for (const MirrorTargetSpec& target : all) {
    if (target.cluster != cluster) out.push_back(target);
  }
  std::sort(out.begin(), out.end(), [](const auto& a, const auto& b) { return a.name < b.name; });
  return out;
}

Result<std::vector<MirrorTargetSpec>> ParseSeedTargets(const std::vector<std::string>& specs) {
  auto parsed = ParseMirrorTargets(specs);
  if (!parsed.ok()) return Status::InvalidArgument("key 'mirror.targets': " + parsed.status().message());
  return parsed;
}

}  // namespace baton::arbiter
