#!/usr/bin/env bash
# Mutation testing of the runtime's core modules with mutmut 3 (pip install 'mutmut>=3.8'; the
# `mutation` extra). Too slow for CI: run it by hand, niced, one worker, one module at a time.
#
#   bash benchmarks/mutation.sh                 # every module below
#   bash benchmarks/mutation.sh decode sources  # only these
#
# Each module is mutated in its own scratch copy of the working tree ($MUTATION_DIR/<name>, by
# default /tmp/fqe-mutation), against only the fast test files that exercise it, so one module's
# run never waits on the whole suite. Per module it writes <name>.log (mutmut's output),
# <name>.survivors (the diff of every surviving mutant) and one line of summary.tsv:
# module, killed, survived, timeout, no-tests, total, score (killed + timeout over those tested).
set -euo pipefail
repo="${FQE_REPO:-$(cd "$(dirname "$0")/.." && pwd)}"  # FQE_REPO: run a copy of this script on a tree
python="${PYTHON:-$repo/.venv/bin/python}"
mutmut="$(dirname "$python")/mutmut"
out="${MUTATION_DIR:-/tmp/fqe-mutation}"
mkdir -p "$out"

# name | the file mutated | the test files run against it
modules=(
  "decode|fqe_onnx/decode.py|tests/test_decode.py tests/test_decode_edges.py tests/test_wild.py"
  "contract|fqe_onnx/contract.py|tests/test_contract_refusals.py tests/test_contract.py tests/test_geometry_edges.py tests/test_preprocess.py"
  "quality|fqe_onnx/quality.py|tests/test_quality.py tests/test_calibration.py"
  "align-template|fqe_onnx/align/template.py|tests/test_template_framing_units.py tests/test_align.py tests/test_geometry_edges.py"
  "align-framing|fqe_onnx/align/framing.py|tests/test_template_framing_units.py tests/test_framing.py tests/test_geometry_edges.py"
  "edc|fqe_onnx/evaluation/edc.py|tests/test_evaluation.py tests/test_pairs_edc.py"
  "pairs|fqe_onnx/evaluation/pairs.py|tests/test_evaluation.py tests/test_pairs_edc.py"
  "output|fqe_onnx/output.py|tests/test_output_units.py tests/test_resume_sources.py tests/test_fs.py tests/test_cli.py"
  "sources|fqe_onnx/sources.py|tests/test_resume_sources.py tests/test_scoring.py tests/test_wild.py tests/test_hostile.py"
  "curation-thresholds|fqe_onnx/curation/thresholds.py|tests/test_curation_thresholds.py"
  "curation-decisions|fqe_onnx/curation/decisions.py|tests/test_curation_decisions.py"
  "curation-search|fqe_onnx/curation/search.py|tests/test_curation_search.py"
  "curation-store|fqe_onnx/curation/store.py|tests/test_curation_store.py"
  "bundle-head|fqe_onnx/bundle/head.py|tests/test_bundle_pieces.py"
  "bundle-similarity|fqe_onnx/bundle/similarity.py|tests/test_bundle_pieces.py"
  "bundle-resize|fqe_onnx/bundle/resize.py|tests/test_bundle_pieces.py"
  "bundle-pixels|fqe_onnx/bundle/pixels.py|tests/test_bundle_pieces.py"
  "bundle-warp|fqe_onnx/bundle/warp.py|tests/test_bundle_pieces.py"
  "bundle-detector|fqe_onnx/bundle/detector.py|tests/test_bundle_pieces.py"
  "measure-catalog|fqe_onnx/measure_catalog.py|tests/test_measures.py tests/test_measures_scoring.py"
  "measures-mapping|fqe_onnx/measures/mapping.py|tests/test_measures.py"
  "measures-parts|fqe_onnx/measures/parts.py|tests/test_measures.py"
  "measures-geometry|fqe_onnx/measures/geometry.py|tests/test_measures.py"
  "measures-eyes-mouth|fqe_onnx/measures/eyes_mouth.py|tests/test_measures.py"
  "measures-pixels|fqe_onnx/measures/pixels.py|tests/test_measures.py"
  "measures-colour|fqe_onnx/measures/colour.py|tests/test_measures.py"
  "measures-sharpness|fqe_onnx/measures/sharpness.py|tests/test_measures.py"
  "measures-pose|fqe_onnx/measures/pose.py|tests/test_measures.py"
  "measures-frame|fqe_onnx/measures/frame.py|tests/test_measures.py"
  "measures-compute|fqe_onnx/measures/compute.py|tests/test_measures.py tests/test_measures_scoring.py"
  "video-shots|fqe_onnx/video/shots.py|tests/test_video_tracker.py"
  "video-tracker|fqe_onnx/video/tracker.py|tests/test_video_tracker.py"
  "video-schedule|fqe_onnx/video/schedule.py|tests/test_video_schedule.py"
  "video-source|fqe_onnx/video/source.py|tests/test_video_source.py tests/test_video_schedule.py"
  "video-writer|fqe_onnx/video/writer.py|tests/test_video_writer.py"
  "video-pipeline|fqe_onnx/video/pipeline.py|tests/test_video_pipeline.py tests/test_video.py"
)

# the modules named on the command line, in that order; all of them without names
selected=()
if [ $# -eq 0 ]; then
  selected=("${modules[@]}")
else
  for want in "$@"; do
    found=""
    for spec in "${modules[@]}"; do [ "${spec%%|*}" = "$want" ] && selected+=("$spec") && found=1; done
    [ -n "$found" ] || { echo "unknown module $want" >&2; exit 2; }
  done
fi
for spec in "${selected[@]}"; do
  IFS="|" read -r name target tests <<<"$spec"
  present=""
  for t in $tests; do [ -f "$repo/$t" ] && present="$present $t"; done
  work="$out/$name"
  rm -rf "$work"
  mkdir -p "$work"
  # the working tree as it is (tracked and new files, not ignored ones), without its setup.cfg
  (cd "$repo" && git ls-files --cached --others --exclude-standard -z | grep -zv '^setup.cfg$' \
     | xargs -0 cp --parents -t "$work" 2>/dev/null || true)
  { grep -v '^addopts' "$repo/setup.cfg"
    printf '\n[mutmut]\nsource_paths = fqe_onnx\nonly_mutate = %s\n' "$target"
    printf 'pytest_add_cli_args = -p no:cacheprovider -q -x\n'
    printf 'timeout_multiplier = 5.0\n'  # an endless loop is killed in seconds, not the default 15x
    printf 'also_copy =\n    docs\n'  # tests that run the docs' examples read the pages
    printf 'pytest_add_cli_args_test_selection =\n'
    for t in $present; do printf '    %s\n' "$t"; done
  } >"$work/setup.cfg"
  echo "== $name: $target against$present ($(date -u +%H:%M:%S))"
  started=$(date +%s)
  (cd "$work" && timeout "${MUTATION_TIMEOUT:-3600}" nice -n 19 "$mutmut" run --max-children 1) \
    >"$out/$name.log" 2>&1 || echo "   mutmut ended with status $? (see $out/$name.log)"
  (cd "$work" && "$mutmut" export-cicd-stats >/dev/null 2>&1 || true)
  # the diff of every survivor, in one process (mutmut show, once per mutant, is slow)
  (cd "$work" && "$python" - "$target" >"$out/$name.survivors" 2>&1 <<'PY'
import json, sys
from pathlib import Path
from mutmut.mutation.diff_apply import get_diff_for_mutant
target = sys.argv[1]
codes = json.load(open(f"mutants/{target}.meta"))["exit_code_by_key"]
for mutant, code in codes.items():
    if code == 0:  # the tests passed: the mutant survived
        print(f"# {mutant}: survived")
        print(get_diff_for_mutant(mutant, path=Path(target)))
PY
  ) || true
  "$python" - "$work/mutants/mutmut-cicd-stats.json" "$name" "$(( $(date +%s) - started ))" \
    >>"$out/summary.tsv" <<'PY'
import json, sys
path, name, seconds = sys.argv[1:]
try:
    s = json.load(open(path))
except OSError:
    print(f"{name}\tno result\t\t\t\t\t\t{seconds}s"); sys.exit()
tested = s["killed"] + s["survived"] + s["timeout"] + s["suspicious"] + s["segfault"]
score = 100 * (s["killed"] + s["timeout"] + s["segfault"]) / tested if tested else 0.0
print(f"{name}\t{s['killed']}\t{s['survived']}\t{s['timeout']}\t{s['no_tests']}\t{s['total']}\t{score:.1f}%\t{seconds}s")
PY
  tail -n 1 "$out/summary.tsv"
done
