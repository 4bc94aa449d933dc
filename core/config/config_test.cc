#include "core/config/config.h"

#include <unistd.h>

#include <cstdio>
#include <string>

#include "absl/status/status.h"
#include "gmock/gmock.h"
#include "gtest/gtest.h"

namespace core {
namespace {

using ::testing::HasSubstr;

// The status message as std::string (absl::string_view here is not std::string_view).
std::string Message(const absl::Status& status) { return std::string(status.message()); }

ConfigNode Parse(const std::string& text) {
  absl::StatusOr<ConfigNode> root = ParseYaml(text, "stockd.yaml");
  EXPECT_TRUE(root.ok()) << root.status();
  return *std::move(root);
}

void ExpectInvalid(const absl::Status& status, const std::string& message) {
  EXPECT_EQ(status.code(), absl::StatusCode::kInvalidArgument) << status;
  EXPECT_EQ(Message(status), message);
}

constexpr char kConfig[] = R"yaml(
server:
  http:
    port: 8080
    threads: 4
  name: stockd
journal:
  fsync: batch
  dir: /var/lib/stockd
  group_commit_ratio: 0.5
  enabled: true
tags: [a, b]
models:
  - name: resnet
    max_batch: 8
  - name: bert
)yaml";

TEST(ConfigTest, ReadsTypedValuesAndNestedChildren) {
  const ConfigNode root = Parse(kConfig);
  const ConfigNode server = *root.Child("server");
  const ConfigNode http = *server.Child("http");
  EXPECT_EQ(*http.GetInt("port", 1, 1, 65535), 8080);
  EXPECT_EQ(*http.Get<int>("threads", 1), 4);
  EXPECT_EQ(*server.GetRequiredString("name"), "stockd");
  const ConfigNode journal = *root.Child("journal");
  EXPECT_EQ(*journal.GetEnum("fsync", "always", {"always", "batch", "none"}), "batch");
  EXPECT_EQ(*journal.GetRequired<std::string>("dir"), "/var/lib/stockd");
  EXPECT_DOUBLE_EQ(*journal.GetDouble("group_commit_ratio", 1, 0, 1), 0.5);
  EXPECT_TRUE(*journal.GetBool("enabled", false));
  EXPECT_EQ(*root.GetStringList("tags", {}), (std::vector<std::string>{"a", "b"}));
  const std::vector<ConfigNode> models = *root.ChildList("models");
  ASSERT_EQ(models.size(), 2u);
  EXPECT_EQ(*models[0].GetRequiredString("name"), "resnet");
  EXPECT_EQ(*models[0].Get<int64_t>("max_batch", 1), 8);
  EXPECT_EQ(*models[1].GetRequiredString("name"), "bert");
  EXPECT_EQ(*models[1].Get<int64_t>("max_batch", 1), 1);
  EXPECT_EQ(models[1].path(), "models[1]");
  EXPECT_TRUE(root.CheckNoUnknownKeys().ok()) << root.CheckNoUnknownKeys();
}

TEST(ConfigTest, DefaultsApplyToMissingKeysSectionsAndEmptyValues) {
  const ConfigNode root = Parse("server:\n  port:\n  host: ~\n");
  const ConfigNode server = *root.Child("server");
  EXPECT_EQ(*server.GetInt("port", 8080, 1, 65535), 8080);
  EXPECT_EQ(*server.GetString("host", "0.0.0.0"), "0.0.0.0");
  EXPECT_FALSE(server.Has("host"));
  const ConfigNode absent = *root.Child("metrics");  // Missing section: defaults all the way down.
  EXPECT_EQ(*(*absent.Child("deep")).GetBool("enabled", true), true);
  EXPECT_EQ(*root.GetStringList("tags", {"x"}), (std::vector<std::string>{"x"}));
  EXPECT_TRUE(root.ChildList("models")->empty());
  EXPECT_TRUE(root.CheckNoUnknownKeys().ok());
}

TEST(ConfigTest, EmptyDocumentIsAllDefaults) {
  const ConfigNode root = Parse("");
  EXPECT_EQ(*root.GetInt("workers", 3), 3);
  EXPECT_TRUE(root.CheckNoUnknownKeys().ok());
}

TEST(ConfigTest, IntegerOutOfRange) {
  const ConfigNode root = Parse("server:\n  port: 70000\n");
  ExpectInvalid((*root.Child("server")).GetInt("port", 80, 1, 65535).status(),
                "stockd.yaml: server.port: expected an integer in [1, 65535], got 70000");
}

TEST(ConfigTest, WrongTypes) {
  const ConfigNode root = Parse(
      "port: eighty\nratio: high\nflag: yes\nname: {a: 1}\ntags: x\nlist: [a, [b]]\n"
      "section: 3\nbig: 99999999999999999999\nfraction: 1.5\n");
  ExpectInvalid(root.GetInt("port", 80).status(),
                "stockd.yaml: port: expected an integer, got 'eighty'");
  ExpectInvalid(root.GetDouble("ratio", 1, 0, 1).status(),
                "stockd.yaml: ratio: expected a number in [0, 1], got 'high'");
  ExpectInvalid(root.GetBool("flag", false).status(),
                "stockd.yaml: flag: expected true or false, got 'yes'");
  ExpectInvalid(root.GetString("name", "").status(),
                "stockd.yaml: name: expected a string, got a map");
  ExpectInvalid(root.GetStringList("tags", {}).status(),
                "stockd.yaml: tags: expected a list of strings, got 'x'");
  ExpectInvalid(root.GetStringList("list", {}).status(),
                "stockd.yaml: list[1]: expected a string, got a list");
  ExpectInvalid(root.Child("section").status(), "stockd.yaml: section: expected a map, got '3'");
  ExpectInvalid(root.GetInt("big", 0).status(),
                "stockd.yaml: big: expected an integer, got 99999999999999999999");
  ExpectInvalid(root.Get<int>("fraction", 0).status(),
                "stockd.yaml: fraction: expected an integer in [-2147483648, 2147483647], got 1.5");
}

TEST(ConfigTest, EnumNamesAllowedValues) {
  const ConfigNode root = Parse("journal:\n  fsync: sometimes\n");
  ExpectInvalid(
      (*root.Child("journal")).GetEnum("fsync", "batch", {"always", "batch", "none"}).status(),
      "stockd.yaml: journal.fsync: expected one of [always, batch, none], got 'sometimes'");
}

TEST(ConfigTest, RequiredKeyMissing) {
  const ConfigNode root = Parse("server: {}\n");
  ExpectInvalid((*root.Child("server")).GetRequiredInt("port", 1, 65535).status(),
                "stockd.yaml: server.port: required key is missing");
  ExpectInvalid(root.GetRequired<std::string>("name").status(),
                "stockd.yaml: name: required key is missing");
}

TEST(ConfigTest, UnknownKeysAreReportedWithSuggestion) {
  const ConfigNode root = Parse("server:\n  htpp:\n    port: 80\n  name: x\nextra: 1\n");
  const ConfigNode server = *root.Child("server");
  EXPECT_EQ(*(*server.Child("http")).GetInt("port", 8080), 8080);
  EXPECT_EQ(*server.GetString("name", ""), "x");
  ExpectInvalid(root.CheckNoUnknownKeys(),
                "stockd.yaml: server.htpp: unknown key (did you mean 'http'?); "
                "stockd.yaml: extra: unknown key");
  // Checking a subtree reports only its keys.
  ExpectInvalid(server.CheckNoUnknownKeys(),
                "stockd.yaml: server.htpp: unknown key (did you mean 'http'?)");
}

TEST(ConfigTest, UnknownKeysInsideListItems) {
  const ConfigNode root = Parse("models:\n  - name: a\n    max_bach: 4\n");
  const std::vector<ConfigNode> models = *root.ChildList("models");
  for (const ConfigNode& model : models) {
    ASSERT_TRUE(model.GetRequiredString("name").ok());
    ASSERT_TRUE(model.GetInt("max_batch", 1).ok());
  }
  ExpectInvalid(root.CheckNoUnknownKeys(),
                "stockd.yaml: models[0].max_bach: unknown key (did you mean 'max_batch'?)");
}

TEST(ConfigTest, SyntaxErrorNamesLineAndColumn) {
  const absl::StatusOr<ConfigNode> root =
      ParseYaml("server:\n  port: 80\n  hosts: [a, b\nother: 1\n", "stockd.yaml");
  ASSERT_FALSE(root.ok());
  EXPECT_EQ(root.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_THAT(Message(root.status()),
              ::testing::MatchesRegex("stockd\\.yaml: line [34], column [0-9]+: invalid "
                                      "YAML: .+"));
}

TEST(ConfigTest, BadIndentationIsASyntaxError) {
  const absl::StatusOr<ConfigNode> root = ParseYaml("a:\n  b: 1\n c: 2\n", "x.yaml");
  ASSERT_FALSE(root.ok());
  EXPECT_THAT(Message(root.status()), HasSubstr("x.yaml: line 3, column"));
}

TEST(ConfigTest, DuplicateKeysAreRejected) {
  const absl::StatusOr<ConfigNode> root = ParseYaml("server:\n  port: 1\n  port: 2\n", "s.yaml");
  ExpectInvalid(root.status(), "s.yaml: server.port: duplicate key (lines 2 and 3)");
}

TEST(ConfigTest, TopLevelMustBeAMap) {
  ExpectInvalid(ParseYaml("- a\n- b\n", "s.yaml").status(),
                "s.yaml: expected a map of settings at the top level, got a list");
}

TEST(ConfigTest, AliasBombIsBounded) {
  // Eight levels of ten aliases each: 10^8 nodes once expanded.
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (char level = '1'; level <= '8'; ++level) {
    const char previous = static_cast<char>(level - 1);
    text.append("a").push_back(level);
    text.append(": &a").push_back(level);
    text.append(" [");
    for (int j = 0; j < 10; ++j) text.append(j == 0 ? "*a" : ", *a").push_back(previous);
    text.append("]\n");
  }
  const absl::StatusOr<ConfigNode> root = ParseYaml(text, "bomb.yaml");
  ASSERT_FALSE(root.ok());
  EXPECT_THAT(Message(root.status()), HasSubstr("bomb.yaml: more than 1000000 nodes"));
}

TEST(ConfigTest, LoadsFileAndReportsMissingFile) {
  const absl::StatusOr<ConfigNode> missing = LoadYamlFile("/nonexistent/dir/stockd.yaml");
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kNotFound);
  EXPECT_EQ(Message(missing.status()),
            "/nonexistent/dir/stockd.yaml: cannot open: No such file or directory");

  char path[] = "/tmp/core_config_test_XXXXXX";
  const int fd = mkstemp(path);
  ASSERT_GE(fd, 0);
  const std::string text = "server:\n  port: 0\n";
  ASSERT_EQ(write(fd, text.data(), text.size()), static_cast<ssize_t>(text.size()));
  close(fd);
  const absl::StatusOr<ConfigNode> root = LoadYamlFile(path);
  unlink(path);
  ASSERT_TRUE(root.ok()) << root.status();
  ExpectInvalid((*root->Child("server")).GetInt("port", 80, 1, 65535).status(),
                std::string(path) + ": server.port: expected an integer in [1, 65535], got 0");
}

TEST(ConfigTest, ErrorHelperForCrossFieldChecks) {
  const ConfigNode root = Parse("batch:\n  min: 8\n  max: 4\n");
  const ConfigNode batch = *root.Child("batch");
  ExpectInvalid(batch.Error("max", "must be >= batch.min (8)"),
                "stockd.yaml: batch.max: must be >= batch.min (8)");
}

}  // namespace
}  // namespace core
