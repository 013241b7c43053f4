# Corpus replay: every fuzz target is also built with fuzz/replay.c (a plain
# main()) and run over fuzz/corpus/<target>/ as an ordinary CTest test, so
# the corpora run in every build without clang.  Included from
# tests/CMakeLists.txt.
include(${CMAKE_SOURCE_DIR}/fuzz/targets.cmake)

foreach(t ${RV_FUZZ_TARGETS})
  add_executable(replay_${t} ${CMAKE_SOURCE_DIR}/fuzz/replay.c ${CMAKE_SOURCE_DIR}/fuzz/${t}.c)
  target_link_libraries(replay_${t} PRIVATE rvcore)
  target_compile_options(replay_${t} PRIVATE -include ${CMAKE_SOURCE_DIR}/src/core/banned.h)
  add_test(NAME fuzz/replay/${t}
    COMMAND replay_${t} ${CMAKE_SOURCE_DIR}/fuzz/corpus/${t})
  set_tests_properties(fuzz/replay/${t} PROPERTIES LABELS "unit;fuzz;asan" TIMEOUT 300)
endforeach()
