"""How long ``fqe-onnx --help`` takes, against the floor of any click CLI and, optionally, another tree.

Each run is a fresh interpreter, as a user's shell starts one. The rounds are interleaved (every
command once per round, in turn) and the figures are medians in milliseconds; ratios are within
this run. Wall time is what a user waits; CPU time (user + system, of the child) is the work
done, and moves less when the machine is shared. ``--against ROOT`` times a second checkout's ``fqe_onnx`` (e.g. ``git archive`` of an
older commit, unpacked) with the same interpreter and packages, so a change to the CLI's imports
can be compared with what it replaced. The editable install's import hook is taken out in both, so
each command imports the tree it names.

    python benchmarks/cli_startup.py [--rounds 30] [--against /tmp/base]
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]

STUB = """\
import sys
sys.meta_path[:] = [f for f in sys.meta_path if "editable" not in repr(f).lower()]
sys.path.insert(0, {root!r})
from fqe_onnx.cli import main
main(["--help"], prog_name="fqe-onnx")
"""
HEAVY = ("numpy", "cv2", "onnx", "onnxruntime")


def command(root: Path) -> list[str]:
    return [sys.executable, "-c", STUB.format(root=str(root))]


def heavy_imports(root: Path) -> list[str]:
    """The heavy packages that ``--help`` imports (there should be none)."""
    probe = STUB.format(root=str(root)).replace(
        'main(["--help"], prog_name="fqe-onnx")',
        f'main(["--help"], prog_name="fqe-onnx", standalone_mode=False)\nprint([m for m in {HEAVY!r} if m in sys.modules])',
    )
    out = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, check=True).stdout
    return eval(out.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=30)
    parser.add_argument("--against", type=Path, help="Root of another checkout to time the same way.")
    args = parser.parse_args()
    commands = {"python -c 'import click'": [sys.executable, "-c", "import click"], "this tree": command(ROOT)}
    if args.against is not None:
        commands["--against"] = command(args.against.resolve())
    for cmd in commands.values():  # once each first: warm the page cache and check they run
        subprocess.run(cmd, capture_output=True, check=True)
    wall: dict[str, list[float]] = {name: [] for name in commands}
    cpu: dict[str, list[float]] = {name: [] for name in commands}
    for _ in range(args.rounds):
        for name, cmd in commands.items():
            before = resource.getrusage(resource.RUSAGE_CHILDREN)
            start = time.perf_counter()
            subprocess.run(cmd, capture_output=True, check=True)
            wall[name].append((time.perf_counter() - start) * 1000)
            after = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu[name].append((after.ru_utime - before.ru_utime + after.ru_stime - before.ru_stime) * 1000)
    print(f"fqe-onnx --help, {args.rounds} interleaved rounds, median ms (min..max):")
    for what, times in (("wall", wall), ("cpu", cpu)):
        medians = {name: statistics.median(values) for name, values in times.items()}
        for name, values in times.items():
            print(f"  {what:4s} {name:28s} {medians[name]:7.1f}  ({min(values):.1f}..{max(values):.1f})")
        if "--against" in medians:
            print(f"  {what:4s} this tree / --against: {medians['this tree'] / medians['--against']:.2f}")
    print(
        f"heavy packages imported by --help: this tree {heavy_imports(ROOT)}"
        + (f", --against {heavy_imports(args.against.resolve())}" if args.against else "")
    )


if __name__ == "__main__":
    main()
