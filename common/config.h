// Configuration: one schema table per binary feeds the YAML file, the
// `--key value` flags, the BATON_KEY environment variables, --help, the docs
// and the effective config printed at start-up.
//
// Precedence, highest first: flag, environment, file, default. Unknown keys in
// the file or on the command line, wrong types and out-of-range values fail
// with a message naming the key, the value and the reason.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "common/status.h"

namespace baton {

enum class ConfigType {
  kString,
  kInt,
  kBool,
  kDouble,
  kStringList,  // YAML sequence, or comma-separated in flags and environment
  kAddress,     // host:port, port 0..65535
  kEnum,        // one of `allowed`
};

// One row of a schema table. Thread-compatible value type.
struct ConfigKey {
  std::string name;           // "zookeeper.session_timeout_ms"
  ConfigType type = ConfigType::kString;
  std::string default_value;  // as text; empty with !required = unset
  std::string help;
  bool required = false;
  bool secret = false;        // masked when the config is printed
  std::optional<int64_t> min;  // kInt bounds, inclusive
  std::optional<int64_t> max;
  std::vector<std::string> allowed;  // kEnum values
};

// The set of keys one binary accepts. Thread-compatible.
class ConfigSchema {
 public:
  // Adds the keys every binary has: instance.id, instance.cluster, log.level,
  // http.listen (with the given default).
  static ConfigSchema WithCommonKeys(std::string_view http_listen_default);

  ConfigSchema& Add(ConfigKey key);
  ConfigSchema& String(std::string name, std::string default_value, std::string help);
  ConfigSchema& Int(std::string name, std::optional<int64_t> default_value, int64_t min, int64_t max, std::string help);
  ConfigSchema& Bool(std::string name, bool default_value, std::string help);
  ConfigSchema& Address(std::string name, std::string default_value, std::string help);
  ConfigSchema& List(std::string name, std::string default_value, std::string help);
  ConfigSchema& Enum(std::string name, std::string default_value, std::vector<std::string> allowed,
                     std::string help);

  // Marks an added key as required (start-up fails when it is unset).
  ConfigSchema& Require(std::string_view name);

  const ConfigKey* Find(std::string_view name) const;
  const std::vector<ConfigKey>& keys() const { return keys_; }

  // "BATON_ZOOKEEPER_SESSION_TIMEOUT_MS" for "zookeeper.session_timeout_ms".
  static std::string EnvName(std::string_view key);

  // A readable table of every key: name, type, default, help.
  std::string HelpText() const;

 private:
  std::vector<ConfigKey> keys_;
};

// Where a value came from, for the effective-config printout.
enum class ConfigSource { kDefault, kFile, kEnv, kFlag };

// Inputs to Config::Load, gathered by ParseCommandLine or built by tests.
struct ConfigInputs {
  std::string file_path;                               // empty = no file
  std::vector<std::pair<std::string, std::string>> flags;  // key -> raw text
  std::map<std::string, std::string> env;              // whole environment
};

// A loaded, validated configuration. Immutable after Load; thread-safe reads.
class Config {
 public:
  using Value = std::variant<std::monostate, std::string, int64_t, bool, double, std::vector<std::string>>;

  static Result<Config> Load(const ConfigSchema& schema, const ConfigInputs& inputs);

  // Typed accessors. Asking for a key the schema lacks, or with the wrong
  // type, is a programming error and aborts.
  const std::string& GetString(std::string_view key) const;
  int64_t GetInt(std::string_view key) const;
  bool GetBool(std::string_view key) const;
  double GetDouble(std::string_view key) const;
  const std::vector<std::string>& GetStringList(std::string_view key) const;
  bool IsSet(std::string_view key) const;
  ConfigSource Source(std::string_view key) const;

  // "key = value (source)" per key, secrets masked, sorted by key.
  std::vector<std::string> EffectiveLines() const;
  // Non-fatal findings made while loading (unknown BATON_* variables).
  const std::vector<std::string>& warnings() const { return warnings_; }

 private:
  struct Entry {
    ConfigKey key;  // a copy, so a Config stays valid when copied or moved
    Value value;
    ConfigSource source = ConfigSource::kDefault;
  };
  const Entry& Lookup(std::string_view key) const;

  std::map<std::string, Entry, std::less<>> entries_;
  std::vector<std::string> warnings_;
};

// Converts `text` to the type of `key`, enforcing bounds. Exposed for tests
// and for REST handlers that accept config values.
Result<Config::Value> ParseConfigValue(const ConfigKey& key, std::string_view text);

// Parses `--config FILE`, `--key value`, `--key=value` and --help from argv.
// Returns NOT_FOUND-free errors as INVALID_ARGUMENT naming the flag.
Result<ConfigInputs> ParseCommandLine(const ConfigSchema& schema, int argc, const char* const* argv,
                                      bool* help_requested);

// What a binary's main() calls: parses argv and the environment, loads the
// file, validates. On error prints one line naming the key and reason to
// stderr and exits with status 2; on --help prints the key table and exits 0.
Config LoadConfigOrExit(const ConfigSchema& schema, std::string_view binary, int argc,
                        const char* const* argv);

}  // namespace baton
