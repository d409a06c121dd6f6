"""``fqe-onnx report``: one self-contained HTML page to look at a scoring run (``charts`` draws
inline SVG, ``thumbnails`` embeds small images, ``slider`` the threshold slider, ``page`` puts it
together)."""
