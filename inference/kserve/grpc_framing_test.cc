#include "inference/kserve/grpc_framing.h"

#include <gtest/gtest.h>

#include <random>
#include <string>
#include <vector>

namespace inference {
namespace {

std::vector<std::string> ReadAll(GrpcMessageReader* reader, const std::string& wire,
                                 const std::vector<size_t>& cuts, bool* ok) {
  std::vector<std::string> got;
  size_t from = 0;
  *ok = true;
  auto feed = [&](size_t to) {
    *ok = *ok && reader->Feed(reinterpret_cast<const uint8_t*>(wire.data()) + from, to - from,
                              [&](const uint8_t* m, size_t n) {
                                got.emplace_back(reinterpret_cast<const char*>(m), n);
                              });
    from = to;
  };
  for (size_t c : cuts) feed(c);
  feed(wire.size());
  return got;
}

// Messages come out whole and in order however the bytes are cut, including inside a prefix and
// with empty messages.
TEST(GrpcMessageReaderTest, ReassemblesMessagesCutAnywhere) {
  std::mt19937 rng(7);
  for (int round = 0; round < 500; ++round) {
    std::vector<std::string> sent;
    std::string wire;
    const int count = 1 + static_cast<int>(rng() % 6);
    for (int i = 0; i < count; ++i) {
      std::string m(rng() % 40, '\0');
      for (char& c : m) c = static_cast<char>(rng());
      AppendGrpcMessage(m, &wire);
      sent.push_back(m);
    }
    std::vector<size_t> cuts;
    for (size_t at = 0; at < wire.size(); at += 1 + rng() % 9) cuts.push_back(at);
    GrpcMessageReader reader(1 << 10);
    bool ok = false;
    EXPECT_EQ(ReadAll(&reader, wire, cuts, &ok), sent) << "round " << round;
    EXPECT_TRUE(ok);
    EXPECT_EQ(reader.pending(), 0u);
  }
}

TEST(GrpcMessageReaderTest, HoldsAnUnfinishedMessageBack) {
  std::string wire;
  AppendGrpcMessage("abc", &wire);
  AppendGrpcMessage("defgh", &wire);
  GrpcMessageReader reader(1 << 10);
  bool ok = false;
  const std::string cut = wire.substr(0, wire.size() - 2);
  EXPECT_EQ(ReadAll(&reader, cut, {}, &ok), std::vector<std::string>{"abc"});
  EXPECT_TRUE(ok);
  EXPECT_EQ(reader.pending(), 8u);  // prefix + 3 of the 5 bytes
}

TEST(GrpcMessageReaderTest, RefusesCompressedAndOversizedMessages) {
  std::string compressed;
  AppendGrpcMessage("abc", &compressed);
  compressed[0] = 1;
  GrpcMessageReader a(1 << 10);
  bool ok = true;
  EXPECT_TRUE(ReadAll(&a, compressed, {}, &ok).empty());
  EXPECT_FALSE(ok);
  EXPECT_EQ(a.error(), GrpcMessageReader::Error::kCompressed);

  std::string big;
  AppendGrpcMessage(std::string(100, 'x'), &big);
  GrpcMessageReader b(99);
  EXPECT_TRUE(ReadAll(&b, big, {3}, &ok).empty());
  EXPECT_FALSE(ok);
  EXPECT_EQ(b.error(), GrpcMessageReader::Error::kTooLong);
}

// The body hands out framed messages in pieces of any size, reports an open body with nothing
// waiting as empty (defer), and ends only once closed and drained.
TEST(GrpcRequestBodyTest, ReadsFramedMessagesThenEndsAfterClose) {
  GrpcRequestBody body;
  uint8_t buf[4];
  size_t n = 99;
  EXPECT_EQ(body.ReadInto(buf, sizeof(buf), &n), GrpcRequestBody::Read::kEmpty);
  EXPECT_EQ(n, 0u);
  body.Append("abc");
  body.Append("");
  std::string want;
  AppendGrpcMessage("abc", &want);
  AppendGrpcMessage("", &want);
  std::string got;
  GrpcRequestBody::Read r;
  while ((r = body.ReadInto(buf, sizeof(buf), &n)) == GrpcRequestBody::Read::kData && n > 0) {
    got.append(reinterpret_cast<const char*>(buf), n);
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(r, GrpcRequestBody::Read::kEmpty);  // drained, still open
  body.Append("xyz");
  body.Close();
  EXPECT_TRUE(body.closed());
  got.clear();
  while ((r = body.ReadInto(buf, sizeof(buf), &n)) == GrpcRequestBody::Read::kData) {
    got.append(reinterpret_cast<const char*>(buf), n);
  }
  got.append(reinterpret_cast<const char*>(buf), n);  // the kEnd read's bytes
  want.clear();
  AppendGrpcMessage("xyz", &want);
  EXPECT_EQ(got, want);
  EXPECT_EQ(r, GrpcRequestBody::Read::kEnd);
  EXPECT_EQ(body.ReadInto(buf, sizeof(buf), &n), GrpcRequestBody::Read::kEnd);  // stays ended
  EXPECT_EQ(n, 0u);
}

}  // namespace
}  // namespace inference
