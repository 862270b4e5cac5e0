#include "tools/batonctl.h"

#include <cmath>
#include <cstdlib>
#include <iostream>
#include <optional>
#include <sstream>

#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include "tools/bench.h"
#include "tools/control_verbs.h"
#include "tools/gateway_client.h"
#include "tools/operator_verbs.h"

namespace baton::tools {
namespace {

struct Common {
  std::string gateway = "127.0.0.1:7700";
  int timeout_ms = 10000;
  bool json = false;
};

struct ObjectArgs {
  std::string id;
  std::string vector;
  std::string metadata;
  int64_t timestamp = 0;
  uint32_t k = 10;
};

// "0.1,0.2,3" -> floats; names the bad element.
bool ParseVector(const std::string& text, std::vector<float>* out, std::string* error) {
  std::stringstream ss(text);
  std::string item;
  size_t index = 0;
  while (std::getline(ss, item, ',')) {
    char* end = nullptr;
    float v = std::strtof(item.c_str(), &end);
    if (item.empty() || end == item.c_str() || *end != '\0') {
      *error = "--vector element " + std::to_string(index) + " ('" + item + "') is not a number";
      return false;
    }
    out->push_back(v);
    ++index;
  }
  if (out->empty()) {
    *error = "--vector is empty";
    return false;
  }
  return true;
}

int Report(const grpc::Status& status, const Common& common, const nlohmann::json& ok_json,
           const std::string& ok_text) {
  if (!status.ok()) {
    if (common.json) {
      std::cout << nlohmann::json{{"code", GrpcCodeName(status.error_code())}, {"message", status.error_message()}}
                << "\n";
    } else {
      std::cerr << "error: " << GrpcCodeName(status.error_code()) << ": " << status.error_message() << "\n";
    }
    return 1;
  }
  if (common.json) {
    std::cout << ok_json.dump() << "\n";
  } else {
    std::cout << ok_text;
  }
  return 0;
}

void ToObject(const ObjectArgs& args, const std::vector<float>& vector, v1::Object* object) {
  object->set_id(args.id);
  object->mutable_vector()->Add(vector.begin(), vector.end());
  object->set_metadata(args.metadata);
  object->set_timestamp(args.timestamp);
}

int RunWrite(const std::string& verb, const Common& common, const ObjectArgs& args) {
  GatewayClient client(common.gateway, std::chrono::milliseconds(common.timeout_ms));
  std::vector<float> vector;
  std::string error;
  if (verb != "remove" && !ParseVector(args.vector, &vector, &error)) {
    std::cerr << "batonctl " << verb << ": " << error << "\n";
    return 2;
  }
  v1::WriteResult result;
  grpc::Status status = client.Call([&](v1::Gateway::Stub& stub, grpc::ClientContext& ctx) {
    if (verb == "insert") {
      v1::InsertRequest r;
      ToObject(args, vector, r.mutable_object());
      return stub.Insert(&ctx, r, &result);
    }
    if (verb == "update") {
      v1::UpdateRequest r;
      ToObject(args, vector, r.mutable_object());
      return stub.Update(&ctx, r, &result);
    }
    if (verb == "upsert") {
      v1::UpsertRequest r;
      ToObject(args, vector, r.mutable_object());
      return stub.Upsert(&ctx, r, &result);
    }
    v1::RemoveRequest r;
    r.set_id(args.id);
    r.set_timestamp(args.timestamp);
    return stub.Remove(&ctx, r, &result);
  });
  return Report(status, common, {{"id", result.id()}, {"timestamp", result.timestamp()}},
                verb + " " + result.id() + " timestamp " + std::to_string(result.timestamp()) + "\n");
}

int RunGet(const Common& common, const ObjectArgs& args) {
  GatewayClient client(common.gateway, std::chrono::milliseconds(common.timeout_ms));
  v1::Object object;
  grpc::Status status = client.Call([&](v1::Gateway::Stub& stub, grpc::ClientContext& ctx) {
    v1::GetObjectRequest r;
    r.set_id(args.id);
    return stub.GetObject(&ctx, r, &object);
  });
  std::vector<float> vector(object.vector().begin(), object.vector().end());
  std::ostringstream text;
  text << object.id() << " timestamp " << object.timestamp() << " vector [";
  for (size_t i = 0; i < vector.size(); ++i) text << (i ? "," : "") << vector[i];
  text << "] metadata " << object.metadata().size() << " bytes\n";
  return Report(status, common,
                {{"id", object.id()}, {"timestamp", object.timestamp()}, {"vector", vector},
                 {"metadata", object.metadata()}},
                text.str());
}

int RunExists(const Common& common, const ObjectArgs& args) {
  GatewayClient client(common.gateway, std::chrono::milliseconds(common.timeout_ms));
  v1::ExistsResponse response;
  grpc::Status status = client.Call([&](v1::Gateway::Stub& stub, grpc::ClientContext& ctx) {
    v1::ExistsRequest r;
    r.set_id(args.id);
    return stub.Exists(&ctx, r, &response);
  });
  return Report(status, common, {{"id", args.id}, {"exists", response.exists()}},
                args.id + (response.exists() ? " exists\n" : " does not exist\n"));
}

int RunSearch(const Common& common, const ObjectArgs& args) {
  GatewayClient client(common.gateway, std::chrono::milliseconds(common.timeout_ms));
  std::vector<float> vector;
  std::string error;
  if (args.id.empty() && !ParseVector(args.vector, &vector, &error)) {
    std::cerr << "batonctl search: " << error << " (give --vector or --id)\n";
    return 2;
  }
  v1::SearchResponse response;
  grpc::Status status = client.Call([&](v1::Gateway::Stub& stub, grpc::ClientContext& ctx) {
    if (!args.id.empty()) {
      v1::SearchByIDRequest r;
      r.set_id(args.id);
      r.set_k(args.k);
      return stub.SearchByID(&ctx, r, &response);
    }
    v1::SearchRequest r;
    r.mutable_vector()->Add(vector.begin(), vector.end());
    r.set_k(args.k);
    return stub.Search(&ctx, r, &response);
  });
  nlohmann::json results = nlohmann::json::array();
  std::ostringstream text;
  for (const auto& n : response.results()) {
    results.push_back({{"id", n.id()}, {"distance", n.distance()}});
    text << n.id() << "\t" << n.distance() << "\n";
  }
  return Report(status, common, {{"results", results}}, text.str());
}

}  // namespace

int RunBatonctl(int argc, char** argv) {
  CLI::App app{"batonctl: client and operator CLI for Baton"};
  app.require_subcommand(1);
  Common common;
  if (const char* env = std::getenv("BATON_GATEWAY")) common.gateway = env;
  app.add_option("--gateway", common.gateway, "gRPC address of a gateway (env BATON_GATEWAY)");
  app.add_option("--timeout-ms", common.timeout_ms, "Deadline of each call")->check(CLI::PositiveNumber);
  app.add_flag("--json", common.json, "Print JSON instead of text");

  ObjectArgs args;
  std::string verb;
  for (const char* name : {"insert", "update", "upsert"}) {
    CLI::App* cmd = app.add_subcommand(name, std::string(name) + " an object");
    cmd->add_option("--id", args.id, "Object id")->required();
    cmd->add_option("--vector", args.vector, "Comma-separated floats")->required();
    cmd->add_option("--metadata", args.metadata, "Metadata bytes (as text)");
    cmd->add_option("--timestamp", args.timestamp, "Nanoseconds; 0 = assigned by the gateway");
  }
  CLI::App* remove = app.add_subcommand("remove", "Remove an object");
  remove->add_option("--id", args.id, "Object id")->required();
  remove->add_option("--timestamp", args.timestamp, "Nanoseconds; 0 = assigned by the gateway");
  CLI::App* get = app.add_subcommand("get", "Print an object");
  get->add_option("--id", args.id, "Object id")->required();
  CLI::App* exists = app.add_subcommand("exists", "Whether an object exists");
  exists->add_option("--id", args.id, "Object id")->required();
  CLI::App* search = app.add_subcommand("search", "k nearest neighbours of --vector, or of object --id");
  search->add_option("--vector", args.vector, "Comma-separated floats");
  search->add_option("--id", args.id, "Search by this object's vector instead");
  search->add_option("--k", args.k, "Neighbours to return (1..1000)");

  BenchOptions bench;
  CLI::App* bench_cmd = app.add_subcommand("bench", "Concurrent load (writes, or Exists calls): ops/s, latency percentiles, errors");
  bench_cmd->add_option("--concurrency", bench.concurrency, "Calls in flight, one per connection")->check(CLI::Range(1, 1024));
  bench_cmd->add_option("--count", bench.count, "Total operations (default: run for --duration-s)");
  bench_cmd->add_option("--duration-s", bench.duration_s, "Seconds to run when --count is not given")
      ->check(CLI::Range(0.1, 3600.0));
  bench_cmd->add_option("--dimension", bench.dimension, "Vector dimension")->check(CLI::Range(1, 65536));
  bench_cmd->add_option("--metadata-bytes", bench.metadata_bytes, "Metadata size")->check(CLI::Range(0, 65536));
  bench_cmd
      ->add_option("--op", bench.op,
                   "insert | upsert | exists (Exists of ids not stored: no write, no fsync; what a call costs)")
      ->check(CLI::IsMember({"insert", "upsert", "exists"}));
  bench_cmd->add_option("--seed", bench.seed, "Random seed of the vectors");

  ControlArgs control;
  AddControlVerbs(&app, &control);
  OperatorArgs operator_args;
  AddOperatorVerbs(&app, &operator_args);
  app.footer(
      "Gateway verbs: insert update upsert remove get exists search bench control. Arbiter (operator) verbs: status "
      "cluster switchover failover maintenance config events mirror-targets; `batonctl VERB --help` for each.\n"
      "Exit codes: 0 success; 1 refused (gateway verbs: any error; arbiter verbs: 400, 404, 412 and other errors); "
      "2 usage error; 3 no arbiter reachable, or 503; 4 timeout (504); 5 conflict (409); 6 unauthorized (401).");

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    int rc = app.exit(e);
    return rc == 0 ? 0 : 2;
  }
  CLI::App* chosen = app.get_subcommands().front();
  const std::string name = chosen->get_name();
  if (name == "insert" || name == "update" || name == "upsert" || name == "remove") return RunWrite(name, common, args);
  if (name == "get") return RunGet(common, args);
  if (name == "exists") return RunExists(common, args);
  if (name == "search") return RunSearch(common, args);
  if (name == "control") return RunControl(control, common.gateway, common.timeout_ms, common.json);
  if (std::optional<int> rc = RunOperatorVerb(operator_args, common.json, std::cout, std::cerr)) return *rc;
  if (name == "bench") {
    bench.address = common.gateway;
    BenchResult result = RunBench(bench);
    std::cout << (common.json ? result.ToJson(bench) + "\n" : result.ToText());
    return result.errors.empty() ? 0 : 1;
  }
  return 2;
}

}  // namespace baton::tools
