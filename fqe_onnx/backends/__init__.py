"""Runtimes besides ONNX Runtime's own providers, each behind the small session interface the rest
of the package uses (``get_inputs``, ``get_outputs``, ``get_modelmeta``, ``get_providers``, ``run``)."""
