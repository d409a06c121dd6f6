"""The conformance vectors' images, made so that every CPU makes the same pixels.

OpenCV picks its SIMD code by CPU: OpenCV 5's ``warpAffine`` interpolates in float32, and an AVX-512
machine rounds a pixel in tens of thousands one level away from an AVX2 one. Vectors made with it
would differ by the machine that made them. So every step here is integer arithmetic in NumPy
(exact on any CPU), or a float64 step whose each operation is one IEEE-754 multiply or add (correctly
rounded everywhere; NumPy fuses none), or libjpeg-turbo's integer DCT (bit exact across its SIMD
paths). No OpenCV interpolation, no BLAS, no transcendental function.
"""

from __future__ import annotations

import numpy as np

#: Sub-pixel positions of the warp are rounded to 1/256 px; the bilinear weights are 8-bit each.
POSITION_BITS = 8


def similarity_matrix(points: np.ndarray, template: np.ndarray) -> np.ndarray:
    """The 2x3 least-squares similarity (rotation, scale, shift) taking ``points`` onto ``template``,
    in closed form with Python floats in a fixed order (no SVD, whose last bits depend on the LAPACK
    build). For five non-mirrored face points it is Umeyama's fit."""
    src = [(float(x), float(y)) for x, y in np.asarray(points, np.float64)]
    dst = [(float(x), float(y)) for x, y in np.asarray(template, np.float64)]
    n = len(src)
    sx, sy = sum(p[0] for p in src) / n, sum(p[1] for p in src) / n
    dx, dy = sum(p[0] for p in dst) / n, sum(p[1] for p in dst) / n
    dot = cross = norm = 0.0
    for (x, y), (u, v) in zip(src, dst):
        x, y, u, v = x - sx, y - sy, u - dx, v - dy
        dot += x * u + y * v
        cross += x * v - y * u
        norm += x * x + y * y
    a, b = dot / norm, cross / norm
    return np.array([[a, -b, dx - (a * sx - b * sy)], [b, a, dy - (b * sx + a * sy)]], np.float64)


def invert_similarity(matrix: np.ndarray) -> np.ndarray:
    """The inverse of a 2x3 similarity ``[[a, -b, tx], [b, a, ty]]``, in Python floats."""
    a, b, tx, ty = (float(v) for v in (matrix[0, 0], matrix[1, 0], matrix[0, 2], matrix[1, 2]))
    det = a * a + b * b
    ia, ib = a / det, -b / det
    return np.array([[ia, -ib, -(ia * tx - ib * ty)], [ib, ia, -(ib * tx + ia * ty)]], np.float64)


def remap_affine(image: np.ndarray, inverse: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """uint8 [H, W, C] -> uint8 [h, w, C]: output pixel (x, y) reads the image at ``inverse @ [x, y, 1]``,
    bilinear with the border replicated (cv2.warpAffine's INTER_LINEAR, BORDER_REPLICATE to within a
    level), the same on every CPU: positions in float64 single operations, rounded to 1/256 px, then
    weights and sums in integers."""
    height, width = size_hw
    xs = np.arange(width, dtype=np.float64)[None, :]
    ys = np.arange(height, dtype=np.float64)[:, None]
    steps = float(1 << POSITION_BITS)
    fixed = []
    for row in np.asarray(inverse, np.float64):
        position = row[0] * xs + (row[1] * ys + row[2])  # each product and sum one IEEE operation
        fixed.append(np.floor(position * steps + 0.5).astype(np.int64))  # a power-of-two scale: exact
    fx, fy = (v & ((1 << POSITION_BITS) - 1) for v in fixed)
    x0, y0 = (v >> POSITION_BITS for v in fixed)
    rows, cols = image.shape[:2]
    pixels = image.reshape(rows, cols, -1).astype(np.int64)

    def tap(yy: np.ndarray, xx: np.ndarray) -> np.ndarray:
        return pixels[np.clip(yy, 0, rows - 1), np.clip(xx, 0, cols - 1)]

    one = 1 << POSITION_BITS
    gx, gy, fx, fy = ((one - fx)[..., None], (one - fy)[..., None], fx[..., None], fy[..., None])
    total = (
        tap(y0, x0) * gx * gy + tap(y0, x0 + 1) * fx * gy + tap(y0 + 1, x0) * gx * fy + tap(y0 + 1, x0 + 1) * fx * fy
    )
    out = (total + (1 << (2 * POSITION_BITS - 1))) >> (2 * POSITION_BITS)
    return out.astype(np.uint8).reshape((height, width) + image.shape[2:])


def warp(image: np.ndarray, matrix: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """The image under the similarity ``matrix`` (image -> crop), as ``remap_affine`` samples it."""
    return remap_affine(image, invert_similarity(matrix), size_hw)


def _area_weights(n_in: int, n_out: int) -> np.ndarray:
    """int64 [n_out, n_in]: how much of each source pixel each output pixel covers, in units where
    a source pixel is ``n_out`` long and an output pixel ``n_in`` (so every row sums to ``n_in``)."""
    starts_out = np.arange(n_out)[:, None] * n_in
    starts_in = np.arange(n_in)[None, :] * n_out
    overlap = np.minimum(starts_out + n_in, starts_in + n_out) - np.maximum(starts_out, starts_in)
    return np.maximum(overlap, 0).astype(np.int64)


def area_resize(image: np.ndarray, size_hw: tuple[int, int]) -> np.ndarray:
    """uint8 [H, W, C] -> [h, w, C]: each output pixel the exact mean of the source area it covers
    (what cv2's INTER_AREA means when shrinking), rounded half up, in integers."""
    rows, cols = image.shape[:2]
    wy, wx = _area_weights(rows, size_hw[0]), _area_weights(cols, size_hw[1])
    pixels = image.reshape(rows, cols, -1).astype(np.int64)
    # every product and partial sum is an integer under 2^53 (at most 255 x H x W): exact in float64
    # whatever order or fused multiply-add the BLAS picks
    total = (
        np.tensordot(
            np.tensordot(wy.astype(np.float64), pixels.astype(np.float64), axes=(1, 0)),
            wx.astype(np.float64),
            axes=(1, 1),
        )
        .transpose(0, 2, 1)
        .astype(np.int64)
    )
    denominator = rows * cols
    out = ((total + denominator // 2) // denominator).astype(np.uint8)
    return out.reshape(tuple(size_hw) + image.shape[2:])


def binomial_blur(image: np.ndarray, order: int) -> np.ndarray:
    """uint8 -> uint8: separable binomial filter of even ``order`` (``order + 1`` taps, sigma
    ``sqrt(order) / 2``, close to a Gaussian), edges replicated, one rounding at the end."""
    if order % 2:
        raise ValueError(f"the binomial order must be even (a centred filter), got {order}")
    taps = np.array([1], np.int64)
    for _ in range(order):
        taps = np.convolve(taps, [1, 1])
    radius = order // 2
    pixels = image.astype(np.int64)
    for axis in (0, 1):
        padded = np.pad(pixels, [(radius, radius) if a == axis else (0, 0) for a in range(pixels.ndim)], mode="edge")
        length = pixels.shape[axis]
        summed = np.zeros_like(pixels)
        for k, weight in enumerate(taps.tolist()):
            summed += weight * np.take(padded, np.arange(k, k + length), axis=axis)
        pixels = summed
    scale = 1 << (2 * order)
    return ((pixels + scale // 2) // scale).astype(np.uint8)


def uniform_noise(image: np.ndarray, amplitude: int, seed: int = 0) -> np.ndarray:
    """uint8 -> uint8: integer noise uniform in [-amplitude, amplitude] (std amplitude / sqrt(3)),
    from NumPy's PCG64 (the same integers on every machine), clipped."""
    noise = np.random.default_rng(seed).integers(-amplitude, amplitude + 1, size=image.shape)
    return np.clip(image.astype(np.int64) + noise, 0, 255).astype(np.uint8)


def downscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Shrink by an integer ``factor`` that divides both sides (area) and scale back up (bilinear,
    half-pixel centres: the small image is read at ``(x + 0.5) / factor - 0.5``): the detail a
    low-resolution capture would have."""
    height, width = image.shape[:2]
    if height % factor or width % factor:
        raise ValueError(f"downscale by {factor} needs sides divisible by it, got {width}x{height}")
    small = area_resize(image, (height // factor, width // factor))
    step = 1.0 / factor
    return remap_affine(
        small, np.array([[step, 0.0, 0.5 * step - 0.5], [0.0, step, 0.5 * step - 0.5]]), (height, width)
    )


def gain(image: np.ndarray, numerator: int, denominator: int) -> np.ndarray:
    """uint8 -> uint8: every level times ``numerator / denominator``, rounded half up, clipped."""
    levels = (image.astype(np.int64) * numerator * 2 + denominator) // (2 * denominator)
    return np.clip(levels, 0, 255).astype(np.uint8)


def jpeg(image: np.ndarray, quality: int) -> np.ndarray:
    """Through a JPEG at ``quality`` and back (libjpeg-turbo's integer DCT: bit exact on every CPU)."""
    import cv2

    ok, encoded = cv2.imencode(".jpg", image, [cv2.IMWRITE_JPEG_QUALITY, quality])
    decoded = cv2.imdecode(encoded, cv2.IMREAD_COLOR) if ok else None
    if decoded is None:
        raise ValueError("JPEG encoding or decoding failed")
    return decoded


def occlude_from_bottom(image: np.ndarray, rows: int) -> np.ndarray:
    """The lower ``rows`` rows of the face covered with flat grey (a scarf or mask)."""
    out = image.copy()
    out[image.shape[0] - rows :] = 128
    return out


def vector_images(
    photo: np.ndarray, points: np.ndarray, template: np.ndarray, size_hw: tuple[int, int]
) -> dict[str, np.ndarray]:
    """The set, by file stem, from a BGR ``photo`` whose five face ``points`` are known: the face on
    the model's ``template`` at ``size_hw``, seven degradations of it, a frame and a photo the
    aligner must frame, a picture without a face, a flat image and a tiny one."""
    face = warp(photo, similarity_matrix(points, template), size_hw)
    height, width = face.shape[:2]
    images = {
        "face-112": face,
        "face-blur": binomial_blur(face, 24),  # sigma 2.45
        "face-noise": uniform_noise(face, 52),  # std 30
        "face-downscale": downscale(face, next(f for f in (4, 3, 2, 1) if height % f == width % f == 0)),
        "face-jpeg": jpeg(face, 5),
        "face-underexposure": gain(face, 1, 4),
        "face-overexposure": gain(face, 5, 2),
        "face-occlusion": occlude_from_bottom(face, round(height * 0.4)),
        "frame-250": area_resize(photo[0:280, 110:390], (250, 250)),
        "photo-320x240": area_resize(photo[0:384, 0:512], (240, 320)),
    }
    ys, xs = np.mgrid[0:120, 0:160]
    no_face = np.stack([xs * 3 // 2, ys * 2, (xs + ys) * 9 // 10], axis=2)
    no_face[(xs - 50) ** 2 + (ys - 60) ** 2 <= 25**2] = (30, 200, 90)
    no_face[20:91, 95:141] = (220, 40, 40)
    images["no-face"] = np.clip(no_face, 0, 255).astype(np.uint8)
    images["flat"] = np.full((48, 64, 3), (40, 120, 200), np.uint8)
    images["tiny"] = face[40:52, 40:52].copy()
    return images
