// batonctl: client and operator CLI.
#include "tools/batonctl.h"

int main(int argc, char** argv) { return baton::tools::RunBatonctl(argc, argv); }
