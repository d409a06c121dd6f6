"""Torch-free preparation of downloaded models: graph edits (``graph``) and the zoo's own models
(``faceplugin``): a dynamic batch axis, no denormal weights, fast PReLU, the contract written in."""
