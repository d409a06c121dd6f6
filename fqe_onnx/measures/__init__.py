"""ISO/IEC 29794-5 component measures beside Q, from the pixels, the boxes and the 68 landmarks.

One module per family, each a set of pure functions with OFIQ's mapping beside it and a docstring
naming the OFIQ source file it follows: ``geometry`` (single face, eye distance, head size, crops
and margins), ``pose`` (yaw, pitch, roll from a fit of ``face3d``), ``pixels`` (exposure, dynamic
range, luminance), ``colour`` (illumination uniformity, natural colour), ``sharpness``,
``eyes_mouth``. ``frame`` puts the face on OFIQ's aligned reference, ``parts`` names the landmarks,
``mapping`` holds the 0-100 mappings (the names, floors and columns are ``fqe_onnx.measure_catalog``), and ``compute``
puts one face's measures together (``measure_face``).
"""
