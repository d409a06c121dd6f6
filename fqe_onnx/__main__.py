"""``python -m fqe_onnx`` runs the command line."""

from .cli import main

main(prog_name="fqe-onnx")
