"""Q cuts from evaluate: the table, --target-fnmr and --max-discard, by hand and against --pairs-out."""

import csv
import json

import cv2
import numpy as np
import pytest
from click.testing import CliRunner

from fqe_onnx.cli import main
from fqe_onnx.errors import FqeError
from fqe_onnx.evaluation.cuts import (
    budget_images,
    change_points,
    choose_cuts,
    cut_for_target,
    cut_table,
    cut_within_budget,
    cuts_at,
    summary_points,
)

INF = float("inf")
# six images (0 failed), six mated comparisons; threshold 0.5: errors are (0,1), (1,2) and (3,4)
QUALITY = np.array([-INF, 10, 20, 20, 30, 50])
MATED_A = np.array([0, 1, 2, 3, 4, 1])
MATED_B = np.array([1, 2, 3, 4, 5, 5])
SIMILARITY = np.array([-INF, 0.3, 0.9, 0.2, 0.9, 0.8])


def table():
    return cut_table(QUALITY, MATED_A, MATED_B, SIMILARITY, 0.5)


def test_hand_computed_cut_table():
    rows = table()
    assert [r.cut for r in rows] == [10, 11, 21, 31, 51]  # the lowest score, then each score plus one
    assert [r.images_below for r in rows] == [1, 2, 4, 5, 6]  # the failed image goes at every cut
    assert [r.mated_discarded for r in rows] == [1, 3, 5, 6, 6]
    assert [r.mated_kept for r in rows] == [5, 3, 1, 0, 0]
    assert [r.fnmr for r in rows] == [pytest.approx(2 / 5), pytest.approx(1 / 3), 0.0, None, None]
    assert rows[1].images_share == pytest.approx(2 / 6) and rows[1].mated_share == pytest.approx(3 / 6)


def test_cuts_between_change_points_equal_the_change_point_before():
    inside = cuts_at([15, 20], QUALITY, MATED_A, MATED_B, SIMILARITY, 0.5)
    assert [(c.images_below, c.mated_kept, c.fnmr) for c in inside] == [(2, 3, pytest.approx(1 / 3))] * 2


def test_target_fnmr_takes_the_lowest_cut_that_reaches_it():
    rows = table()
    assert cut_for_target(rows, 0.4).cut == 10  # 2/5 = 0.4 reaches it
    assert cut_for_target(rows, 0.35).cut == 11
    assert cut_for_target(rows, 0.0).cut == 21
    worse = cut_table(np.array([1.0, 2, 3]), np.array([0, 1]), np.array([1, 2]), np.array([0.1, 0.2]), 0.5)
    assert cut_for_target(worse, 0.5) is None  # every kept comparison fails
    chosen = choose_cuts(worse, 3, target_fnmr=0.5)
    assert chosen["target_fnmr"]["cut"] is None and "no cut reaches FNMR <= 0.5" in chosen["target_fnmr"]["reason"]


def test_max_discard_takes_the_best_cut_within_the_budget():
    rows = table()
    assert budget_images(0.5, 6) == 3 and budget_images(0.05, 2010) == 100 and budget_images(3, 6) == 3
    assert cut_within_budget(rows, 2).cut == 11  # cuts 10 and 11 fit; 11 has the lower FNMR
    assert cut_within_budget(rows, 4).cut == 21
    assert cut_within_budget(rows, 0) is None  # the failed image is dropped by every cut
    chosen = choose_cuts(rows, 6, max_discard=0.34)
    assert chosen["max_discard"]["budget_images"] == 2 and chosen["max_discard"]["cut"]["cut"] == 11
    assert "target_fnmr" not in chosen
    with pytest.raises(FqeError, match="must be >= 0"):
        budget_images(-1, 6)


def test_other_scales_cut_at_their_own_values():
    q = np.array([0.5, 0.25, 0.75, -INF])
    assert change_points(q).tolist() == [0.25, 0.5, 0.75]
    assert summary_points(np.array([0.0, 50, 100])) == [10, 20, 30, 40, 50, 60, 70, 80, 90]
    assert summary_points(q) == pytest.approx(np.quantile([0.25, 0.5, 0.75], [0.1 * k for k in range(1, 10)]))
    with pytest.raises(FqeError, match="nothing to cut"):
        change_points(np.array([-INF, -INF]))


def make_people(root, people=40, per_person=8, seed=0):
    """Identity folders for ``grid_model``: each person is a 4x4 colour pattern; each image shows it
    at a random contrast with noise that grows as the contrast falls, so a low-contrast image has
    a low norm (a low Q) and matches its person worse."""
    rng = np.random.default_rng(seed)
    for person in range(people):
        pattern = rng.uniform(-100, 100, (4, 4, 3))
        for k in range(per_person):
            contrast = rng.uniform(0.15, 1.0)
            cells = 128 + pattern * contrast + rng.normal(0, 45 * (1.1 - contrast), (4, 4, 3))
            image = cv2.resize(np.clip(cells, 0, 255).astype(np.uint8), (112, 112), interpolation=cv2.INTER_NEAREST)
            path = root / f"p{person:02d}" / f"{k}.png"
            path.parent.mkdir(parents=True, exist_ok=True)
            cv2.imwrite(str(path), image)


def grid_model(path):
    """AveragePool to a 4x4 grid per channel, then a fixed random 48x512 matrix: the embedding keeps
    the pattern (with --mean 128, centred), and its norm grows with the contrast."""
    from onnx import TensorProto, helper, numpy_helper

    from tiny_models import custom_graph

    weights = np.random.default_rng(3).normal(0, 1, (48, 512)).astype(np.float32)
    nodes = [
        helper.make_node("AveragePool", ["image"], ["grid"], kernel_shape=[28, 28], strides=[28, 28]),
        helper.make_node("Flatten", ["grid"], ["flat"], axis=1),
        helper.make_node("MatMul", ["flat", "W"], ["embedding"]),
    ]
    return custom_graph(
        path,
        [helper.make_tensor_value_info("image", TensorProto.FLOAT, ["N", 3, 112, 112])],
        [helper.make_tensor_value_info("embedding", TensorProto.FLOAT, ["N", 512])],
        nodes,
        [numpy_helper.from_array(weights, "W")],
    )


@pytest.fixture(scope="module")
def evaluated(tmp_path_factory):
    root = tmp_path_factory.mktemp("cuts")
    model = grid_model(root / "m.onnx")
    make_people(root / "faces")
    (root / "faces" / "p00" / "broken.png").write_bytes(b"not an image")
    common = ["-m", str(model), "--align", "never", "--geometry", "aligned112", "--mean", "128"]
    first = CliRunner().invoke(main, ["score", str(root / "faces"), "-o", str(root / "raw.csv"), *common])
    q = np.array([float(r["q"]) for r in csv.DictReader(open(root / "raw.csv")) if r["q"]])
    low, mid, high = (float(v) for v in np.quantile(q, [0.1, 0.5, 0.9]))
    common += ["--calibration", f"x0={mid!r},w={(high - low) / 4.4!r}"]  # Q spread over 0..100
    scored = CliRunner().invoke(main, ["score", str(root / "faces"), "-o", str(root / "scores.csv"), *common])
    assert first.exit_code == scored.exit_code == 1, scored.output  # the broken file
    result = CliRunner().invoke(
        main,
        [
            "evaluate",
            str(root / "faces"),
            "-o",
            str(root / "ev"),
            "--pairs-out",
            str(root / "pairs.csv"),
            "--target-fnmr",
            "0.05",
            "--max-discard",
            "0.1",
            "--quality-csv",
            f"{root / 'scores.csv'}:Q",
            *common,
        ],
    )
    assert result.exit_code == 0, result.output
    return root, result


def test_every_cut_recomputed_from_pairs_out_gives_the_same_fnmr(evaluated):
    root, _ = evaluated
    summary = json.loads((root / "ev" / "summary.json").read_text())
    threshold = summary["fmr"]["0.001"]["threshold"]
    scores = {r["path"]: (int(r["Q"]) if r["Q"] else -INF) for r in csv.DictReader(open(root / "scores.csv"))}
    mated = [
        (scores[p["path_a"]], scores[p["path_b"]], float(p["similarity"]))
        for p in csv.DictReader(open(root / "pairs.csv"))
        if p["mated"] == "1"
    ]
    with open(root / "ev" / "cuts.csv") as handle:
        rows = [r for r in csv.DictReader(handle) if r["source"] == "Q" and r["fmr"] == "0.001"]
    assert len(rows) > 20  # Q is spread: many distinct cuts
    entry = summary["fmr"]["0.001"]["cuts"]["Q"]
    chosen = [entry["target_fnmr"]["cut"], entry["max_discard"]["cut"]]
    checked = 0
    for row in rows + [dict(c, cut=str(c["cut"]), fnmr=str(c["fnmr"])) for c in chosen]:
        cut = float(row["cut"])
        kept = [s for a, b, s in mated if a >= cut and b >= cut]
        below = sum(q < cut for q in scores.values())
        assert int(row["images_below"]) == below and int(row["mated_kept"]) == len(kept)
        if kept:
            assert float(row["fnmr"]) == sum(s < threshold for s in kept) / len(kept)
            checked += 1
    assert checked >= 20
    # the choices are what the options ask for: the lowest cut under the target, the best within 10%
    fnmr = {int(r["cut"]): float(r["fnmr"]) for r in rows if r["fnmr"]}
    target = entry["target_fnmr"]["cut"]
    assert target["fnmr"] <= 0.05 and all(f > 0.05 for c, f in fnmr.items() if c < target["cut"])
    budget = entry["max_discard"]
    assert budget["budget_images"] == int(0.1 * summary["images"])
    allowed = [float(r["fnmr"]) for r in rows if r["fnmr"] and int(r["images_below"]) <= budget["budget_images"]]
    assert budget["cut"]["images_below"] <= budget["budget_images"] and budget["cut"]["fnmr"] == min(allowed)


def test_quality_csv_sources_get_their_own_cuts_and_the_screen_shows_the_summary(evaluated):
    root, result = evaluated
    summary = json.loads((root / "ev" / "summary.json").read_text())
    cuts = summary["fmr"]["0.001"]["cuts"]
    assert set(cuts) == {"Q", "scores.csv:Q"}
    assert cuts["scores.csv:Q"]["summary"] == cuts["Q"]["summary"]  # the same Q, read back from the CSV
    assert [c["cut"] for c in cuts["Q"]["summary"]] == [10, 20, 30, 40, 50, 60, 70, 80, 90]
    out = result.stdout
    assert "cuts on Q" in out and "cuts on scores.csv:Q" in out
    target = cuts["Q"]["target_fnmr"]["cut"]
    assert f"--target-fnmr 0.05: drop Q < {target['cut']}: {target['images_below']} images" in out
    assert "--max-discard 0.1: drop Q < " in out
    assert (root / "ev" / "edc.png").is_file()


def test_the_png_plot_keeps_labels_in_the_frame_and_legends_off_the_curves(evaluated):
    """The figure edc.png is drawn from: every text inside the figure, each legend outside its axes,
    the pAUC named as normalised, and the chosen cuts marked on the Q axis."""
    import matplotlib.pyplot as plt

    from fqe_onnx.evaluation.plot import edc_figure
    from fqe_onnx.evaluation.run import Evaluation

    root, _ = evaluated
    summary = json.loads((root / "ev" / "summary.json").read_text())
    with open(root / "ev" / "curves.csv") as handle:
        curves = [(r["source"], r["fmr"], float(r["discarded"]), float(r["fnmr"])) for r in csv.DictReader(handle)]
    from fqe_onnx.evaluation.cuts import Cut

    with open(root / "ev" / "cuts.csv") as handle:
        rows = [
            (
                r["source"],
                r["fmr"],
                Cut(
                    float(r["cut"]),
                    int(r["images_below"]),
                    float(r["images_share"]),
                    int(r["mated_discarded"]),
                    float(r["mated_share"]),
                    int(r["mated_kept"]),
                    float(r["fnmr"]) if r["fnmr"] else None,
                ),
            )
            for r in csv.DictReader(handle)
        ]
    figure = edc_figure(Evaluation(summary, curves, rows))
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    frame = figure.bbox

    def inside(box):
        return frame.x0 <= box.x0 and box.x1 <= frame.x1 and frame.y0 <= box.y0 and box.y1 <= frame.y1

    for axes in figure.axes:  # what is drawn: tick labels, axis labels, title and legend
        assert inside(axes.get_tightbbox(renderer)) and inside(axes.get_legend().get_window_extent(renderer))
    edc, q_axis = figure.axes
    for axes in (edc, q_axis):
        assert not axes.get_legend().get_window_extent(renderer).overlaps(axes.get_window_extent(renderer))
    entries = [t.get_text() for t in edc.get_legend().get_texts()]
    assert len(entries) == 4 and all("normalised pAUC 0-20%" in e for e in entries)
    marks = [t.get_text() for t in q_axis.get_legend().get_texts()]
    target = summary["fmr"]["0.001"]["cuts"]["Q"]["target_fnmr"]["cut"]
    assert f"--target-fnmr 0.05 (Q): drop Q < {target['cut']}, {target['images_below']} images" in " ".join(marks)
    assert any(m.startswith("--max-discard 0.1 (Q)") for m in marks) and "Q cut" in q_axis.get_xlabel()
    plt.close(figure)


def test_without_a_supported_fmr_the_options_say_why_there_is_no_cut(tmp_path, model_path):
    from test_evaluation import make_identities

    make_identities(tmp_path / "faces")  # 240 non-mated comparisons: no FMR can be evaluated
    args = ["evaluate", str(tmp_path / "faces"), "-m", str(model_path), "--align", "never", "-o", str(tmp_path / "ev")]
    result = CliRunner().invoke(main, args + ["--target-fnmr", "0.01"])
    assert result.exit_code == 0 and "no Q cuts: no FMR could be evaluated" in result.stdout
    assert "cuts" not in json.loads((tmp_path / "ev" / "summary.json").read_text())["fmr"]["0.001"]
    assert (tmp_path / "ev" / "cuts.csv").read_text() == ",".join(
        ["source", "fmr", "cut", "images_below", "images_share", "mated_discarded", "mated_share", "mated_kept", "fnmr"]
    ) + "\n"
    plain = CliRunner().invoke(main, args)
    assert plain.exit_code == 0 and "no Q cuts" not in plain.stdout
