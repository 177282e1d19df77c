# authd_test_support: what the tests share, header-only, in tests/support/ and included as
# "support/NAME.hpp" (temp_dir.hpp, memory_store.hpp, pg_test_support.hpp). Included by
# tests/CMakeLists.txt, tests/fuzz/CMakeLists.txt and bench/CMakeLists.txt, whichever are built.
include_guard(GLOBAL)
add_library(authd_test_support INTERFACE)
target_include_directories(authd_test_support INTERFACE ${CMAKE_CURRENT_LIST_DIR}/..)
target_link_libraries(authd_test_support INTERFACE authd_core)
