#include <algorithm>
#include <cctype>
#include <sstream>

#include "common/config.h"

namespace baton {

ConfigSchema ConfigSchema::WithCommonKeys(std::string_view http_listen_default) {
  ConfigSchema schema;
  schema.String("instance.id", "", "Name of this instance, unique in its cluster (e.g. g1)")
      .String("instance.cluster", "", "Cluster this instance belongs to (e.g. c1)")
      .Enum("log.level", "info", {"trace", "debug", "info", "warn", "error", "critical", "off"},
            "Log level (spdlog)")
      .Address("http.listen", std::string(http_listen_default),
               "host:port of the HTTP server for /healthz, /readyz and /metrics");
  return schema;
}

ConfigSchema& ConfigSchema::Add(ConfigKey key) {
  keys_.erase(std::remove_if(keys_.begin(), keys_.end(), [&](const ConfigKey& k) { return k.name == key.name; }),
              keys_.end());
  keys_.push_back(std::move(key));
  return *this;
}

ConfigSchema& ConfigSchema::String(std::string name, std::string default_value, std::string help) {
  return Add({.name = std::move(name), .type = ConfigType::kString, .default_value = std::move(default_value),
              .help = std::move(help)});
}

ConfigSchema& ConfigSchema::Int(std::string name, std::optional<int64_t> default_value, int64_t min, int64_t max,
                                std::string help) {
  return Add({.name = std::move(name), .type = ConfigType::kInt,
              .default_value = default_value ? std::to_string(*default_value) : "",
              .help = std::move(help), .min = min, .max = max});
}

ConfigSchema& ConfigSchema::Bool(std::string name, bool default_value, std::string help) {
  return Add({.name = std::move(name), .type = ConfigType::kBool, .default_value = default_value ? "true" : "false",
              .help = std::move(help)});
}

ConfigSchema& ConfigSchema::Address(std::string name, std::string default_value, std::string help) {
  return Add({.name = std::move(name), .type = ConfigType::kAddress, .default_value = std::move(default_value),
              .help = std::move(help)});
}

ConfigSchema& ConfigSchema::List(std::string name, std::string default_value, std::string help) {
  return Add({.name = std::move(name), .type = ConfigType::kStringList, .default_value = std::move(default_value),
              .help = std::move(help)});
}

ConfigSchema& ConfigSchema::Enum(std::string name, std::string default_value, std::vector<std::string> allowed,
                                 std::string help) {
  return Add({.name = std::move(name), .type = ConfigType::kEnum, .default_value = std::move(default_value),
              .help = std::move(help), .allowed = std::move(allowed)});
}

ConfigSchema& ConfigSchema::Require(std::string_view name) {
  for (ConfigKey& key : keys_) {
    if (key.name == name) key.required = true;
  }
  return *this;
}

const ConfigKey* ConfigSchema::Find(std::string_view name) const {
  for (const ConfigKey& key : keys_) {
    if (key.name == name) return &key;
  }
  return nullptr;
}

std::string ConfigSchema::EnvName(std::string_view key) {
  std::string out = "BATON_";
  for (char c : key) out += (c == '.' || c == '-') ? '_' : static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return out;
}

std::string ConfigSchema::HelpText() const {
  std::vector<const ConfigKey*> sorted;
  for (const ConfigKey& key : keys_) sorted.push_back(&key);
  std::sort(sorted.begin(), sorted.end(), [](const ConfigKey* a, const ConfigKey* b) { return a->name < b->name; });
  std::ostringstream out;
  for (const ConfigKey* key : sorted) {
    out << "  --" << key->name;
    if (key->required) {
      out << " (required)";
    } else if (!key->default_value.empty()) {
      out << " (default " << (key->secret ? "****" : key->default_value) << ")";
    }
    if (key->type == ConfigType::kEnum) {
      out << " [";
      for (size_t i = 0; i < key->allowed.size(); ++i) out << (i ? "|" : "") << key->allowed[i];
      out << "]";
    } else if (key->min && key->max) {
      out << " [" << *key->min << ".." << *key->max << "]";
    }
    out << "\n      " << key->help << "  (env " << EnvName(key->name) << ")\n";
  }
  return out.str();
}

}  // namespace baton
