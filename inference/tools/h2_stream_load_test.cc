#include "inference/tools/h2_stream_load.h"

#include <gtest/gtest.h>

#include <string>

namespace inference {
namespace {

TEST(H2StreamLoadTest, ConnectionRefusedIsAnError) {
  H2StreamLoadOptions o;
  o.host = "127.0.0.1";
  o.port = 1;  // nothing listens on port 1
  o.make_request = [](int, int) { return std::string(); };
  EXPECT_FALSE(RunH2StreamLoad(o).ok());
}

}  // namespace
}  // namespace inference
