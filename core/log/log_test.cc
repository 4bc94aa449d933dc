#include "core/log/log.h"

#include <memory>
#include <sstream>
#include <string>

#include "absl/status/status.h"
#include "core/log/request_id.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"
#include "spdlog/sinks/ostream_sink.h"
#include "spdlog/spdlog.h"

namespace core::log {
namespace {

using ::testing::HasSubstr;
using ::testing::MatchesRegex;
using ::testing::Not;

TEST(ParseLevelTest, AcceptsEveryDocumentedLevel) {
  EXPECT_EQ(*ParseLevel("trace"), spdlog::level::trace);
  EXPECT_EQ(*ParseLevel("debug"), spdlog::level::debug);
  EXPECT_EQ(*ParseLevel("info"), spdlog::level::info);
  EXPECT_EQ(*ParseLevel("warn"), spdlog::level::warn);
  EXPECT_EQ(*ParseLevel("error"), spdlog::level::err);
}

TEST(ParseLevelTest, RejectsOtherSpellings) {
  for (const char* bad : {"", "INFO", "warning", "err", "critical", "verbose"}) {
    const auto level = ParseLevel(bad);
    ASSERT_FALSE(level.ok()) << bad;
    EXPECT_EQ(level.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_THAT(std::string(level.status().message()),
                HasSubstr("expected one of [trace, debug, info, warn, error]"));
  }
}

// Installs a default logger writing into `out`; restores a plain default logger afterwards so other
// tests never write into a destroyed stream.
class LogTest : public ::testing::Test {
 protected:
  void TearDown() override { ASSERT_TRUE(Init({.level = "info"}).ok()); }

  void InitWith(std::string level, bool json) {
    auto sink = std::make_shared<spdlog::sinks::ostream_sink_mt>(out_);
    ASSERT_TRUE(Init({.level = std::move(level), .json = json, .sinks = {sink}}).ok());
  }

  std::ostringstream out_;
};

TEST_F(LogTest, InitRejectsInvalidLevelAndKeepsLogger) {
  InitWith("info", false);
  const absl::Status status = Init({.level = "loud"});
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument);
  spdlog::info("still here");
  EXPECT_THAT(out_.str(), HasSubstr("still here"));
}

TEST_F(LogTest, LevelFiltersLines) {
  InitWith("warn", false);
  spdlog::info("quiet");
  spdlog::warn("loud");
  EXPECT_THAT(out_.str(), Not(HasSubstr("quiet")));
  EXPECT_THAT(out_.str(), HasSubstr("loud"));
}

TEST_F(LogTest, TextLineWithoutRequestIdHasNoRidField) {
  InitWith("info", false);
  spdlog::info("hello {}", 42);
  EXPECT_THAT(out_.str(),
              MatchesRegex(
                  "[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{3}Z info \\[[0-9]+\\] hello 42\n"));
}

TEST_F(LogTest, TextLineIncludesCurrentRequestId) {
  InitWith("info", false);
  {
    RequestIdScope scope("abc123");
    spdlog::info("reserving");
  }
  spdlog::info("after");
  EXPECT_THAT(out_.str(), HasSubstr("] [rid=abc123] reserving\n"));
  EXPECT_THAT(out_.str(), HasSubstr("] after\n"));
  EXPECT_THAT(out_.str(), Not(HasSubstr("[rid=abc123] after")));
}

TEST_F(LogTest, JsonLineEscapesMessageAndCarriesRequestId) {
  InitWith("info", true);
  RequestIdScope scope("r-1");
  spdlog::error("bad \"sku\"\nline\\2");
  EXPECT_THAT(out_.str(),
              MatchesRegex("\\{\"ts\":\"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9:]{8}\\.[0-9]{3}Z\","
                           "\"level\":\"error\",\"thread\":[0-9]+,\"rid\":\"r-1\","
                           "\"msg\":\"bad \\\\\"sku\\\\\"\\\\nline\\\\\\\\2\"\\}\n"));
}

TEST(FormatterTest, CustomPatternWithRequestIdFlag) {
  std::ostringstream out;
  auto sink = std::make_shared<spdlog::sinks::ostream_sink_st>(out);
  sink->set_formatter(NewTextFormatter("%l|%*%v"));
  spdlog::logger logger("t", sink);
  logger.info("a");
  {
    RequestIdScope scope("x\ny\"z");  // Sanitised: a client id can never break the line.
    logger.info("b");
  }
  EXPECT_EQ(out.str(), "info|a\ninfo|[rid=x_y_z] b\n");
}

}  // namespace
}  // namespace core::log
