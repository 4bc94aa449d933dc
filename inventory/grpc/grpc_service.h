#pragma once
// gRPC front end of stockd (proto/inventory/v1/inventory.proto), on gRPC's callback API: a handler
// validates the request, hands a Submission to the Writer and returns at once; the sync thread
// finishes the RPC once the operation is durable. No gRPC thread ever blocks on the writer.
//
// Thread safety: GrpcServer::Start/Shutdown from one controlling thread.

#include <cstdint>
#include <memory>
#include <string>

#include "absl/status/statusor.h"
#include "inventory/service/writer.h"

namespace grpc {
class Server;
}

namespace inventory {

class GrpcService;

class GrpcServer {
 public:
  // Binds host:port (0: any free port) and starts serving. `writer` must outlive the server.
  static absl::StatusOr<std::unique_ptr<GrpcServer>> Start(const std::string& host, int port,
                                                           Writer* writer);
  ~GrpcServer();
  int port() const { return port_; }
  // Stops accepting, waits for in-flight RPCs (up to `grace_ms`), then cancels the rest.
  void Shutdown(int grace_ms = 10'000);

 private:
  GrpcServer() = default;
  std::unique_ptr<GrpcService> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace inventory
