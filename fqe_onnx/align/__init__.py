"""Framing faces for their model: templates (``template``), face detection and landmarks
(``detection``), the aligner (``aligner``), the per-image framing rule (``framing``) and the
``fqe-onnx align`` batch loop (``batch``)."""
