# Flags shared by test code, and the child-process helpers (tests/support/process.hpp) as a library.
# Used by tests/CMakeLists.txt and by the load harness (bench/load), which also builds without tests.

# ami_set_test_flags(<target>): the project warnings, the paths tests find the build and the sources
# by (AMI_BIN_DIR, AMI_SOURCE_DIR, AMI_TEST_TMP_DIR), and -Winvalid-pch: GCC then says when it
# could not use a precompiled header (tests/CMakeLists.txt), instead of silently parsing it again.
function(ami_set_test_flags target)
  target_compile_definitions(${target} PRIVATE
    AMI_BIN_DIR="${PROJECT_BINARY_DIR}/bin"
    AMI_SOURCE_DIR="${PROJECT_SOURCE_DIR}"
    AMI_TEST_TMP_DIR="${PROJECT_BINARY_DIR}/test-tmp")
  ami_set_warnings(${target})
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    target_compile_options(${target} PRIVATE -Winvalid-pch -Wno-error=invalid-pch)
  endif()
endfunction()

# ami_test_support: static library of tests/support/process.cpp; defined once, by whichever of
# tests/ and bench/load is configured first.
function(ami_add_test_support)
  if(TARGET ami_test_support)
    return()
  endif()
  add_library(ami_test_support STATIC ${PROJECT_SOURCE_DIR}/tests/support/process.cpp)
  target_include_directories(ami_test_support PUBLIC ${PROJECT_SOURCE_DIR})
  ami_set_test_flags(ami_test_support)
endfunction()
