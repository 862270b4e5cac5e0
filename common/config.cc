#include "common/config.h"

#include <algorithm>
#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <iostream>
#include <sstream>

#include <CLI/CLI.hpp>
#include <yaml-cpp/yaml.h>

extern char** environ;

namespace baton {
namespace {

std::string Quote(std::string_view s) { return "'" + std::string(s) + "'"; }

std::string TypeName(const ConfigKey& key) {
  switch (key.type) {
    case ConfigType::kString: return "string";
    case ConfigType::kInt: return "integer";
    case ConfigType::kBool: return "bool";
    case ConfigType::kDouble: return "number";
    case ConfigType::kStringList: return "list";
    case ConfigType::kAddress: return "host:port";
    case ConfigType::kEnum: {
      std::string out;
      for (const auto& a : key.allowed) out += (out.empty() ? "" : "|") + a;
      return out;
    }
  }
  return "?";
}

std::string Trim(std::string_view s) {
  size_t b = s.find_first_not_of(" \t\r\n");
  if (b == std::string_view::npos) return "";
  size_t e = s.find_last_not_of(" \t\r\n");
  return std::string(s.substr(b, e - b + 1));
}

Status ValidateAddress(std::string_view text) {
  size_t colon = text.rfind(':');
  if (colon == std::string_view::npos) return Status::InvalidArgument("expected host:port");
  std::string_view host = text.substr(0, colon);
  std::string_view port = text.substr(colon + 1);
  if (host.empty()) return Status::InvalidArgument("host is empty");
  if (host.front() == '[' ? host.back() != ']' : host.find(':') != std::string_view::npos) {
    return Status::InvalidArgument("an IPv6 host must be in brackets");
  }
  if (host.find_first_of(" /\t") != std::string_view::npos) return Status::InvalidArgument("host has invalid characters");
  int port_number = -1;
  auto [ptr, ec] = std::from_chars(port.data(), port.data() + port.size(), port_number);
  if (port.empty() || ec != std::errc() || ptr != port.data() + port.size() || port_number < 0 ||
      port_number > 65535) {
    return Status::InvalidArgument("port " + Quote(port) + " is not a number in 0..65535");
  }
  return Status::Ok();
}

}  // namespace

Result<Config::Value> ParseConfigValue(const ConfigKey& key, std::string_view raw) {
  const std::string text = Trim(raw);
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("key " + Quote(key.name) + ": value " + Quote(text) + " " + why);
  };
  switch (key.type) {
    case ConfigType::kString:
      return Config::Value(text);
    case ConfigType::kEnum:
      if (std::find(key.allowed.begin(), key.allowed.end(), text) == key.allowed.end()) {
        return bad("is not one of " + TypeName(key));
      }
      return Config::Value(text);
    case ConfigType::kAddress: {
      if (text.empty()) return Config::Value(text);  // unset address: the feature is off
      Status s = ValidateAddress(text);
      if (!s.ok()) return bad("is not a valid address: " + s.message());
      return Config::Value(text);
    }
    case ConfigType::kInt: {
      int64_t v = 0;
      auto [ptr, ec] = std::from_chars(text.data(), text.data() + text.size(), v);
      if (text.empty() || ec != std::errc() || ptr != text.data() + text.size()) return bad("is not an integer");
      if (key.min && v < *key.min) return bad("is below the minimum " + std::to_string(*key.min));
      if (key.max && v > *key.max) return bad("is above the maximum " + std::to_string(*key.max));
      return Config::Value(v);
    }
    case ConfigType::kBool: {
      std::string lower = text;
      std::transform(lower.begin(), lower.end(), lower.begin(), ::tolower);
      if (lower == "true" || lower == "1" || lower == "yes" || lower == "on") return Config::Value(true);
      if (lower == "false" || lower == "0" || lower == "no" || lower == "off") return Config::Value(false);
      return bad("is not a bool (true|false)");
    }
    case ConfigType::kDouble: {
      char* end = nullptr;
      errno = 0;
      double v = std::strtod(text.c_str(), &end);
      if (text.empty() || end != text.c_str() + text.size() || errno != 0 || !std::isfinite(v)) {
        return bad("is not a finite number");
      }
      return Config::Value(v);
    }
    case ConfigType::kStringList: {
      std::vector<std::string> items;
      std::stringstream ss(text);
      std::string item;
      while (std::getline(ss, item, ',')) {
        item = Trim(item);
        if (!item.empty()) items.push_back(item);
      }
      return Config::Value(items);
    }
  }
  return bad("has an unsupported type");
}

namespace {

// Flattens a YAML document into dotted keys, checking each against the schema.
Status FlattenYaml(const ConfigSchema& schema, const YAML::Node& node, const std::string& prefix,
                   const std::string& file, std::vector<std::pair<std::string, std::string>>* out) {
  if (!node.IsMap()) {
    return Status::InvalidArgument("config file " + file + ": " +
                                   (prefix.empty() ? "top level" : "key " + Quote(prefix)) + " must be a mapping");
  }
  for (const auto& item : node) {
    std::string name = prefix.empty() ? item.first.as<std::string>() : prefix + "." + item.first.as<std::string>();
    const YAML::Node& value = item.second;
    const ConfigKey* key = schema.Find(name);
    if (value.IsMap()) {
      if (key != nullptr) return Status::InvalidArgument("config file " + file + ": key " + Quote(name) + " must be a " + TypeName(*key) + ", not a mapping");
      BATON_RETURN_IF_ERROR(FlattenYaml(schema, value, name, file, out));
      continue;
    }
    if (key == nullptr) return Status::InvalidArgument("config file " + file + ": unknown key " + Quote(name));
    if (value.IsSequence()) {
      if (key->type != ConfigType::kStringList) {
        return Status::InvalidArgument("config file " + file + ": key " + Quote(name) + " must be a " + TypeName(*key) + ", not a list");
      }
      std::string joined;
      for (const auto& element : value) {
        if (!element.IsScalar()) return Status::InvalidArgument("config file " + file + ": key " + Quote(name) + " must be a list of strings");
        joined += (joined.empty() ? "" : ",") + element.Scalar();
      }
      out->emplace_back(name, joined);
      continue;
    }
    out->emplace_back(name, value.IsNull() ? "" : value.Scalar());
  }
  return Status::Ok();
}

Status ReadYamlFile(const ConfigSchema& schema, const std::string& path,
                    std::vector<std::pair<std::string, std::string>>* out) {
  try {
    YAML::Node root = YAML::LoadFile(path);
    if (root.IsNull()) return Status::Ok();  // an empty file is a valid, empty config
    return FlattenYaml(schema, root, "", path, out);
  } catch (const YAML::BadFile&) {
    return Status::InvalidArgument("config file " + path + ": cannot be read");
  } catch (const YAML::ParserException& e) {
    return Status::InvalidArgument("config file " + path + ": malformed YAML at line " + std::to_string(e.mark.line + 1) +
                                   ", column " + std::to_string(e.mark.column + 1) + ": " + e.msg);
  } catch (const YAML::Exception& e) {
    return Status::InvalidArgument("config file " + path + ": " + e.what());
  }
}

}  // namespace

Result<Config> Config::Load(const ConfigSchema& schema, const ConfigInputs& inputs) {
  Config config;
  for (const ConfigKey& key : schema.keys()) {
    Entry entry;
    entry.key = key;
    // An empty default means unset, except for a list, which is then empty.
    if (!key.default_value.empty() || key.type == ConfigType::kStringList) {
      auto parsed = ParseConfigValue(key, key.default_value);
      if (!parsed.ok()) return parsed.status().WithContext("schema default");
      entry.value = *parsed;
    }
    config.entries_.emplace(key.name, entry);
  }

  auto apply = [&](const std::string& name, const std::string& text, ConfigSource source,
                   const std::string& where) -> Status {
    auto it = config.entries_.find(name);
    if (it == config.entries_.end()) return Status::InvalidArgument(where + ": unknown key " + Quote(name));
    auto parsed = ParseConfigValue(it->second.key, text);
    if (!parsed.ok()) return parsed.status().WithContext(where);
    it->second.value = *parsed;
    it->second.source = source;
    return Status::Ok();
  };

  if (!inputs.file_path.empty()) {
    std::vector<std::pair<std::string, std::string>> from_file;
    BATON_RETURN_IF_ERROR(ReadYamlFile(schema, inputs.file_path, &from_file));
    for (const auto& [name, text] : from_file) {
      BATON_RETURN_IF_ERROR(apply(name, text, ConfigSource::kFile, "config file " + inputs.file_path));
    }
  }
  for (const auto& [env_name, text] : inputs.env) {
    if (env_name.rfind("BATON_", 0) != 0 || env_name == "BATON_CONFIG") continue;
    bool known = false;
    for (const ConfigKey& key : schema.keys()) {
      if (ConfigSchema::EnvName(key.name) == env_name) {
        BATON_RETURN_IF_ERROR(apply(key.name, text, ConfigSource::kEnv, "environment " + env_name));
        known = true;
        break;
      }
    }
    // The environment is shared by every process (tests, other binaries), so
    // a variable this binary does not know is reported, not fatal.
    if (!known) config.warnings_.push_back("environment variable " + env_name + " is not a key of this binary; ignored");
  }
  for (const auto& [name, text] : inputs.flags) {
    BATON_RETURN_IF_ERROR(apply(name, text, ConfigSource::kFlag, "flag --" + name));
  }
  for (const auto& [name, entry] : config.entries_) {
    bool empty = std::holds_alternative<std::monostate>(entry.value) ||
                 (std::holds_alternative<std::string>(entry.value) && std::get<std::string>(entry.value).empty());
    if (entry.key.required && empty) {
      return Status::InvalidArgument("key " + Quote(name) + " is required (" + entry.key.help + "); set it in the file, as --" +
                                     name + " or as " + ConfigSchema::EnvName(name));
    }
  }
  return config;
}

const Config::Entry& Config::Lookup(std::string_view key) const {
  auto it = entries_.find(key);
  if (it == entries_.end()) {
    std::fprintf(stderr, "BUG: config key '%.*s' is not in the schema\n", static_cast<int>(key.size()), key.data());
    std::abort();
  }
  return it->second;
}

const std::string& Config::GetString(std::string_view key) const {
  static const std::string kEmpty;
  const Entry& e = Lookup(key);
  if (std::holds_alternative<std::monostate>(e.value)) return kEmpty;
  return std::get<std::string>(e.value);
}
int64_t Config::GetInt(std::string_view key) const {
  const Entry& e = Lookup(key);
  return std::holds_alternative<std::monostate>(e.value) ? 0 : std::get<int64_t>(e.value);
}
bool Config::GetBool(std::string_view key) const {
  const Entry& e = Lookup(key);
  return std::holds_alternative<std::monostate>(e.value) ? false : std::get<bool>(e.value);
}
double Config::GetDouble(std::string_view key) const {
  const Entry& e = Lookup(key);
  return std::holds_alternative<std::monostate>(e.value) ? 0.0 : std::get<double>(e.value);
}
const std::vector<std::string>& Config::GetStringList(std::string_view key) const {
  static const std::vector<std::string> kEmpty;
  const Entry& e = Lookup(key);
  if (std::holds_alternative<std::monostate>(e.value)) return kEmpty;
  return std::get<std::vector<std::string>>(e.value);
}
bool Config::IsSet(std::string_view key) const { return !std::holds_alternative<std::monostate>(Lookup(key).value); }
ConfigSource Config::Source(std::string_view key) const { return Lookup(key).source; }

std::vector<std::string> Config::EffectiveLines() const {
  static constexpr const char* kSourceNames[] = {"default", "file", "env", "flag"};
  std::vector<std::string> lines;
  for (const auto& [name, entry] : entries_) {
    std::string text;
    if (std::holds_alternative<std::monostate>(entry.value)) {
      text = "<unset>";
    } else if (entry.key.secret) {
      text = (std::holds_alternative<std::string>(entry.value) && std::get<std::string>(entry.value).empty()) ? "" : "****";
    } else if (const auto* s = std::get_if<std::string>(&entry.value)) {
      text = *s;
    } else if (const auto* i = std::get_if<int64_t>(&entry.value)) {
      text = std::to_string(*i);
    } else if (const auto* b = std::get_if<bool>(&entry.value)) {
      text = *b ? "true" : "false";
    } else if (const auto* d = std::get_if<double>(&entry.value)) {
      text = std::to_string(*d);
    } else if (const auto* l = std::get_if<std::vector<std::string>>(&entry.value)) {
      for (const auto& item : *l) text += (text.empty() ? "" : ",") + item;
      text = "[" + text + "]";
    }
    lines.push_back(name + " = " + text + " (" + kSourceNames[static_cast<int>(entry.source)] + ")");
  }
  return lines;
}

Result<ConfigInputs> ParseCommandLine(const ConfigSchema& schema, int argc, const char* const* argv,
                                      bool* help_requested) {
  ConfigInputs inputs;
  CLI::App app;
  app.set_help_flag();  // --help is handled below so it can print the schema table
  bool help = false;
  app.add_flag("-h,--help", help);
  app.add_option("--config", inputs.file_path, "YAML config file");
  std::map<std::string, std::string> values;
  for (const ConfigKey& key : schema.keys()) {
    app.add_option("--" + key.name, values[key.name], key.help);
  }
  try {
    app.parse(argc, const_cast<char**>(argv));  // CLI11 does not modify argv
  } catch (const CLI::ParseError& e) {
    return Status::InvalidArgument(std::string("command line: ") + e.what());
  }
  for (const ConfigKey& key : schema.keys()) {
    if (app.count("--" + key.name) > 0) inputs.flags.emplace_back(key.name, values[key.name]);
  }
  for (char** env = environ; env != nullptr && *env != nullptr; ++env) {
    std::string_view entry(*env);
    size_t eq = entry.find('=');
    if (eq == std::string_view::npos) continue;
    inputs.env.emplace(std::string(entry.substr(0, eq)), std::string(entry.substr(eq + 1)));
  }
  if (inputs.file_path.empty()) {
    auto it = inputs.env.find("BATON_CONFIG");
    if (it != inputs.env.end()) inputs.file_path = it->second;
  }
  if (help_requested != nullptr) *help_requested = help;
  return inputs;
}

Config LoadConfigOrExit(const ConfigSchema& schema, std::string_view binary, int argc, const char* const* argv) {
  bool help = false;
  auto inputs = ParseCommandLine(schema, argc, argv, &help);
  if (help) {
    std::cout << "usage: " << binary << " [--config FILE] [--key value ...]\n"
              << "Every key can also be set in the YAML file (dots = nesting) or as BATON_KEY in the environment.\n\n"
              << schema.HelpText();
    std::exit(0);
  }
  if (!inputs.ok()) {
    std::cerr << binary << ": config error: " << inputs.status().message() << "\n";
    std::exit(2);
  }
  auto config = Config::Load(schema, *inputs);
  if (!config.ok()) {
    std::cerr << binary << ": config error: " << config.status().message() << "\n";
    std::exit(2);
  }
  return std::move(config).value();
}

}  // namespace baton
