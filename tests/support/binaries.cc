#include "tests/support/binaries.h"

#include <unistd.h>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <sstream>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>

namespace baton::testing {

std::string BinaryPath(const std::string& relative) {
  const char* dir = std::getenv("BATON_BUILD_DIR");
  if (dir == nullptr) {
    std::fprintf(stderr, "BATON_BUILD_DIR is not set: run the test through ctest\n");
    std::abort();
  }
  return std::string(dir) + "/" + relative;
}

void DefaultBuildDirToExecutable() {
  if (std::getenv("BATON_BUILD_DIR") != nullptr) return;
  char exe[4096] = {};
  const ssize_t n = ::readlink("/proc/self/exe", exe, sizeof exe - 1);
  if (n <= 0) return;
  std::string path(exe, static_cast<size_t>(n));
  for (int i = 0; i < 2 && path.rfind('/') != std::string::npos; ++i) path.resize(path.rfind('/'));
  ::setenv("BATON_BUILD_DIR", path.c_str(), 0);
}

Result<std::pair<int, std::string>> HttpGet(uint16_t port, const std::string& path,
                                            std::chrono::milliseconds timeout) {
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", port);
    session.setTimeout(Poco::Timespan(static_cast<long>(timeout.count()) * 1000));
    Poco::Net::HTTPRequest request(Poco::Net::HTTPRequest::HTTP_GET, path, Poco::Net::HTTPMessage::HTTP_1_1);
    session.sendRequest(request);
    Poco::Net::HTTPResponse response;
    std::istream& body = session.receiveResponse(response);
    std::string text;
    Poco::StreamCopier::copyToString(body, text);
    return std::make_pair(static_cast<int>(response.getStatus()), text);
  } catch (const Poco::Exception& e) {
    return Status::Unavailable("GET 127.0.0.1:" + std::to_string(port) + path + ": " + e.displayText());
  }
}

Result<HttpAnswer> HttpCall(uint16_t port, const std::string& method, const std::string& path,
                            const std::string& body, const std::map<std::string, std::string>& headers,
                            std::chrono::milliseconds timeout) {
  try {
    Poco::Net::HTTPClientSession session("127.0.0.1", port);
    session.setTimeout(Poco::Timespan(static_cast<long>(timeout.count()) * 1000));
    Poco::Net::HTTPRequest request(method, path, Poco::Net::HTTPMessage::HTTP_1_1);
    for (const auto& [name, value] : headers) request.set(name, value);
    if (!body.empty() || method != "GET") {
      request.setContentType("application/json");
      request.setContentLength(static_cast<std::streamsize>(body.size()));
    }
    session.sendRequest(request) << body;
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    HttpAnswer answer;
    Poco::StreamCopier::copyToString(in, answer.body);
    answer.status = static_cast<int>(response.getStatus());
    for (const auto& [name, value] : response) answer.headers.try_emplace(name, value);
    return answer;
  } catch (const Poco::Exception& e) {
    return Status::Unavailable(method + " 127.0.0.1:" + std::to_string(port) + path + ": " + e.displayText());
  }
}

std::string Daemon::Log() const {
  std::ifstream in(log_path);
  std::stringstream text;
  text << in.rdbuf();
  return text.str();
}

Result<Daemon> StartDaemon(const std::string& binary, std::vector<std::string> args, const std::string& log_path) {
  args.insert(args.begin(), binary);
  BATON_ASSIGN_OR_RETURN(auto process, ChildProcess::Spawn({.argv = std::move(args), .output_path = log_path}));
  return Daemon{std::move(process), log_path};
}

Result<std::pair<int, std::string>> RunToExit(const std::string& binary, std::vector<std::string> args,
                                              const std::string& log_path, std::chrono::milliseconds timeout) {
  BATON_ASSIGN_OR_RETURN(Daemon daemon, StartDaemon(binary, std::move(args), log_path));
  BATON_ASSIGN_OR_RETURN(int status, daemon.process->Wait(timeout));
  return std::make_pair(status, daemon.Log());
}

}  // namespace baton::testing
