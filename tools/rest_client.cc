#include "tools/rest_client.h"

#include <algorithm>
#include <exception>
#include <istream>
#include <ostream>

#include <Poco/Exception.h>
#include <Poco/Net/HTTPClientSession.h>
#include <Poco/Net/HTTPRequest.h>
#include <Poco/Net/HTTPResponse.h>
#include <Poco/StreamCopier.h>
#include <Poco/Timespan.h>

namespace baton::tools {
namespace {

struct Attempt {
  enum class Outcome { kAnswered, kNotDelivered, kSentNoAnswer };
  Outcome outcome = Outcome::kNotDelivered;
  bool timed_out = false;
  std::string error;
  RestAnswer answer;
};

Poco::Timespan ToTimespan(std::chrono::milliseconds ms) {
  return Poco::Timespan(Poco::Timespan::TimeDiff(ms.count()) * 1000);
}

std::string Describe(const Poco::Exception& e) {
  std::string text = e.displayText();
  return text.empty() ? e.className() : text;
}

Attempt TryOnce(const std::string& host, uint16_t port, std::string_view method, const std::string& path,
                const std::optional<std::string>& body, const std::string& token, std::chrono::milliseconds timeout) {
  Attempt attempt;
  Poco::Net::HTTPClientSession session(host, port);
  session.setTimeout(ToTimespan(std::min(timeout, ArbiterClient::kMaxConnectTimeout)), ToTimespan(timeout),
                     ToTimespan(timeout));
  session.setKeepAlive(false);
  Poco::Net::HTTPRequest request(std::string(method), path, Poco::Net::HTTPMessage::HTTP_1_1);
  request.set("Accept", "application/json");
  request.set("User-Agent", std::string("batonctl/") + BATON_VERSION);
  if (!token.empty()) request.set("Authorization", "Bearer " + token);
  if (body) {
    request.setContentType("application/json");
    request.setContentLength(static_cast<std::streamsize>(body->size()));
  } else if (method != "GET") {
    request.setContentLength(0);
  }

  try {
    std::ostream& out = session.sendRequest(request);
    if (body) out << *body;
    out.flush();
    if (!out.good()) {
      attempt.error = "sending the request failed";
      return attempt;
    }
  } catch (const Poco::TimeoutException& e) {
    attempt.timed_out = true;
    attempt.error = "connect timed out (" + Describe(e) + ")";
    return attempt;
  } catch (const Poco::Exception& e) {
    attempt.error = Describe(e);
    return attempt;
  }

  attempt.outcome = Attempt::Outcome::kSentNoAnswer;
  std::string text;
  try {
    Poco::Net::HTTPResponse response;
    std::istream& in = session.receiveResponse(response);
    Poco::StreamCopier::copyToString(in, text);
    // Stream reads swallow socket errors; the session keeps them.
    if (const Poco::Exception* e = session.networkException()) e->rethrow();
    attempt.answer.http_status = static_cast<int>(response.getStatus());
  } catch (const Poco::TimeoutException&) {
    attempt.timed_out = true;
    attempt.error = "no answer within " + std::to_string(timeout.count()) + " ms";
    return attempt;
  } catch (const Poco::Exception& e) {
    attempt.error = Describe(e);
    return attempt;
  }
  attempt.outcome = Attempt::Outcome::kAnswered;
  if (!text.empty()) {
    attempt.answer.body = nlohmann::json::parse(text, nullptr, /*allow_exceptions=*/false);
    if (attempt.answer.body.is_discarded()) attempt.answer.body = text;
  }
  return attempt;
}

}  // namespace

Result<std::pair<std::string, uint16_t>> ParseHostPort(std::string_view address) {
  auto bad = [&](const std::string& why) {
    return Status::InvalidArgument("arbiter address '" + std::string(address) + "': " + why);
  };
  const size_t colon = address.rfind(':');
  if (colon == std::string_view::npos) return bad("expected host:port");
  std::string host(address.substr(0, colon));
  const std::string port_text(address.substr(colon + 1));
  if (host.size() >= 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  } else if (host.find_first_of("[]:/") != std::string::npos) {
    return bad("expected host:port (IPv6 addresses in brackets, as [::1]:7790; no scheme)");
  }
  if (host.empty()) return bad("the host is empty");
  if (port_text.empty() || port_text.size() > 5 || port_text.find_first_not_of("0123456789") != std::string::npos ||
      std::stoi(port_text) == 0 || std::stoi(port_text) > 65535) {
    return bad("port '" + port_text + "' is not a number in 1..65535");
  }
  return std::pair<std::string, uint16_t>(host, static_cast<uint16_t>(std::stoi(port_text)));
}

ArbiterClient::ArbiterClient(std::vector<std::string> addresses, std::string token, std::chrono::milliseconds timeout)
    : addresses_(std::move(addresses)), token_(std::move(token)), timeout_(timeout) {}

Result<RestAnswer> ArbiterClient::Call(std::string_view method, const std::string& path_and_query,
                                       const std::optional<nlohmann::json>& body) const {
  if (addresses_.empty()) return Status::InvalidArgument("no arbiter address");
  std::vector<std::pair<std::string, uint16_t>> endpoints;
  for (const std::string& address : addresses_) {
    BATON_ASSIGN_OR_RETURN(auto endpoint, ParseHostPort(address));
    endpoints.push_back(std::move(endpoint));
  }
  std::optional<std::string> body_text;
  if (body) body_text = body->dump();

  const bool idempotent = method == "GET";
  std::string failures;
  for (size_t i = 0; i < endpoints.size(); ++i) {
    Attempt attempt =
        TryOnce(endpoints[i].first, endpoints[i].second, method, path_and_query, body_text, token_, timeout_);
    if (attempt.outcome == Attempt::Outcome::kAnswered) {
      attempt.answer.answered_by_address = addresses_[i];
      return std::move(attempt.answer);
    }
    if (attempt.outcome == Attempt::Outcome::kSentNoAnswer && !idempotent) {
      const std::string what = std::string(method) + " " + path_and_query + " sent to " + addresses_[i] + ": " +
                               attempt.error + "; it may still take effect (check `batonctl status`)";
      return attempt.timed_out ? Status::DeadlineExceeded(what) : Status::Unavailable(what);
    }
    failures += (failures.empty() ? "" : "; ") + addresses_[i] + ": " + attempt.error;
  }
  return Status::Unavailable("no arbiter reachable (" + failures + ")");
}

}  // namespace baton::tools
