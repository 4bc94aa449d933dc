#include "inference/gateway/tls/tls_files.h"

#include <cstdlib>
#include <fstream>

#include "core/testing/process.h"
#include "fmt/format.h"
#include "gtest/gtest.h"

namespace inference::gateway {
namespace {

// A self-signed certificate and key made with the openssl CLI.
void MakeCert(const core::testing::TempDir& dir, const std::string& name) {
  const std::string cmd = fmt::format(
      "openssl req -x509 -newkey rsa:2048 -nodes -days 1 -subj /CN=localhost -keyout {} -out {} "
      "> /dev/null 2>&1",
      dir.File(name + ".key"), dir.File(name + ".crt"));
  ASSERT_EQ(std::system(cmd.c_str()), 0) << cmd;
}

TEST(TlsFilesTest, LoadsAMatchingPairAndNamesTheBadField) {
  core::testing::TempDir dir;
  MakeCert(dir, "a");
  MakeCert(dir, "b");
  auto ok = LoadTlsFiles(dir.File("a.crt"), dir.File("a.key"));
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_NE(ok->cert_pem.find("BEGIN CERTIFICATE"), std::string::npos);
  EXPECT_NE(ok->key_pem.find("PRIVATE KEY"), std::string::npos);

  auto mismatch = LoadTlsFiles(dir.File("a.crt"), dir.File("b.key"));
  EXPECT_EQ(mismatch.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(mismatch.status().message().find("does not match"), std::string_view::npos)
      << mismatch.status();

  auto missing = LoadTlsFiles(dir.File("nope.crt"), dir.File("a.key"));
  EXPECT_NE(missing.status().message().find("tls.cert_file"), std::string_view::npos);
  EXPECT_NE(missing.status().message().find("cannot read"), std::string_view::npos);

  std::ofstream(dir.File("junk.pem")) << "not a certificate\n";
  auto junk_cert = LoadTlsFiles(dir.File("junk.pem"), dir.File("a.key"));
  EXPECT_NE(junk_cert.status().message().find("tls.cert_file"), std::string_view::npos);
  auto junk_key = LoadTlsFiles(dir.File("a.crt"), dir.File("junk.pem"));
  EXPECT_NE(junk_key.status().message().find("tls.key_file"), std::string_view::npos)
      << junk_key.status();

  auto half = LoadTlsFiles(dir.File("a.crt"), "");
  EXPECT_NE(half.status().message().find("go together"), std::string_view::npos);
}

}  // namespace
}  // namespace inference::gateway
