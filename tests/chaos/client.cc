#include "tests/chaos/client.h"

#include <random>

#include <grpcpp/grpcpp.h>

#include "baton/v1/gateway.grpc.pb.h"

namespace baton::chaos {
namespace {

std::string BatonActive(const grpc::ClientContext& context) {
  const auto& trailers = context.GetServerTrailingMetadata();
  auto it = trailers.find("baton-active");
  return it == trailers.end() ? "" : std::string(it->second.data(), it->second.size());
}

bool Contains(const std::string& text, const char* part) { return text.find(part) != std::string::npos; }

}  // namespace

Outcome ClassifyWriteFailure(int code, const std::string& message) {
  switch (static_cast<grpc::StatusCode>(code)) {
    case grpc::StatusCode::ALREADY_EXISTS:  // insert of a live id; update that changes nothing
    case grpc::StatusCode::NOT_FOUND:       // update or remove of a missing id
    case grpc::StatusCode::INVALID_ARGUMENT:
      return Outcome::kFail;
    case grpc::StatusCode::UNAVAILABLE:
      // Refused at admission (gateway/role.cc CheckWrite, CheckAppend) or
      // never sent: nothing was logged.
      if (Contains(message, "this gateway is a standby") || Contains(message, "this gateway has no role yet") ||
          Contains(message, "(switchover); retry there") || Contains(message, "the write was not logged") ||
          Contains(message, "failed to connect to all addresses")) {
        return Outcome::kFail;
      }
      return Outcome::kUnknown;
    case grpc::StatusCode::FAILED_PRECONDITION:
      // CheckWrite's fencing at admission; the same code while waiting for
      // the sync rule ("before the write could be acknowledged") is unknown.
      if (Contains(message, "(fenced until the arbiter renews or reassigns it)")) return Outcome::kFail;
      return Outcome::kUnknown;
    default:
      return Outcome::kUnknown;
  }
}

Client::Client(const Mesh& mesh, History& history, ClientOptions options)
    : mesh_(mesh), history_(history), options_(std::move(options)) {}

void Client::Start() {
  stop_ = false;
  thread_ = std::thread([this] { Run(); });
}

void Client::Stop() {
  stop_ = true;
  if (thread_.joinable()) thread_.join();
}

void Client::Run() {
  using Clock = std::chrono::steady_clock;
  std::mt19937_64 rng(options_.seed);
  const std::vector<int>& members = mesh_.members(options_.cluster);
  std::vector<std::shared_ptr<grpc::Channel>> channels;
  for (int g : members) channels.push_back(mesh_.NewChannel(g));
  std::vector<Clock::time_point> suspect_until(members.size());
  size_t at = std::uniform_int_distribution<size_t>(0, members.size() - 1)(rng);

  for (uint64_t n = 0; n < options_.max_ops && !stop_; ++n) {
    // 15% insert, 10% update, 25% upsert, 15% remove, 35% get.
    const int dice = std::uniform_int_distribution<int>(0, 99)(rng);
    const OpType type = dice < 15   ? OpType::kInsert
                        : dice < 25 ? OpType::kUpdate
                        : dice < 50 ? OpType::kUpsert
                        : dice < 65 ? OpType::kRemove
                                    : OpType::kGet;
    Op op;
    op.cluster = options_.cluster;
    op.client = options_.client;
    op.type = type;
    op.key = options_.keys[std::uniform_int_distribution<size_t>(0, options_.keys.size() - 1)(rng)];
    if (IsWrite(type)) {
      op.tag = options_.tag_prefix + mesh_.cluster_name(options_.cluster) + "/w" + std::to_string(options_.client) +
               "/" + std::to_string(n);
    }
    op.gateway = members[at];
    op.invoked = Clock::now();
    const uint64_t index = history_.Invoke(op);

    grpc::ClientContext context;
    context.set_deadline(std::chrono::system_clock::now() + options_.rpc_timeout);
    auto stub = v1::Gateway::NewStub(channels[at]);
    grpc::Status status;
    v1::WriteResult result;
    v1::Object object;
    v1::Object written;
    if (IsPut(type)) {
      written.set_id(op.key);
      const std::vector<float> vector = VectorForTag(op.tag, options_.dimension);
      written.mutable_vector()->Add(vector.begin(), vector.end());
      written.set_metadata(op.tag);
    }
    switch (type) {
      case OpType::kInsert: {
        v1::InsertRequest r;
        *r.mutable_object() = written;
        status = stub->Insert(&context, r, &result);
        break;
      }
      case OpType::kUpdate: {
        v1::UpdateRequest r;
        *r.mutable_object() = written;
        status = stub->Update(&context, r, &result);
        break;
      }
      case OpType::kUpsert: {
        v1::UpsertRequest r;
        *r.mutable_object() = written;
        status = stub->Upsert(&context, r, &result);
        break;
      }
      case OpType::kRemove: {
        v1::RemoveRequest r;
        r.set_id(op.key);
        status = stub->Remove(&context, r, &result);
        break;
      }
      case OpType::kGet: {
        v1::GetObjectRequest r;
        r.set_id(op.key);
        status = stub->GetObject(&context, r, &object);
        break;
      }
    }
    const int code = static_cast<int>(status.error_code());
    bool answered = false;  // the gateway answered about the data: it is the active
    if (type == OpType::kGet) {
      if (status.ok()) {
        const std::vector<float> got(object.vector().begin(), object.vector().end());
        history_.Complete(index, Outcome::kOk, code, "", object.timestamp(), true, object.metadata(),
                          got == VectorForTag(object.metadata(), options_.dimension));
        answered = true;
      } else if (status.error_code() == grpc::StatusCode::NOT_FOUND) {
        history_.Complete(index, Outcome::kOk, code, status.error_message());
        answered = true;
      } else {
        history_.Complete(index, Outcome::kFail, code, status.error_message());
      }
    } else if (status.ok()) {
      history_.Complete(index, Outcome::kOk, code, "", result.timestamp());
      answered = true;
    } else {
      history_.Complete(index, ClassifyWriteFailure(code, status.error_message()), code, status.error_message());
      answered = status.error_code() == grpc::StatusCode::ALREADY_EXISTS ||
                 status.error_code() == grpc::StatusCode::NOT_FOUND;
    }
    if (answered) {
      std::this_thread::sleep_for(options_.pause_after_answer);  // pacing the load, not synchronisation
      continue;
    }
    const auto now = Clock::now();
    if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) suspect_until[at] = now + options_.suspect_for;
    const std::string active = BatonActive(context);
    int named = -1;
    for (size_t i = 0; i < members.size(); ++i) {
      if (!active.empty() && mesh_.gateway_address(members[i]) == active) named = static_cast<int>(i);
    }
    if (named >= 0 && named != static_cast<int>(at) && suspect_until[named] <= now) {
      at = static_cast<size_t>(named);
    } else {
      size_t next = (at + 1) % members.size();
      for (size_t tries = 0; tries < members.size() && suspect_until[next] > now; ++tries) {
        next = (next + 1) % members.size();
      }
      at = next;
    }
    std::this_thread::sleep_for(options_.pause_after_failure);  // pacing a retry loop, not synchronisation
  }
}

}  // namespace baton::chaos
