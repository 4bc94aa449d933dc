#!/usr/bin/env bash
# Idempotent machine set-up from Debian packages only. Called by both README commands and by .ci/run.
# Skips apt entirely when every package is already installed, so repeated runs are fast.
set -euo pipefail

PACKAGES=(
  # build tools
  build-essential cmake ninja-build pkg-config git ccache clang-format
  # core libraries
  libgrpc++-dev libprotobuf-dev protobuf-compiler protobuf-compiler-grpc
  libboost1.81-dev libboost-program-options1.81-dev
  libabsl-dev libspdlog-dev libfmt-dev libyaml-cpp-dev nlohmann-json3-dev libcli11-dev
  libsimdjson-dev libssl-dev liburing-dev libnghttp2-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  # test and benchmark peers
  prometheus nginx-light wrk curl openssl procps util-linux
  # inference (issue 4)
  libtorch-dev libopencv-dnn-dev libopenblas0-openmp python3-torch python3-flask gunicorn python3-numpy
  python3-onnx
  # inventory peers (issue 3)
  redis-server redis-tools postgresql libhiredis-dev libpq-dev libpqxx-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -gt 0 ]; then
  echo "setup: installing ${#missing[@]} package(s): ${missing[*]}"
  SUDO=""
  [ "$(id -u)" -ne 0 ] && SUDO="sudo"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -q
  $SUDO apt-get install -y -q --no-install-recommends "${missing[@]}"
else
  echo "setup: all ${#PACKAGES[@]} packages present"
fi
