# One place that decides the warning flags of every project target.
# ami_set_warnings(<target>) applies them; AMI_WERROR turns them into errors.
function(ami_set_warnings target)
  set(flags -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
            -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual -Wnull-dereference
            -Wimplicit-fallthrough -Wformat=2)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12 false positives around coroutines and std::variant in -O2 builds.
    list(APPEND flags -Wno-maybe-uninitialized -Wno-dangling-pointer -Wno-array-bounds -Wno-stringop-overflow)
  endif()
  if(AMI_WERROR)
    list(APPEND flags -Werror)
  endif()
  target_compile_options(${target} PRIVATE ${flags})
endfunction()
