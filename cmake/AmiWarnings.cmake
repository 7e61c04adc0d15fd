# One place that decides the warning flags of every project target.
# ami_set_warnings(<target>) applies them; AMI_WERROR turns them into errors.
function(ami_set_warnings target)
  set(flags -Wall -Wextra -Wpedantic -Wshadow -Wconversion -Wsign-conversion
            -Wnon-virtual-dtor -Wold-style-cast -Woverloaded-virtual
            -Wimplicit-fallthrough -Wformat=2)
  if(CMAKE_CXX_COMPILER_ID STREQUAL "GNU")
    # GCC 12 false positives around coroutines and std::variant in -O2 builds; mismatched-new-delete
    # fires on Asio's own awaitable frame allocator (operator new/delete pair of awaitable_frame_base).
    list(APPEND flags -Wno-maybe-uninitialized -Wno-dangling-pointer -Wno-array-bounds -Wno-stringop-overflow
                      -Wno-mismatched-new-delete)
    if(AMI_UNITY_BUILD)
      # A unity batch #includes each .cpp, so GCC takes a class defined in one (a pimpl's Impl)
      # with members of that file's anonymous-namespace types for a header type: not a real issue.
      list(APPEND flags -Wno-subobject-linkage)
    endif()
  else()
    # Not for GCC 12: at -O2 it reports Asio's own scheduler (scheduler.ipp, inlined into every TU
    # that runs Asio operations) as a potential null dereference, a false positive in a system header.
    list(APPEND flags -Wnull-dereference)
  endif()
  if(AMI_WERROR)
    list(APPEND flags -Werror)
  endif()
  target_compile_options(${target} PRIVATE ${flags})
endfunction()
