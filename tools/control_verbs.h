// `batonctl control assign|renew|state`: stands in for the instance agent and
// drives one gateway's GatewayControl service (proto/baton/v1/control.proto)
// on its grpc.listen address. Control is per instance, so `baton-active` is
// never followed. Exit codes as batonctl: 0 ok, 1 server error, 2 bad usage.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "baton/v1/control.pb.h"

namespace CLI {
class App;
}

namespace baton::tools {

struct ControlArgs {
  // assign
  std::string role;  // active | standby
  uint64_t epoch = 0;
  uint32_t lease_ms = 0;  // 0 = no lease
  std::string active_address;
  std::vector<std::string> standbys;  // ID=ADDR
  std::vector<std::string> sync_set;  // instance ids
  uint32_t sync_standbys = 1;
  bool failsafe = false;
  // state
  bool json = false;

  // Set by AddControlVerbs, read by RunControl.
  CLI::App* assign = nullptr;
  CLI::App* renew = nullptr;
  CLI::App* state = nullptr;
};

// Adds the `control` subcommand (with assign, renew, state) to `app`; the
// parsed values land in `*args`, which must outlive the parse.
CLI::App* AddControlVerbs(CLI::App* app, ControlArgs* args);

// Runs the control verb chosen on the command line; returns the exit code.
// `json` is batonctl's global --json (state also takes its own).
int RunControl(const ControlArgs& args, const std::string& gateway, int timeout_ms, bool json);

// GetState as one line of JSON with the proto's field names, every field
// present (64-bit integers are JSON strings, as proto3 JSON mapping says).
std::string StateToJson(const v1::GetStateResponse& state);
// GetState as text: one `name value` line per field, standbys as a table.
std::string StateToText(const v1::GetStateResponse& state);

}  // namespace baton::tools
