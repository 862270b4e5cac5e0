# Warnings for our own targets only (generated protobuf code is exempt).
add_library(baton_warnings INTERFACE)
target_compile_options(baton_warnings INTERFACE -Wall -Wextra -Wno-unused-parameter -Wno-missing-field-initializers)
if(BATON_WERROR)
  target_compile_options(baton_warnings INTERFACE -Werror)
endif()
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  target_compile_options(baton_warnings INTERFACE -Wthread-safety)
endif()

# Sanitizer builds compile at -O1 with line tables only: enough for
# symbolized stack traces, and measured on arbiter/arbiter.cc (2 cores, gcc
# 12 / clang 14): plain -O2 -g 24 s; gcc -O2 with ASan+UBSan 97 s, -O1 43 s;
# clang -O1 with ASan+UBSan 26 s, with libFuzzer coverage too 27 s. Hence
# clang for the sanitizer build CI runs (scripts/test --asan).
set(BATON_SANITIZER_DEBUG_FLAGS -O1 -g1)
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
  set(BATON_SANITIZER_DEBUG_FLAGS -O1 -gline-tables-only)
endif()

# Third-party headers whose known defects the sanitizers would report in
# every test (cmake/sanitizer-ignorelist.txt says which and why); given to
# the sources that include them (gateway/store/CMakeLists.txt). gcc has no
# ignorelist: its -DBATON_SANITIZE=address build reports them.
set(BATON_SANITIZER_IGNORELIST "")
if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang" AND (BATON_FUZZ OR NOT BATON_SANITIZE STREQUAL ""))
  set(BATON_SANITIZER_IGNORELIST "-fsanitize-ignorelist=${PROJECT_SOURCE_DIR}/cmake/sanitizer-ignorelist.txt")
endif()

# Link only the libraries a binary uses, as Debian's gcc does by default and
# its clang does not (deploy/Containerfile installs exactly those).
add_link_options(-Wl,--as-needed)

# -DBATON_FUZZ=ON: libFuzzer coverage in every library (fuzzer-no-link) with
# ASan+UBSan, so the same build runs the test suite under the sanitizers and
# has the fuzz targets; only those link libFuzzer itself (baton_add_fuzzer).
if(BATON_FUZZ)
  if(NOT CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    message(FATAL_ERROR "BATON_FUZZ=ON needs clang for libFuzzer: -DCMAKE_C_COMPILER=clang -DCMAKE_CXX_COMPILER=clang++")
  endif()
  if(NOT BATON_SANITIZE STREQUAL "")
    message(FATAL_ERROR "BATON_FUZZ=ON brings its own sanitizers (ASan+UBSan); leave BATON_SANITIZE empty")
  endif()
  add_compile_options(-fsanitize=fuzzer-no-link,address,undefined -fno-omit-frame-pointer
                      -fno-sanitize-recover=undefined ${BATON_SANITIZER_DEBUG_FLAGS})
  add_link_options(-fsanitize=address,undefined)
endif()

if(BATON_SANITIZE STREQUAL "address")
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined
                      ${BATON_SANITIZER_DEBUG_FLAGS})
  add_link_options(-fsanitize=address,undefined)
elseif(BATON_SANITIZE STREQUAL "thread")
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer ${BATON_SANITIZER_DEBUG_FLAGS})
  if(CMAKE_CXX_COMPILER_ID STREQUAL "Clang")
    # gRPC's and Protobuf's inline code, whose hand-offs TSan cannot see (why: the file).
    add_compile_options(-fsanitize-ignorelist=${PROJECT_SOURCE_DIR}/cmake/tsan-ignorelist.txt)
  endif()
  add_link_options(-fsanitize=thread)
elseif(NOT BATON_SANITIZE STREQUAL "")
  message(FATAL_ERROR "BATON_SANITIZE must be '', 'address' or 'thread', not '${BATON_SANITIZE}'")
endif()

# baton_add_test(name SOURCES ... LIBS ... [LABELS ...] [TIMEOUT s])
function(baton_add_test name)
  cmake_parse_arguments(ARG "" "TIMEOUT" "SOURCES;LIBS;LABELS" ${ARGN})
  add_executable(${name} ${ARG_SOURCES})
  target_link_libraries(${name} PRIVATE ${ARG_LIBS} baton_test_support GTest::gtest GTest::gmock GTest::gtest_main baton_warnings)
  add_test(NAME ${name} COMMAND ${name})
  if(NOT ARG_TIMEOUT)
    set(ARG_TIMEOUT 300)
  endif()
  if(BATON_SANITIZE STREQUAL "thread")
    math(EXPR ARG_TIMEOUT "${ARG_TIMEOUT} * 4")  # TSan runs the suite several times slower
  endif()
  set_tests_properties(${name} PROPERTIES TIMEOUT ${ARG_TIMEOUT}
    ENVIRONMENT "BATON_BUILD_DIR=${CMAKE_BINARY_DIR};BATON_SOURCE_DIR=${CMAKE_SOURCE_DIR}")
  if(ARG_LABELS)
    set_tests_properties(${name} PROPERTIES LABELS "${ARG_LABELS}")
  endif()
endfunction()

# baton_add_fuzzer(name SOURCES ... LIBS ...): the libFuzzer binary fuzz_<name>
# (needs -DBATON_FUZZ=ON), part of the `baton_fuzzers` target.
function(baton_add_fuzzer name)
  cmake_parse_arguments(ARG "" "" "SOURCES;LIBS" ${ARGN})
  add_executable(fuzz_${name} ${ARG_SOURCES})
  target_link_libraries(fuzz_${name} PRIVATE ${ARG_LIBS} baton_warnings)
  target_link_options(fuzz_${name} PRIVATE -fsanitize=fuzzer)
  add_dependencies(baton_fuzzers fuzz_${name})
endfunction()
