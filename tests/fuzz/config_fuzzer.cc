// Fuzz target: the config loader (common/config.*) with the real schemas of
// baton-gateway, baton-arbiter and baton-agent: the YAML file through
// yaml-cpp and FlattenYaml, `--key value` flags through CLI11
// (ParseCommandLine), BATON_* environment variables, and every value through
// ParseConfigValue; then the typed accessors, the effective-config printout
// and the gateway's follow-up parsers (mirror.targets, mirror.tombstone_ttl).
//
// Input: the YAML text, then a NUL byte, then argv entries separated by NUL
// bytes (argv[0] is supplied). An entry "BATON_X=v" is an environment
// variable instead. The YAML goes to a memfd read back through
// /proc/self/fd, so the real file path (YAML::LoadFile) is exercised without
// disk files. Checks: Load returns a config or INVALID_ARGUMENT (a throw from
// yaml-cpp or CLI11 escaping, a crash or a hang is a bug), and every key of a
// loaded config can be read with its type.
#include <sys/mman.h>
#include <unistd.h>

#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "arbiter/arbiter_config.h"
#include "common/config.h"
#include "common/mirror_target.h"
#include "gateway/gateway_config.h"
#include "instance-agent/agent_config.h"
#include "tests/fuzz/fuzz_util.h"

namespace baton {
namespace {

int yaml_fd = -1;
std::string yaml_path;

void ReadEveryKey(const ConfigSchema& schema, const Config& config) {
  for (const ConfigKey& key : schema.keys()) {
    switch (key.type) {
      case ConfigType::kString:
      case ConfigType::kAddress:
      case ConfigType::kEnum:
        (void)config.GetString(key.name);
        break;
      case ConfigType::kInt: {
        const int64_t v = config.GetInt(key.name);
        if (config.IsSet(key.name)) {
          FUZZ_CHECK((!key.min || v >= *key.min) && (!key.max || v <= *key.max), key.name + " out of bounds");
        }
        break;
      }
      case ConfigType::kBool:
        (void)config.GetBool(key.name);
        break;
      case ConfigType::kDouble:
        (void)config.GetDouble(key.name);
        break;
      case ConfigType::kStringList:
        for (const std::string& item : config.GetStringList(key.name)) FUZZ_CHECK(!item.empty(), key.name);
        break;
    }
  }
  FUZZ_CHECK(config.EffectiveLines().size() == schema.keys().size());
}

void LoadWith(const ConfigSchema& schema, const std::vector<std::string>& args,
              const std::vector<std::pair<std::string, std::string>>& env, bool with_file, bool gateway) {
  std::vector<const char*> argv = {"baton-fuzz"};
  for (const std::string& arg : args) argv.push_back(arg.c_str());
  argv.push_back(nullptr);
  bool help = false;
  Result<ConfigInputs> inputs = ParseCommandLine(schema, static_cast<int>(argv.size() - 1), argv.data(), &help);
  if (!inputs.ok()) {
    FUZZ_CHECK(inputs.status().code() == StatusCode::kInvalidArgument, inputs.status().ToString());
    return;
  }
  // Only what the input says: no file a flag names, not this process's
  // environment.
  inputs->file_path = with_file ? yaml_path : "";
  inputs->env.clear();
  for (const auto& [name, value] : env) inputs->env.emplace(name, value);

  Result<Config> config = Config::Load(schema, *inputs);
  if (!config.ok()) {
    FUZZ_CHECK(config.status().code() == StatusCode::kInvalidArgument, config.status().ToString());
    return;
  }
  ReadEveryKey(schema, *config);
  if (gateway) {
    (void)ParseMirrorTargets(config->GetStringList("mirror.targets"));
    (void)gateway::ParseDurationText(config->GetString("mirror.tombstone_ttl"));
  }
}

}  // namespace
}  // namespace baton

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  baton::fuzz::QuietLogs();
  baton::yaml_fd = memfd_create("baton-fuzz-config", MFD_CLOEXEC);
  FUZZ_CHECK(baton::yaml_fd >= 0);
  baton::yaml_path = "/proc/self/fd/" + std::to_string(baton::yaml_fd);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* bytes, size_t size) {
  using namespace baton;
  const std::string_view data(reinterpret_cast<const char*>(bytes), size);
  const size_t nul = data.find('\0');
  const std::string_view yaml = data.substr(0, nul);
  std::vector<std::string> args;
  std::vector<std::pair<std::string, std::string>> env;
  if (nul != std::string_view::npos) {
    std::string_view rest = data.substr(nul + 1);
    while (!rest.empty()) {
      std::string_view arg = rest.substr(0, rest.find('\0'));
      rest.remove_prefix(std::min(rest.size(), arg.size() + 1));
      if (size_t eq = arg.find('='); arg.rfind("BATON_", 0) == 0 && eq != std::string_view::npos) {
        env.emplace_back(std::string(arg.substr(0, eq)), std::string(arg.substr(eq + 1)));
      } else {
        args.emplace_back(arg);
      }
    }
  }
  FUZZ_CHECK(ftruncate(yaml_fd, 0) == 0);
  FUZZ_CHECK(pwrite(yaml_fd, yaml.data(), yaml.size(), 0) == static_cast<ssize_t>(yaml.size()));

  static const ConfigSchema gateway_schema = gateway::GatewayConfigSchema();
  static const ConfigSchema arbiter_schema = arbiter::ArbiterConfigSchema();
  static const ConfigSchema agent_schema = agent::AgentConfigSchema();
  const bool with_file = !yaml.empty();
  LoadWith(gateway_schema, args, env, with_file, /*gateway=*/true);
  LoadWith(arbiter_schema, args, env, with_file, /*gateway=*/false);
  LoadWith(agent_schema, args, env, with_file, /*gateway=*/false);
  return 0;
}
