#include "common/config.h"

#include <unistd.h>

#include <cstdio>
#include <fstream>

#include <gtest/gtest.h>

namespace baton {
namespace {

ConfigSchema TestSchema() {
  ConfigSchema schema = ConfigSchema::WithCommonKeys("127.0.0.1:7780");
  schema.Int("index.dimension", std::nullopt, 1, 65536, "Vector dimension")
      .Enum("index.metric", "l2", {"l2", "cosine"}, "Distance metric")
      .Int("zookeeper.session_timeout_ms", 4000, 100, 600000, "ZooKeeper session timeout")
      .Address("grpc.listen", "127.0.0.1:7700", "gRPC address")
      .List("arbiter.addresses", "", "Arbiter gRPC addresses")
      .Bool("feature.on", false, "A switch");
  schema.Add({.name = "api.token", .type = ConfigType::kString, .help = "Bearer token", .secret = true});
  schema.Add({.name = "data_dir", .type = ConfigType::kString, .help = "Data directory", .required = true});
  return schema;
}

class ConfigFile {
 public:
  explicit ConfigFile(const std::string& text) {
    char tmpl[] = "/tmp/baton-config-XXXXXX.yaml";
    int fd = ::mkstemps(tmpl, 5);
    EXPECT_GE(fd, 0);
    ::close(fd);
    path_ = tmpl;
    std::ofstream(path_) << text;
  }
  ~ConfigFile() { std::remove(path_.c_str()); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

Result<Config> Load(const std::string& yaml, std::vector<std::pair<std::string, std::string>> flags = {},
                    std::map<std::string, std::string> env = {}) {
  ConfigFile file(yaml);
  return Config::Load(TestSchema(), {.file_path = file.path(), .flags = std::move(flags), .env = std::move(env)});
}

TEST(Config, DefaultsApplyWhenNothingIsSet) {
  auto config = Load("data_dir: /var/lib/baton\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->GetString("log.level"), "info");
  EXPECT_EQ(config->GetInt("zookeeper.session_timeout_ms"), 4000);
  EXPECT_EQ(config->GetString("grpc.listen"), "127.0.0.1:7700");
  EXPECT_TRUE(config->GetStringList("arbiter.addresses").empty());
  EXPECT_FALSE(config->GetBool("feature.on"));
  EXPECT_FALSE(config->IsSet("index.dimension"));
  EXPECT_EQ(config->Source("log.level"), ConfigSource::kDefault);
}

TEST(Config, NestedYamlMapsToDottedKeys) {
  auto config = Load(
      "data_dir: /d\n"
      "index:\n  dimension: 128\n  metric: cosine\n"
      "arbiter:\n  addresses: [127.0.0.1:7701, 127.0.0.1:7702]\n");
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->GetInt("index.dimension"), 128);
  EXPECT_EQ(config->GetString("index.metric"), "cosine");
  EXPECT_EQ(config->GetStringList("arbiter.addresses"),
            (std::vector<std::string>{"127.0.0.1:7701", "127.0.0.1:7702"}));
  EXPECT_EQ(config->Source("index.dimension"), ConfigSource::kFile);
}

TEST(Config, FlagBeatsEnvBeatsFile) {
  auto config = Load("data_dir: /d\nlog:\n  level: warn\nindex:\n  dimension: 8\n",
                     {{"log.level", "debug"}},
                     {{"BATON_LOG_LEVEL", "error"}, {"BATON_INDEX_DIMENSION", "16"}, {"PATH", "/bin"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->GetString("log.level"), "debug");
  EXPECT_EQ(config->Source("log.level"), ConfigSource::kFlag);
  EXPECT_EQ(config->GetInt("index.dimension"), 16);
  EXPECT_EQ(config->Source("index.dimension"), ConfigSource::kEnv);
}

TEST(Config, EnvListIsCommaSeparated) {
  auto config = Load("data_dir: /d\n", {}, {{"BATON_ARBITER_ADDRESSES", "a:1, b:2"}});
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->GetStringList("arbiter.addresses"), (std::vector<std::string>{"a:1", "b:2"}));
}

void ExpectInvalid(const Result<Config>& config, const std::vector<std::string>& fragments) {
  ASSERT_FALSE(config.ok());
  EXPECT_EQ(config.status().code(), StatusCode::kInvalidArgument);
  for (const auto& fragment : fragments) {
    EXPECT_NE(config.status().message().find(fragment), std::string::npos)
        << "'" << fragment << "' missing from: " << config.status().message();
  }
}

TEST(Config, UnknownKeyInFileIsNamed) { ExpectInvalid(Load("data_dir: /d\nindex:\n  dimensoin: 3\n"), {"unknown key", "index.dimensoin"}); }

TEST(Config, WrongTypeIsNamed) {
  ExpectInvalid(Load("data_dir: /d\nindex:\n  dimension: abc\n"), {"index.dimension", "'abc'", "not an integer"});
  ExpectInvalid(Load("data_dir: /d\nfeature:\n  on: maybe\n"), {"feature.on", "'maybe'", "bool"});
  ExpectInvalid(Load("data_dir: /d\nindex: 5\n"), {"unknown key", "index"});
  ExpectInvalid(Load("data_dir: /d\nlog:\n  level: [a]\n"), {"log.level", "not a list"});
}

TEST(Config, OutOfRangeIsNamed) {
  ExpectInvalid(Load("data_dir: /d\nzookeeper:\n  session_timeout_ms: 5\n"),
                {"zookeeper.session_timeout_ms", "'5'", "below the minimum 100"});
  ExpectInvalid(Load("data_dir: /d\n", {{"index.dimension", "70000"}}), {"--index.dimension", "above the maximum"});
}

TEST(Config, BadEnumAndAddressAreNamed) {
  ExpectInvalid(Load("data_dir: /d\nindex:\n  metric: manhattan\n"), {"index.metric", "l2|cosine"});
  ExpectInvalid(Load("data_dir: /d\n", {{"grpc.listen", "localhost"}}), {"grpc.listen", "host:port"});
  ExpectInvalid(Load("data_dir: /d\n", {{"grpc.listen", "127.0.0.1:99999"}}), {"grpc.listen", "0..65535"});
  ExpectInvalid(Load("data_dir: /d\n", {}, {{"BATON_HTTP_LISTEN", ":80"}}), {"BATON_HTTP_LISTEN", "host is empty"});
}

TEST(Config, MalformedYamlNamesLine) {
  ExpectInvalid(Load("data_dir: /d\nindex: [unclosed\n"), {"malformed YAML", "line"});
}

TEST(Config, MissingRequiredKeyIsNamed) { ExpectInvalid(Load("log:\n  level: info\n"), {"data_dir", "required", "BATON_DATA_DIR"}); }

TEST(Config, MissingFileIsNamed) {
  auto config = Config::Load(TestSchema(), {.file_path = "/nonexistent/baton.yaml"});
  ExpectInvalid(config, {"/nonexistent/baton.yaml", "cannot be read"});
}

TEST(Config, UnknownEnvVariableIsAWarningNotAnError) {
  auto config = Load("data_dir: /d\n", {}, {{"BATON_CRASH_ROUNDS", "200"}});
  ASSERT_TRUE(config.ok()) << config.status();
  ASSERT_EQ(config->warnings().size(), 1u);
  EXPECT_NE(config->warnings()[0].find("BATON_CRASH_ROUNDS"), std::string::npos);
}

TEST(Config, EffectiveLinesMaskSecrets) {
  auto config = Load("data_dir: /d\napi:\n  token: hunter2\n");
  ASSERT_TRUE(config.ok()) << config.status();
  bool saw_token = false;
  for (const auto& line : config->EffectiveLines()) {
    EXPECT_EQ(line.find("hunter2"), std::string::npos) << line;
    if (line.rfind("api.token = ****", 0) == 0) saw_token = true;
  }
  EXPECT_TRUE(saw_token);
  EXPECT_EQ(config->GetString("api.token"), "hunter2");
}

TEST(Config, CommandLineFormsAndUnknownFlag) {
  const ConfigSchema schema = TestSchema();
  const char* argv[] = {"baton-gateway", "--index.dimension", "4", "--log.level=debug", "--data_dir", "/d"};
  bool help = false;
  auto inputs = ParseCommandLine(schema, 6, argv, &help);
  ASSERT_TRUE(inputs.ok()) << inputs.status();
  auto config = Config::Load(schema, *inputs);
  ASSERT_TRUE(config.ok()) << config.status();
  EXPECT_EQ(config->GetInt("index.dimension"), 4);
  EXPECT_EQ(config->GetString("log.level"), "debug");

  const char* bad[] = {"baton-gateway", "--no.such.key", "1"};
  auto failed = ParseCommandLine(schema, 3, bad, &help);
  ASSERT_FALSE(failed.ok());
  EXPECT_NE(failed.status().message().find("no.such.key"), std::string::npos) << failed.status();
}

TEST(Config, LoadOrExitExitsWithStatus2AndOneLine) {
  const ConfigSchema schema = TestSchema();
  const char* argv[] = {"baton-gateway", "--data_dir", "/d", "--index.dimension", "zero"};
  EXPECT_EXIT(LoadConfigOrExit(schema, "baton-gateway", 5, argv), ::testing::ExitedWithCode(2),
              "baton-gateway: config error: .*index.dimension.*'zero' is not an integer");
}

TEST(Config, HelpListsEveryKeyWithItsEnvName) {
  std::string help = TestSchema().HelpText();
  EXPECT_NE(help.find("--zookeeper.session_timeout_ms (default 4000) [100..600000]"), std::string::npos) << help;
  EXPECT_NE(help.find("BATON_ZOOKEEPER_SESSION_TIMEOUT_MS"), std::string::npos);
  EXPECT_NE(help.find("--data_dir (required)"), std::string::npos);
}

}  // namespace
}  // namespace baton
