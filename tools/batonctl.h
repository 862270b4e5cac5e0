// batonctl: the operator and client CLI. Client verbs talk gRPC to a gateway
// (following `baton-active` to the active); `control` verbs set and read one
// gateway's role (tools/control_verbs.h); arbiter verbs arrive with the
// operator-surface issue.
//
// Exit codes: 0 success; 1 the server answered with an error (its code and
// message are printed); 2 bad usage.
#pragma once

namespace baton::tools {

int RunBatonctl(int argc, char** argv);

}  // namespace baton::tools
