"""The docs run as written: every Python block, and every `fqe-onnx ...` line of a shell block.

Pages are README.md, models.md and everything under docs/. A fenced block must name its language
(so no command hides in an untyped block). In a `bash` (or `sh`, `shell`) block every command line
counts; in a `console` block the lines after a `$ ` prompt do. A command line that calls
`fqe-onnx` runs, through bash, in a fresh copy of a small workspace (see ``workspace``), the lines of
one page in page order (so `report` finds the `scores.csv` that `score` wrote before it), and must
exit 0, or N where the line ends with the comment `# exit status N`. A block is left out only with
an HTML comment `<!-- not-run: REASON -->` on the line before it. The other lines of a shell block
(npm, node, curl) are not run here: the examples' own tests run them.

The counts are printed at the end of the run (tests/conftest.py): commands run, Python blocks run,
and lines marked not run, by reason. ``MIN_COMMANDS_RUN`` keeps markers from quietly taking over.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Optional

import pytest

from conftest import random_face, write_image

ROOT = Path(__file__).resolve().parents[1]
PAGES = [ROOT / "README.md", ROOT / "models.md"] + sorted((ROOT / "docs").rglob("*.md"))
SHELLS = {"bash", "sh", "shell"}
#: At least this many `fqe-onnx` lines must run (there are more; markers cannot take over).
MIN_COMMANDS_RUN = 40
#: What ran, for the summary at the end of the session (tests/conftest.py prints it).
RAN: Counter = Counter()

FENCE = re.compile(r"^(?P<indent>[ \t]*)```(?P<lang>[^\s`]*)[^\n]*\n(?P<body>.*?)^(?P=indent)```[ \t]*$", re.S | re.M)
MARKER = re.compile(r"<!--\s*not-run:\s*(?P<reason>.*?)\s*-->\s*$")
CALLS_FQE = re.compile(r"(?:^|[\s;&|(/])fqe-onnx(?:\s|$)")
EXIT = re.compile(r"#\s*exit status (\d+)\s*$")


@dataclass(frozen=True)
class Block:
    page: str
    line: int  # of the opening fence, 1-based
    lang: str
    body: str
    not_run: Optional[str]  # the marker's reason


@dataclass(frozen=True)
class Command:
    page: str
    line: int
    text: str
    not_run: Optional[str]

    @property
    def expected_exit(self) -> int:
        found = EXIT.search(self.text)
        return int(found.group(1)) if found else 0


def blocks(page: Path) -> list[Block]:
    text = page.read_text()
    found = []
    for match in FENCE.finditer(text):
        before = text[: match.start()].rstrip("\n").rsplit("\n", 1)[-1]
        marker = MARKER.search(before)
        found.append(
            Block(
                str(page.relative_to(ROOT)),
                text.count("\n", 0, match.start()) + 1,
                match.group("lang"),
                match.group("body"),
                marker.group("reason") if marker else None,
            )
        )
    return found


def command_lines(block: Block) -> list[str]:
    """The commands of a shell or console block, continuation lines (after `\\` or `|`) joined."""
    lines = [line.strip() for line in block.body.splitlines()]
    if block.lang == "console":
        lines = [line[2:] for line in lines if line.startswith("$ ")]
    commands: list[str] = []
    pending = ""
    for line in lines:
        if not pending and (not line or line.startswith("#")):
            continue
        pending = f"{pending} {line}".strip() if pending else line
        if pending.endswith("\\"):
            pending = pending[:-1].rstrip()
        elif not pending.endswith("|"):
            commands.append(pending)
            pending = ""
    if pending:
        commands.append(pending)
    return commands


ALL_BLOCKS = [block for page in PAGES for block in blocks(page)]
PYTHON = [block for block in ALL_BLOCKS if block.lang == "python"]
COMMANDS = [
    Command(block.page, block.line, text, block.not_run)
    for block in ALL_BLOCKS
    if block.lang in SHELLS | {"console"}
    for text in command_lines(block)
    if CALLS_FQE.search(text.split(" #", 1)[0])
]
TO_RUN = [c for c in COMMANDS if c.not_run is None]
BY_PAGE: dict[str, list[Command]] = {}
for _command in TO_RUN:
    BY_PAGE.setdefault(_command.page, []).append(_command)


def summary() -> str:
    """The counts, for the end of the session: what ran and what was marked, by reason."""
    marked = Counter(c.not_run for c in COMMANDS if c.not_run is not None)
    lines = [
        f"docs: {RAN['commands']} of {len(TO_RUN)} fqe-onnx command lines run, "
        f"{RAN['python']} of {len(PYTHON)} Python blocks run, "
        f"{sum(marked.values())} command lines marked not run:"
    ]
    lines += [f"  {count} x {reason}" for reason, count in sorted(marked.items())]
    return "\n".join(lines)


def test_every_block_names_its_language():
    untyped = [f"{b.page}:{b.line}" for b in ALL_BLOCKS if not b.lang]
    assert not untyped, f"fenced blocks without a language (bash, console, python, text, ...): {untyped}"


def test_markers_stand_before_command_blocks_only_and_say_why():
    for block in ALL_BLOCKS:
        if block.not_run is not None:
            assert block.lang in SHELLS | {"console"}, f"{block.page}:{block.line}: a marker on a {block.lang} block"
            assert len(block.not_run) >= 10, f"{block.page}:{block.line}: say why it is not run"
    markers = sum(len(re.findall(r"^[ \t]*<!--\s*not-run:", page.read_text(), flags=re.M)) for page in PAGES)
    assert markers == len([b for b in ALL_BLOCKS if b.not_run is not None]), (
        "a not-run marker that is not on the line just before a block"
    )


def test_enough_commands_run_and_markers_do_not_take_over():
    assert len(TO_RUN) >= MIN_COMMANDS_RUN, summary()
    assert len(TO_RUN) >= 4 * (len(COMMANDS) - len(TO_RUN)), summary()
    assert len(PYTHON) >= 3  # the README's, Getting started's and the Python API's


@pytest.fixture(scope="module")
def workspace(tmp_path_factory, default_model) -> Path:
    """What the pages' commands and Python blocks name: photos/ (one folder per person: the
    public-domain astronaut photo, its aligned crop and a blurred copy; smooth random 112x112 images,
    scored as they are, for seven others), a.jpg (the astronaut photo), b.png, crop.png (250x250),
    dataset/ (3 images), model.onnx (the default model), and what the video and measures pages make
    with their own scripts, as a reader would: clip.mp4 and samples/ (4 photos)."""
    import re
    import subprocess
    import sys

    import cv2

    from fqe_onnx.demo import astronaut_bgr, demo_face, gaussian_blur

    root = tmp_path_factory.mktemp("docs-workspace")
    photo, face = astronaut_bgr(), demo_face()
    write_image(root / "photos" / "person_a" / "1.jpg", photo)
    write_image(root / "photos" / "person_a" / "2.png", face)
    write_image(root / "photos" / "person_a" / "3.png", gaussian_blur(face, 1.5))
    for person in range(7):  # curate needs 200 non-mated comparisons: 8 folders of 3 give 252
        for i in range(3):
            write_image(
                root / "photos" / f"person_{'bcdefgh'[person]}" / f"{i + 1}.png",
                random_face(100 + 3 * person + i, (112, 112)),
            )
    for i, name in enumerate(["dataset/person_a/1.png", "dataset/person_a/2.png", "dataset/person_b/1.png"]):
        write_image(root / name, random_face(10 + i, (112, 112)))
    write_image(root / "a.jpg", photo)
    write_image(root / "b.png", random_face(20, (112, 112)))
    write_image(root / "crop.png", random_face(21, (250, 250)))
    shutil.copy(default_model, root / "model.onnx")
    video_page = (ROOT / "docs" / "guides" / "video.md").read_text()
    clip_maker = re.search(r"python - <<'EOF'\n(.*?)\nEOF\n", video_page, flags=re.S).group(1)
    subprocess.run([sys.executable, "-c", clip_maker], cwd=root, check=True, timeout=300)
    measures_page = (ROOT / "docs" / "guides" / "measures.md").read_text()
    samples_maker = re.search(r'^python -c "(.*)"$', measures_page, flags=re.M).group(1)
    (root / "samples").mkdir()
    subprocess.run([sys.executable, "-c", samples_maker], cwd=root, check=True, timeout=300)
    assert cv2.imread(str(root / "a.jpg")) is not None and (root / "clip.mp4").stat().st_size > 0
    assert len(list((root / "samples").glob("*.png"))) == 4
    return root


def fresh_copy(workspace: Path, tmp_path: Path) -> Path:
    folder = tmp_path / "work"
    shutil.copytree(workspace, folder)
    return folder


@pytest.mark.parametrize("page", sorted(BY_PAGE))
def test_the_pages_commands_run_as_written(page, workspace, tmp_path):
    folder = fresh_copy(workspace, tmp_path)
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}")
    for command in BY_PAGE[page]:
        done = subprocess.run(
            ["bash", "-c", command.text],
            cwd=folder,
            env=env,
            capture_output=True,
            text=True,
            timeout=600,
            stdin=subprocess.DEVNULL,
        )
        assert done.returncode == command.expected_exit, (
            f"{command.page}:{command.line}: `{command.text}` exited {done.returncode}, "
            f"expected {command.expected_exit}\nstdout: {done.stdout[-2000:]}\nstderr: {done.stderr[-3000:]}"
        )
        RAN["commands"] += 1


@pytest.mark.parametrize("block", PYTHON, ids=[f"{b.page}:{b.line}" for b in PYTHON])
def test_python_block_runs_as_written(block, workspace, tmp_path, monkeypatch, capsys):
    from fqe_onnx.records import COLUMNS

    monkeypatch.chdir(fresh_copy(workspace, tmp_path))
    namespace = {"__name__": "docs"}
    exec(compile(block.body, f"{block.page} python block at line {block.line}", "exec"), namespace)
    assert capsys.readouterr().out.strip()  # every block shows something
    if "df" in namespace:  # run(): the DataFrame has exactly the record's columns, in order
        assert tuple(namespace["df"].columns) == COLUMNS and len(namespace["df"]) == 3
    if "records" in namespace:
        assert [r.path for r in namespace["records"]] == ["a", "a mirrored"]
    assert 'device="cuda' not in block.body  # runs on a CPU machine as written
    RAN["python"] += 1
