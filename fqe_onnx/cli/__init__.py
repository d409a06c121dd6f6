"""The ``fqe-onnx`` command line: a thin layer over the Python API.

This module holds the group and registers the commands; each command (or family) is a module
of this package, and what they share (options, parameter types, the error mapping) is in
``options``, which imports no command. Commands import ``options``, never this module.

Data goes to stdout or ``--output``; progress, warnings and the summary go to stderr.
Exit codes: 0 every image scored; 1 some image failed (its row is still written); 2 usage or model
error; 3 an unexpected internal error (the traceback only with ``--debug``); 130 and 143 interrupted
by SIGINT or SIGTERM (what was written is flushed and the summary printed); 141 the reader of stdout
went away (a broken pipe ends quietly).
"""

from __future__ import annotations

import click

from .. import __version__
from . import align, bundle, calibrate, contract, curate, demo, evaluate, inspect, models, report, score, serve, video
from .options import FqeGroup

__all__ = ["main"]


@click.group(cls=FqeGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="fqe-onnx")
@click.option("--debug", is_flag=True, help="Show the traceback of an unexpected error (exit status 3).")
def main(debug: bool) -> None:
    """Face image quality from the norm of a face-recognition embedding, on ONNX Runtime."""


# Each module keeps its command(s) to itself; the module names stay the package's attributes.
for _command in (
    score.score,
    inspect.inspect,
    contract.contract,
    calibrate.calibrate,
    evaluate.evaluate,
    align.align,
    demo.demo,
    report.report,
    models.models,
    bundle.bundle,
    bundle.vectors,
    curate.curate,
    serve.serve,
    video.video,
):
    main.add_command(_command)
