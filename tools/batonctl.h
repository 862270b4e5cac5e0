// batonctl: the operator and client CLI. Client verbs talk gRPC to a gateway
// (following `baton-active` to the active); `control` verbs set and read one
// gateway's role (tools/control_verbs.h); operator verbs (status, switchover,
// failover, maintenance, config, events) call the arbiter's REST API
// (tools/operator_verbs.h, docs/batonctl.md).
//
// Exit codes: 0 success; 1 the server refused (its code and message are
// printed); 2 bad usage; arbiter verbs also 3 no arbiter reachable or 503,
// 4 timeout (504), 5 conflict (409), 6 unauthorized (401).
//
// Writes to std::cout and std::cerr; reads the environment. One call at a time.
#pragma once

namespace baton::tools {

int RunBatonctl(int argc, char** argv);

}  // namespace baton::tools
