# Declares a component (a library) and its unit test together, one call each:
#
#   component(NAME core_http
#             SRCS server.cc router.cc
#             DEPS core_status Boost::headers
#             TESTS server_test.cc router_test.cc
#             TEST_DEPS core_testing
#             LABELS concurrent)
#
# The library gets our warning set (-Wall -Wextra -Werror); third-party headers come from system include
# directories (-isystem) so their warnings never fail our build. Tests are GoogleTest binaries registered with
# CTest; LABELS lets CI pick subsets (e.g. "concurrent" for the ThreadSanitizer run).

set(PROJECT_WARNINGS -Wall -Wextra -Werror -Wno-unused-parameter -Wno-missing-field-initializers)
if(SANITIZE)
  # GCC's flow analysis gives false maybe-uninitialized reports on instrumented, inlined library code
  # (e.g. boost::optional inside Beast's parser); the Release build keeps the warning.
  list(APPEND PROJECT_WARNINGS -Wno-maybe-uninitialized)
endif()
if(SANITIZE STREQUAL "thread")
  # Asio uses std::atomic_thread_fence, which GCC warns TSan cannot model.
  list(APPEND PROJECT_WARNINGS -Wno-tsan)
endif()

function(project_warnings target)
  target_compile_options(${target} PRIVATE ${PROJECT_WARNINGS})
endfunction()

function(component)
  cmake_parse_arguments(C "HEADER_ONLY" "NAME" "SRCS;DEPS;TESTS;TEST_DEPS;LABELS" ${ARGN})
  if(C_SRCS)
    add_library(${C_NAME} STATIC ${C_SRCS})
    target_include_directories(${C_NAME} PUBLIC ${PROJECT_SOURCE_DIR})
    target_link_libraries(${C_NAME} PUBLIC ${C_DEPS})
    project_warnings(${C_NAME})
  else()
    add_library(${C_NAME} INTERFACE)
    target_include_directories(${C_NAME} INTERFACE ${PROJECT_SOURCE_DIR})
    target_link_libraries(${C_NAME} INTERFACE ${C_DEPS})
  endif()
  if(C_TESTS)
    add_executable(${C_NAME}_test ${C_TESTS})
    target_link_libraries(${C_NAME}_test PRIVATE ${C_NAME} ${C_TEST_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
    project_warnings(${C_NAME}_test)
    add_test(NAME ${C_NAME}_test COMMAND ${C_NAME}_test)
    set(labels unit ${C_LABELS})
    set_tests_properties(${C_NAME}_test PROPERTIES LABELS "${labels}" TIMEOUT 600)
  endif()
endfunction()

# An integration test: a GoogleTest binary that drives real processes over real sockets.
# ARGS are passed to the test (e.g. paths of the binaries under test).
function(integration_test)
  cmake_parse_arguments(T "" "NAME" "SRCS;DEPS;ARGS;LABELS;DEPENDS_ON" ${ARGN})
  add_executable(${T_NAME} ${T_SRCS})
  target_link_libraries(${T_NAME} PRIVATE ${T_DEPS} GTest::gtest GTest::gmock GTest::gtest_main)
  project_warnings(${T_NAME})
  if(T_DEPENDS_ON)
    add_dependencies(${T_NAME} ${T_DEPENDS_ON})
  endif()
  add_test(NAME ${T_NAME} COMMAND ${T_NAME} ${T_ARGS})
  set(labels integration ${T_LABELS})
  set_tests_properties(${T_NAME} PROPERTIES LABELS "${labels}" TIMEOUT 900)
endfunction()
