#include "inference/repository/manifest.h"

#include <filesystem>
#include <fstream>

#include "core/testing/process.h"
#include "gtest/gtest.h"

namespace inference {
namespace {

void Write(const std::string& path, const std::string& data) {
  std::ofstream(path, std::ios::binary | std::ios::trunc) << data;
}

class ManifestTest : public ::testing::Test {
 protected:
  std::string Model() const { return tmp_.path() + "/repo/m"; }
  Manifest Add(const std::string& content, int64_t version = 0) {
    Write(tmp_.File("model.pt"), content);
    AddVersionOptions o;
    o.repo = tmp_.path() + "/repo";
    o.model = "m";
    o.version = version;
    o.files = {tmp_.File("model.pt")};
    auto m = AddVersion(o);
    EXPECT_TRUE(m.ok()) << m.status();
    return *m;
  }
  absl::Status Verify(int64_t v) {
    return VerifyVersion(Model() + "/" + std::to_string(v), "m", v, DiskChain(Model())).status();
  }
  core::testing::TempDir tmp_;
};

TEST_F(ManifestTest, Sha256KnownAnswer) {
  EXPECT_EQ(Sha256Hex("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
}

TEST_F(ManifestTest, AddBuildsAChainThatVerifies) {
  Manifest m1 = Add("weights-1");
  Manifest m2 = Add("weights-2");
  EXPECT_EQ(m1.version, 1);
  EXPECT_EQ(m1.parent_version, 0);
  EXPECT_EQ(m2.version, 2);
  EXPECT_EQ(m2.parent_version, 1);
  EXPECT_EQ(m2.parent_manifest_sha256, *Sha256File(Model() + "/1/MANIFEST.json"));
  EXPECT_EQ(m2.files.at("model.pt").sha256, Sha256Hex("weights-2"));
  EXPECT_TRUE(Verify(1).ok()) << Verify(1);
  EXPECT_TRUE(Verify(2).ok()) << Verify(2);
  // Round trip of the serialized form.
  auto parsed = ParseManifest(SerializeManifest(m2));
  ASSERT_TRUE(parsed.ok()) << parsed.status();
  EXPECT_EQ(parsed->files.at("model.pt").bytes, 9u);
}

TEST_F(ManifestTest, MissingManifestIsNotFound) {
  std::filesystem::create_directories(Model() + "/1");
  Write(Model() + "/1/model.pt", "x");
  EXPECT_EQ(Verify(1).code(), absl::StatusCode::kNotFound);
}

TEST_F(ManifestTest, CorruptedFileIsDataLoss) {
  Add("weights-1");
  Write(Model() + "/1/model.pt", "weights-X");  // same size, other bytes
  absl::Status s = Verify(1);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(std::string(s.message()).find("sha256 mismatch"), std::string::npos) << s;
}

TEST_F(ManifestTest, TruncatedFileIsDataLoss) {
  Add("weights-1");
  Write(Model() + "/1/model.pt", "weig");
  absl::Status s = Verify(1);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(std::string(s.message()).find("incomplete copy"), std::string::npos) << s;
}

TEST_F(ManifestTest, UnlistedAndMissingFilesAreDataLoss) {
  Add("weights-1");
  Write(Model() + "/1/extra.bin", "?");
  EXPECT_EQ(Verify(1).code(), absl::StatusCode::kDataLoss);
  std::filesystem::remove(Model() + "/1/extra.bin");
  std::filesystem::remove(Model() + "/1/model.pt");
  EXPECT_EQ(Verify(1).code(), absl::StatusCode::kDataLoss);
}

TEST_F(ManifestTest, BrokenChainIsDataLoss) {
  Add("weights-1");
  Add("weights-2");
  // Rewriting version 1's manifest (even to an equivalent one) breaks version 2's link.
  std::ofstream(Model() + "/1/MANIFEST.json", std::ios::app) << "\n";
  EXPECT_TRUE(Verify(1).ok());
  absl::Status s = Verify(2);
  EXPECT_EQ(s.code(), absl::StatusCode::kDataLoss);
  EXPECT_NE(std::string(s.message()).find("chain broken"), std::string::npos) << s;
}

TEST_F(ManifestTest, GenesisClaimWithLowerVersionsIsDataLoss) {
  Add("weights-1");
  Manifest rogue;
  rogue.model = "m";
  rogue.version = 2;
  rogue.files["model.pt"] = {Sha256Hex("w"), 1};
  std::filesystem::create_directories(Model() + "/2");
  Write(Model() + "/2/model.pt", "w");
  Write(Model() + "/2/MANIFEST.json", SerializeManifest(rogue));
  EXPECT_EQ(Verify(2).code(), absl::StatusCode::kDataLoss);
}

TEST_F(ManifestTest, ManifestNamingAnotherVersionIsInvalid) {
  Add("weights-1");
  std::filesystem::rename(Model() + "/1", Model() + "/7");
  EXPECT_EQ(Verify(7).code(), absl::StatusCode::kInvalidArgument);
}

TEST_F(ManifestTest, AddRefusesAnExistingVersion) {
  Add("weights-1");
  AddVersionOptions o;
  o.repo = tmp_.path() + "/repo";
  o.model = "m";
  o.version = 1;
  o.files = {tmp_.File("model.pt")};
  EXPECT_EQ(AddVersion(o).status().code(), absl::StatusCode::kAlreadyExists);
}

TEST_F(ManifestTest, MalformedManifests) {
  EXPECT_EQ(ParseManifest("{").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseManifest(R"({"format":1,"model":"m","version":1,"files":{}})").status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(
      ParseManifest(
          R"({"format":1,"model":"m","version":1,"files":{"../x":{"sha256":"00","bytes":1}}})")
          .status()
          .code(),
      absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace inference
