"""The whole scoring pipeline as one ONNX graph (``fqe-onnx bundle``), built torch-free with onnx.helper.

Each module builds one step as a small subgraph that mirrors one NumPy/OpenCV function of the Python
path, with the same constants (imported from the modules that path uses); ``assemble`` chains them.
"""
