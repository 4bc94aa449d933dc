// infer-repo: writes and checks model versions of an infer-worker repository.
//
//   infer-repo add --repo R --model M [--version V] --file F [--file F2 ...] [--config config.yaml]
//       Copies the files into R/M/V (V: next version when omitted) with a MANIFEST.json holding the
//       SHA-256 of every file and of the previous version's manifest. The folder appears
//       atomically.
//   infer-repo verify --repo R --model M [--version V]
//       Verifies one version (or all) the way the worker does; exit code 1 when any is rejected.

#include <cstdio>
#include <string>
#include <vector>

#include "CLI/CLI.hpp"
#include "fmt/format.h"
#include "inference/repository/manifest.h"

int main(int argc, char** argv) {
  CLI::App app{"infer-repo: model repository tool for infer-worker"};
  app.require_subcommand(1);

  inference::AddVersionOptions add;
  CLI::App* add_cmd = app.add_subcommand("add", "add a verified model version");
  add_cmd->add_option("--repo", add.repo, "repository root")->required();
  add_cmd->add_option("--model", add.model, "model name (folder)")->required();
  add_cmd->add_option("--version", add.version, "version number (default: next)");
  add_cmd->add_option("--file", add.files, "file to include (repeatable)")->required();
  add_cmd->add_option("--config", add.config_path, "config.yaml to install for the model");

  std::string repo, model;
  int64_t version = 0;
  CLI::App* verify_cmd = app.add_subcommand("verify", "verify versions like the worker does");
  verify_cmd->add_option("--repo", repo, "repository root")->required();
  verify_cmd->add_option("--model", model, "model name")->required();
  verify_cmd->add_option("--version", version, "version (default: all)");

  CLI11_PARSE(app, argc, argv);

  if (add_cmd->parsed()) {
    auto m = inference::AddVersion(add);
    if (!m.ok()) {
      std::fprintf(stderr, "infer-repo add: %s\n", std::string(m.status().message()).c_str());
      return 1;
    }
    std::printf("%s\n", fmt::format("added {}/{} ({} file(s), parent {})", m->model, m->version,
                                    m->files.size(), m->parent_version)
                            .c_str());
    return 0;
  }
  const std::string model_dir = repo + "/" + model;
  std::vector<int64_t> versions =
      version > 0 ? std::vector<int64_t>{version} : inference::ListVersions(model_dir);
  int failures = 0;
  for (int64_t v : versions) {
    auto r = inference::VerifyVersion(fmt::format("{}/{}", model_dir, v), model, v,
                                      inference::DiskChain(model_dir));
    if (r.ok()) {
      std::printf("%s/%lld: ok\n", model.c_str(), static_cast<long long>(v));
    } else {
      ++failures;
      std::printf("%s/%lld: REJECTED: %s\n", model.c_str(), static_cast<long long>(v),
                  std::string(r.status().message()).c_str());
    }
  }
  return failures == 0 ? 0 : 1;
}
