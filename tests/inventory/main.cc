// Test entry point: argv[1] is the stockd binary under test.
#include <gtest/gtest.h>

#include "tests/inventory/stockd_fixture.h"

int main(int argc, char** argv) {
  ::testing::InitGoogleTest(&argc, argv);
  if (argc < 2) {
    std::fprintf(stderr, "usage: %s <path to stockd>\n", argv[0]);
    return 2;
  }
  inventory::testing::StockdPath() = argv[1];
  return RUN_ALL_TESTS();
}
