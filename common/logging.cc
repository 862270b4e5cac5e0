#include "common/logging.h"

#include <cstdlib>
#include <iostream>

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace baton {

Status InitLogging(std::string_view component, std::string_view level) {
  spdlog::level::level_enum parsed = spdlog::level::from_str(std::string(level));
  // from_str maps anything unknown to "off"; only "off" itself may mean off.
  if (parsed == spdlog::level::off && level != "off") {
    return Status::InvalidArgument("key 'log.level': value '" + std::string(level) +
                                   "' is not one of trace|debug|info|warn|error|critical|off");
  }
  auto logger = spdlog::stderr_logger_mt(std::string(component) + "-" + std::to_string(::getpid()));
  // ISO-8601 UTC with microseconds, level, component, message.
  logger->set_pattern("%Y-%m-%dT%H:%M:%S.%fZ %L " + std::string(component) + " %v", spdlog::pattern_time_type::utc);
  logger->set_level(parsed);
  logger->flush_on(spdlog::level::warn);
  spdlog::set_default_logger(logger);
  return Status::Ok();
}

void InitLoggingFromConfig(std::string_view component, const Config& config) {
  Status s = InitLogging(component, config.GetString("log.level"));
  if (!s.ok()) {
    std::cerr << "baton-" << component << ": config error: " << s.message() << "\n";
    std::exit(2);
  }
  spdlog::info("starting baton-{} version {}", component, BATON_VERSION);
  for (const std::string& line : config.EffectiveLines()) spdlog::info("config {}", line);
  for (const std::string& warning : config.warnings()) spdlog::warn("config {}", warning);
}

}  // namespace baton
