#include "tools/control_verbs.h"

#include <algorithm>
#include <cctype>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <iostream>
#include <map>
#include <sstream>

#include <CLI/CLI.hpp>
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <nlohmann/json.hpp>

#include "baton/v1/control.grpc.pb.h"
#include "tools/gateway_client.h"
#include "tools/text_table.h"

namespace baton::tools {
namespace {

// "ID=ADDR" -> standbys[ID] = ADDR; names the bad item.
bool ParseStandbys(const std::vector<std::string>& items, google::protobuf::Map<std::string, std::string>* out,
                   std::string* error) {
  for (const std::string& item : items) {
    const size_t eq = item.find('=');
    if (eq == std::string::npos || eq == 0 || eq + 1 == item.size()) {
      *error = "--standby '" + item + "' is not ID=ADDR";
      return false;
    }
    const std::string id = item.substr(0, eq);
    if (out->count(id) != 0) {
      *error = "--standby '" + id + "' given twice";
      return false;
    }
    (*out)[id] = item.substr(eq + 1);
  }
  return true;
}

// Same output shape as batonctl's other verbs: on error, code and message on
// stderr (or as JSON on stdout with --json).
int Report(const grpc::Status& status, bool json, const nlohmann::json& ok_json, const std::string& ok_text) {
  if (!status.ok()) {
    if (json) {
      std::cout << nlohmann::json{{"code", GrpcCodeName(status.error_code())}, {"message", status.error_message()}}
                << "\n";
    } else {
      std::cerr << "error: " << GrpcCodeName(status.error_code()) << ": " << status.error_message() << "\n";
    }
    return 1;
  }
  std::cout << (json ? ok_json.dump() + "\n" : ok_text);
  return 0;
}

std::string Position(const v1::LogPosition& p) {
  return "epoch " + std::to_string(p.epoch()) + " seq " + std::to_string(p.seq());
}

// "ROLE_ACTIVE" -> "active".
std::string EnumSuffix(const std::string& name) {
  std::string s = name.substr(name.find('_') + 1);
  std::transform(s.begin(), s.end(), s.begin(), [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return s;
}

// CLI11 parses "-1" into an unsigned option by wrapping it, and a uint32_t
// option accepts values past 2^32; these checks turn both into usage errors.
const CLI::Validator kUint64 = CLI::NonNegativeNumber;
const CLI::Validator kUint32 = CLI::Range(int64_t{0}, int64_t{UINT32_MAX});

}  // namespace

CLI::App* AddControlVerbs(CLI::App* app, ControlArgs* args) {
  CLI::App* control = app->add_subcommand("control", "Drive a gateway's GatewayControl service (as its agent would)");
  control->require_subcommand(1);

  args->assign = control->add_subcommand("assign", "AssignRole: make the gateway active or standby at an epoch");
  args->assign->add_option("--role", args->role, "active | standby")
      ->required()
      ->check(CLI::IsMember({"active", "standby"}));
  args->assign->add_option("--epoch", args->epoch, "Epoch of the assignment")->required()->check(kUint64);
  args->assign->add_option("--lease-ms", args->lease_ms, "Lease of an active; 0 = no lease")->check(kUint32);
  args->assign->add_option("--active-address", args->active_address, "gRPC address of the cluster's active");
  args->assign->add_option("--standby", args->standbys, "ID=ADDR of a standby (repeatable)");
  args->assign->add_option("--sync", args->sync_set, "Instance id of a synchronous standby (repeatable)");
  args->assign->add_option("--sync-standbys", args->sync_standbys, "Standbys that must ack a write (0 = async)")
      ->check(kUint32);
  args->assign->add_flag("--failsafe", args->failsafe, "Keep serving past the lease while every standby acks");

  args->renew = control->add_subcommand("renew", "RenewLease of the current epoch");
  args->renew->add_option("--epoch", args->epoch, "Epoch being renewed")->required()->check(kUint64);
  args->renew->add_option("--lease-ms", args->lease_ms, "New lease")->required()->check(kUint32);

  args->state = control->add_subcommand("state", "GetState: role, epoch, log positions, standbys");
  args->state->add_flag("--json", args->json, "Print the GetStateResponse as JSON on one line");
  return control;
}

int RunControl(const ControlArgs& args, const std::string& gateway, int timeout_ms, bool json) {
  v1::AssignRoleRequest assign;
  if (args.assign->parsed()) {
    v1::Assignment* a = assign.mutable_assignment();
    std::string error;
    if (!ParseStandbys(args.standbys, a->mutable_standbys(), &error)) {
      std::cerr << "batonctl control assign: " << error << "\n";
      return 2;
    }
    a->set_role(args.role == "active" ? v1::ROLE_ACTIVE : v1::ROLE_STANDBY);
    a->set_epoch(args.epoch);
    a->set_lease_ms(args.lease_ms);
    a->set_active_address(args.active_address);
    for (const std::string& id : args.sync_set) a->add_sync_set(id);
    a->set_sync_standbys(args.sync_standbys);
    a->set_failsafe(args.failsafe);
  }

  auto stub = v1::GatewayControl::NewStub(grpc::CreateChannel(gateway, grpc::InsecureChannelCredentials()));
  grpc::ClientContext context;
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::milliseconds(timeout_ms));

  if (args.assign->parsed()) {
    v1::AssignRoleResponse response;
    grpc::Status status = stub->AssignRole(&context, assign, &response);
    return Report(status, json, {{"role", args.role}, {"epoch", args.epoch}},
                  "assigned " + args.role + " at epoch " + std::to_string(args.epoch) + "\n");
  }
  if (args.renew->parsed()) {
    v1::RenewLeaseRequest request;
    request.set_epoch(args.epoch);
    request.set_lease_ms(args.lease_ms);
    v1::RenewLeaseResponse response;
    grpc::Status status = stub->RenewLease(&context, request, &response);
    return Report(status, json, {{"epoch", args.epoch}, {"lease_ms", args.lease_ms}},
                  "renewed epoch " + std::to_string(args.epoch) + " for " + std::to_string(args.lease_ms) + " ms\n");
  }
  if (args.state->parsed()) {
    v1::GetStateResponse response;
    grpc::Status status = stub->GetState(&context, v1::GetStateRequest(), &response);
    const bool as_json = json || args.json;
    if (status.ok() && as_json) {
      std::cout << StateToJson(response) << "\n";
      return 0;
    }
    return Report(status, as_json, {}, status.ok() ? StateToText(response) : "");
  }
  return 2;
}

std::string StateToJson(const v1::GetStateResponse& state) {
  google::protobuf::util::JsonPrintOptions options;
  options.preserve_proto_field_names = true;
  // Scripts read e.g. standbys[0].lag_entries even when it is 0.
  options.always_print_primitive_fields = true;
  std::string out;
  // Serialising a well-formed message cannot fail; an empty object is a safe
  // answer should it ever do so.
  if (!google::protobuf::util::MessageToJsonString(state, &out, options).ok()) return "{}";
  return out;
}

std::string StateToText(const v1::GetStateResponse& state) {
  std::vector<std::pair<std::string, std::string>> fields = {
      {"instance_id", state.instance_id()},
      {"cluster", state.cluster()},
      {"role", EnumSuffix(v1::Role_Name(state.role()))},
      {"epoch", std::to_string(state.epoch())},
      {"durable", Position(state.durable())},
      {"applied", Position(state.applied())},
      {"lease_remaining_ms", std::to_string(state.lease_remaining_ms())},
      {"health", EnumSuffix(v1::Health_Name(state.health()))},
      {"fenced", state.fenced() ? "true" : "false"},
      {"pid", std::to_string(state.pid())},
      {"active_address", state.active_address()},
  };
  std::string history;
  for (const auto& e : state.epoch_history()) {
    history += (history.empty() ? "" : ", ") + std::to_string(e.epoch()) + "@" + std::to_string(e.first_seq());
  }
  fields.emplace_back("epoch_history", history.empty() ? "-" : history + " (epoch@first_seq)");
  fields.emplace_back("object_count", std::to_string(state.object_count()));
  char digest[19];
  std::snprintf(digest, sizeof digest, "%016llx", static_cast<unsigned long long>(state.digest()));
  fields.emplace_back("digest", digest);

  std::ostringstream out;
  for (const auto& [name, value] : fields) {
    out << name << std::string(20 - name.size(), ' ') << (value.empty() ? "-" : value) << "\n";
  }
  out << "standbys" << std::string(12, ' ') << state.standbys_size() << "\n";
  if (state.standbys_size() > 0) {
    std::vector<std::vector<std::string>> rows = {
        {"INSTANCE", "ADDRESS", "CONNECTED", "SYNC", "ACKED(EPOCH/SEQ)", "LAG_ENTRIES", "LAG_S", "LAST_ERROR"}};
    for (const auto& s : state.standbys()) {
      char lag[32];
      std::snprintf(lag, sizeof lag, "%.3f", s.lag_seconds());
      rows.push_back({s.instance_id(), s.address(), s.connected() ? "yes" : "no", s.sync() ? "yes" : "no",
                      std::to_string(s.acked().epoch()) + "/" + std::to_string(s.acked().seq()),
                      std::to_string(s.lag_entries()), lag, s.last_error().empty() ? "-" : s.last_error()});
    }
    out << RenderTable(rows);
  }
  return out.str();
}

}  // namespace baton::tools
