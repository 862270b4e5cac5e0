// ArbiterClient: a blocking JSON client of the arbiter's operator REST API
// (docs/operator-api.md) that tries the arbiter replicas in the order given.
// Any replica answers reads and relays mutations to the leader, so the first
// one that answers settles the call, whatever its status.
//
// Thread-safe: Call() keeps no state between calls (each opens its own
// connection), so one instance may be shared.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/status.h"

namespace baton::tools {

struct RestAnswer {
  int http_status = 0;
  // The parsed body; null when empty; a JSON string holding the raw text when
  // the body is not JSON (a proxy's error page, say).
  nlohmann::json body;
  std::string answered_by_address;  // the --arbiter entry that answered
};

// "host:port" or "[v6addr]:port" -> {host, port}; INVALID_ARGUMENT naming the
// address otherwise (port 1..65535, host non-empty).
Result<std::pair<std::string, uint16_t>> ParseHostPort(std::string_view address);

class ArbiterClient {
 public:
  // `timeout` bounds each socket read and write (a switchover answers only when
  // done, so callers size it past the operation's own timeout); connecting to
  // one address takes at most min(timeout, kMaxConnectTimeout), so a
  // black-holed replica does not hold up the next one for long.
  static constexpr std::chrono::milliseconds kMaxConnectTimeout{5000};

  ArbiterClient(std::vector<std::string> addresses, std::string token, std::chrono::milliseconds timeout);

  // Sends `method path_and_query` (with `body` as JSON, and the bearer token
  // when one is set) to each address in turn until one answers over HTTP.
  // A failure to connect or to send moves on to the next address. After a
  // mutation has been sent, the first address's failure is final, because
  // repeating it elsewhere could run it twice: DEADLINE_EXCEEDED when no
  // answer came within the timeout, UNAVAILABLE when the connection broke.
  // A GET moves on in both cases. INVALID_ARGUMENT: a malformed address or
  // no address at all; UNAVAILABLE: no address answered (each one's failure
  // is named).
  Result<RestAnswer> Call(std::string_view method, const std::string& path_and_query,
                          const std::optional<nlohmann::json>& body = std::nullopt) const;

  const std::vector<std::string>& addresses() const { return addresses_; }

 private:
  const std::vector<std::string> addresses_;
  const std::string token_;
  const std::chrono::milliseconds timeout_;
};

}  // namespace baton::tools
