"""Evaluating quality against recognition: comparison pairs (``pairs``), the Error-versus-Discard
Characteristic (``edc``), the utility calibration (``utility``), and the ``evaluate`` run (``run``)."""
