"""Evaluating quality against recognition: comparison pairs (``pairs``), the Error-versus-Discard
Characteristic (``edc``), the Q cuts that answer "which Q should I keep?" (``cuts``), the utility
calibration (``utility``), and the ``evaluate`` run (``run``)."""
