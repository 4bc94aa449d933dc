#include "bench/loadgen/resp_session.h"

#include <fmt/format.h>

#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/write.hpp>
#include <memory>

namespace loadgen {
namespace {

namespace asio = boost::asio;
using tcp = asio::ip::tcp;

constexpr size_t kReadChunkBytes = 64 << 10;

struct ReaderDeleter {
  void operator()(redisReader* r) const { redisReaderFree(r); }
};
struct ReplyDeleter {
  void operator()(redisReply* r) const { freeReplyObject(r); }
};

class RespSession final : public Session {
 public:
  RespSession(asio::io_context& io, CompletionSink* sink, const tcp::endpoint& endpoint,
              const RespRequestRenderer& render, const RespReplyClassifier& classify)
      : socket_(io),
        sink_(sink),
        endpoint_(endpoint),
        render_(render),
        classify_(classify),
        reader_(redisReaderCreate()),
        chunk_(kReadChunkBytes) {}

  void Connect(std::function<void(absl::Status)> done) override {
    socket_.async_connect(endpoint_, [this, done = std::move(done)](boost::system::error_code ec) {
      if (ec) return done(absl::UnavailableError(fmt::format("connect: {}", ec.message())));
      socket_.set_option(tcp::no_delay(true), ec);
      done(absl::OkStatus());
    });
  }

  void Issue(uint64_t seq) override {
    seq_ = seq;
    request_.clear();
    expected_ = render_(seq, &request_);
    received_ = 0;
    counts_ = Counts{};
    asio::async_write(socket_, asio::buffer(request_),
                      [this](boost::system::error_code ec, size_t) {
                        if (ec) return Fail();
                        ReadMore();
                      });
  }

  void Close() override {
    boost::system::error_code ec;
    socket_.close(ec);
  }

 private:
  void Fail() {
    counts_.errors += expected_ - received_;
    sink_->OnRequestDone(counts_, false);
  }

  void ReadMore() {
    socket_.async_read_some(asio::buffer(chunk_), [this](boost::system::error_code ec, size_t n) {
      if (ec) return Fail();
      if (redisReaderFeed(reader_.get(), chunk_.data(), n) != REDIS_OK) return Fail();
      while (received_ < expected_) {
        void* raw = nullptr;
        if (redisReaderGetReply(reader_.get(), &raw) != REDIS_OK) return Fail();
        if (raw == nullptr) return ReadMore();
        std::unique_ptr<redisReply, ReplyDeleter> reply(static_cast<redisReply*>(raw));
        counts_ += classify_(seq_, received_, *reply);
        ++received_;
      }
      sink_->OnRequestDone(counts_, true);
    });
  }

  tcp::socket socket_;
  CompletionSink* sink_;
  tcp::endpoint endpoint_;
  const RespRequestRenderer& render_;
  const RespReplyClassifier& classify_;
  std::unique_ptr<redisReader, ReaderDeleter> reader_;
  std::string request_;
  std::vector<char> chunk_;
  uint64_t seq_ = 0;
  int expected_ = 0;
  int received_ = 0;
  Counts counts_;
};

}  // namespace

void AppendRespCommand(std::string* out, std::span<const std::string_view> args) {
  fmt::format_to(std::back_inserter(*out), "*{}\r\n", args.size());
  for (std::string_view a : args) {
    fmt::format_to(std::back_inserter(*out), "${}\r\n", a.size());
    out->append(a);
    out->append("\r\n");
  }
}

absl::StatusOr<LoadResult> RunRespLoad(const RespLoadOptions& options,
                                       const RespRequestRenderer& render,
                                       const RespReplyClassifier& classify) {
  boost::system::error_code ec;
  const auto address = asio::ip::make_address(options.host, ec);
  if (ec) return absl::InvalidArgumentError(fmt::format("host must be an IP: {}", options.host));
  const tcp::endpoint endpoint(address, options.port);
  return RunClosedLoop(options.load, [&](asio::io_context& io, CompletionSink* sink) {
    return std::make_unique<RespSession>(io, sink, endpoint, render, classify);
  });
}

}  // namespace loadgen
