"""The documentation site: a short README, generated parts that are current, a strict offline build,
links that resolve on a code host too, and the screenshots in the built pages."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
README = ROOT / "README.md"
#: The pages whose parts cog writes (scripts/docgen.py), and what each must hold.
COGGED = {
    "README.md": "faceplugin-mobilefacenet-quantile",
    "docs/reference/cli.md": "Usage: fqe-onnx score [OPTIONS] [ROOT]",
    "docs/reference/columns.md": "| `eye_distance` | `eye_distance` |",
    "docs/reference/errors.md": "| `no-face` |",
    "docs/reference/models.md": "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581",
}
SCREENSHOTS = {
    "report.png": "guides/evaluation.md",
    "edc.png": "guides/evaluation.md",
    "curation.png": "guides/curation.md",
    "browser.png": "guides/runtimes.md",
}
LINK = re.compile(r"\]\(([^)\s]+)\)")


def test_the_readme_fits_on_two_screens():
    lines = README.read_text().count("\n")
    assert lines <= 150, f"README.md has {lines} lines; the details belong in docs/"


def test_cog_finds_every_generated_part_current():
    cogged = sorted(str(p.relative_to(ROOT)) for p in [README, *DOCS.rglob("*.md")] if "[[[cog" in p.read_text())
    assert cogged == sorted(COGGED), "scripts/docs.sh and COGGED list the pages cog writes"
    script = (ROOT / "scripts" / "docs.sh").read_text()
    assert all(page in script for page in cogged), "scripts/docs.sh regenerates every page cog writes"
    for page, needle in COGGED.items():
        assert needle in (ROOT / page).read_text(), f"{page} lacks its generated part ({needle})"
    done = subprocess.run(
        [sys.executable, "-m", "cogapp", "--check", "-I", "scripts", *cogged], cwd=ROOT, capture_output=True, text=True
    )
    assert done.returncode == 0, (
        "a generated part of the docs is stale; regenerate it with "
        f"`cog -I scripts -r {' '.join(cogged)}`\n{done.stdout}{done.stderr}"
    )


def test_cog_check_fails_on_a_stale_page(tmp_path):
    """The check above can fail: a page whose generated part was edited by hand is refused."""
    page = tmp_path / "columns.md"
    page.write_text((DOCS / "reference" / "columns.md").read_text().replace("| `eye_distance` |", "| `eyes` |", 1))
    done = subprocess.run(
        [sys.executable, "-m", "cogapp", "--check", "-I", "scripts", str(page)],
        cwd=ROOT,
        capture_output=True,
        text=True,
    )
    assert done.returncode != 0 and "changed" in done.stdout + done.stderr


def test_readme_links_resolve_without_a_site():
    """On a code host the README's relative links open the Markdown pages: each file exists, and each
    #anchor is a heading of that page (as MkDocs' toc makes it)."""
    links = LINK.findall(README.read_text())
    assert len(links) >= 25
    for link in links:
        if link.startswith(("http://", "https://")):
            continue
        path, _, anchor = link.partition("#")
        target = ROOT / path
        assert target.exists(), f"README links to {link}: no such file"
        if anchor:
            assert anchor in anchors(target), f"README links to {link}: no such heading"


def anchors(page: Path) -> set[str]:
    """The ids MkDocs' toc extension gives the page's headings (its default slugify)."""
    import markdown
    from markdown.extensions.toc import slugify

    text = re.sub(r"^```.*?^```", "", page.read_text(), flags=re.S | re.M)  # not the comments in code blocks
    return {
        slugify(re.sub(r"<[^>]+>", "", markdown.markdown(heading)), "-")
        for heading in re.findall(r"^#+ (.+)$", text, flags=re.M)
    }


@pytest.fixture(scope="module")
def site(tmp_path_factory) -> Path:
    """`mkdocs build --strict` of this checkout (broken links and anchors are warnings, and strict
    turns warnings into a failed build; mkdocs.yml's `validation:`)."""
    out = tmp_path_factory.mktemp("site")
    env = dict(os.environ, NO_MKDOCS_2_WARNING="1")
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        env=env,
        timeout=600,
    )
    assert done.returncode == 0, f"mkdocs build --strict failed:\n{done.stdout}\n{done.stderr}"
    assert "WARNING" not in done.stderr, done.stderr
    return out


def test_the_site_builds_strictly_with_every_page(site):
    built = {str(p.relative_to(site)) for p in site.rglob("*.html")}
    for page in DOCS.rglob("*.md"):
        assert str(page.relative_to(DOCS).with_suffix(".html")) in built, f"{page} was not built"
    cli = (site / "reference" / "cli.html").read_text()
    assert "Usage: fqe-onnx curate [OPTIONS] ROOT" in cli
    models = (site / "reference" / "models.html").read_text()
    assert "Models we have tested" in models  # models.md, included
    schema = (site / "reference" / "contract.html").read_text()
    assert "fqe_onnx.preprocess" in schema and "$schema" in schema  # contract.schema.json, included
    api = (site / "reference" / "python-api.html").read_text()
    assert 'id="fqe_onnx.scorer.Scorer"' in api and "score_paths" in api  # mkdocstrings ran


def test_a_strict_build_fails_on_a_broken_anchor(tmp_path):
    """The strict build above can fail: the same configuration refuses a link to a missing heading."""
    docs = tmp_path / "docs"
    docs.mkdir()
    (docs / "index.md").write_text("# Home\n\nSee [there](other.md#nowhere).\n")
    (docs / "other.md").write_text("# Other\n")
    config = (ROOT / "mkdocs.yml").read_text()
    config = re.sub(r"\nnav:.*", "\n", config, flags=re.S)  # only these two pages
    config = re.sub(r"  - mkdocstrings:.*?(?=\nmarkdown_extensions:)", "", config, flags=re.S)
    (tmp_path / "mkdocs.yml").write_text(config)
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        env=dict(os.environ, NO_MKDOCS_2_WARNING="1"),
        timeout=300,
    )
    assert done.returncode != 0 and "#nowhere" in done.stderr


def test_the_site_fetches_nothing(site):
    """No web fonts, scripts, styles or images from elsewhere: the pages load from the site alone."""
    remote = re.compile(
        r"""<(?:script|img|iframe|source)[^>]*\ssrc=["']?(?:https?:)?//|"""
        r"""<link[^>]*\shref=["']?(?:https?:)?//[^>]*>""",
        re.I,
    )
    for page in site.rglob("*.html"):
        found = [m.group(0)[:120] for m in remote.finditer(page.read_text()) if 'rel="canonical"' not in m.group(0)]
        assert not found, f"{page.relative_to(site)} loads {found}"
    css = "\n".join(p.read_text() for p in site.rglob("*.css"))
    assert "fonts.googleapis" not in css and "@import url(http" not in css


@pytest.mark.parametrize("name, page", sorted(SCREENSHOTS.items()))
def test_the_screenshots_are_small_pictures_the_pages_show(site, name, page):
    import cv2

    image = DOCS / "images" / name
    assert image.stat().st_size < 200_000, f"{name}: keep the screenshots small (scripts/screenshots.py)"
    pixels = cv2.imread(str(image))
    assert pixels is not None and pixels.shape[1] >= 600 and pixels.std() > 10  # a real picture, not a blank
    assert (site / "images" / name).read_bytes() == image.read_bytes()
    built = (site / Path(page).with_suffix(".html")).read_text()
    assert f'src="../images/{name}"' in built
