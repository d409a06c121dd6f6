"""The export side of fqe-onnx: PyTorch face-embedding models to contract-carrying ONNX files.

torch is imported here and only here (never under fqe_onnx/).
"""
