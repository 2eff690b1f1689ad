"""A corpus of hostile inputs, generated (never committed as blobs): broken and malicious zips,
images in every awkward mode, malformed npz files, degenerate data sets, and a .keras model with a
Lambda layer. ``CORPUS`` lists them; each case says which message a loader must give, or that it
loads with a stated graceful outcome (``check``).
"""

from __future__ import annotations

import functools
import io
import pickle
import struct
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image

N = 12  # images in a well-formed set: above the minimum of 10


@dataclass(frozen=True)
class Case:
    """One hostile input: ``make(folder)`` returns the file's bytes (it may write side files into
    ``folder``). ``error`` is a fragment of the expected one-line message, or None when the file
    loads; then ``check(image_set)`` asserts the graceful outcome."""

    id: str
    filename: str
    make: Callable[[Path], bytes]
    error: str | None = None
    check: Callable | None = None


# --- generators -------------------------------------------------------------------------------


def noise_images(n=N, size=(16, 16), mode="L", seed=0) -> list[Image.Image]:
    """n random images of ``size`` (width, height) in Pillow ``mode``."""
    rng = np.random.default_rng(seed)
    width, height = size
    if mode == "I;16":
        return [Image.fromarray(rng.integers(0, 65536, (height, width), dtype=np.uint16)) for _ in range(n)]
    if mode == "F":
        return [Image.fromarray(rng.random((height, width), dtype=np.float32), mode="F") for _ in range(n)]
    base = [Image.fromarray(rng.integers(0, 256, (height, width, 3), dtype=np.uint8), "RGB") for _ in range(n)]
    if mode == "P":
        return [image.convert("P", palette=Image.Palette.ADAPTIVE, colors=16) for image in base]
    if mode == "RGBA":
        return [Image.fromarray(np.dstack([np.asarray(image), rng.integers(0, 256, (height, width), dtype=np.uint8)]),
                                "RGBA") for image in base]
    return [image.convert(mode) for image in base]


def encode(image: Image.Image, fmt: str = "PNG", **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def zip_bytes(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def png_members(n=N, size=(16, 16), mode="L", prefix="", seed=0, fmt="PNG") -> dict[str, bytes]:
    suffix = {"PNG": "png", "JPEG": "jpg", "TIFF": "tif", "GIF": "gif"}[fmt]
    return {f"{prefix}img{i:03d}.{suffix}": encode(image, fmt)
            for i, image in enumerate(noise_images(n, size, mode, seed))}


def npz_bytes(**arrays) -> bytes:
    buffer = io.BytesIO()
    np.savez_compressed(buffer, **arrays)
    return buffer.getvalue()


def digits_uint8(n=20) -> np.ndarray:
    """n 8x8 digits as uint8 0-255, shape (n, 8, 8)."""
    from core.data import load_digits

    return (load_digits().images[:n, ..., 0] * 255).round().astype(np.uint8)


def raw_png(width: int, height: int) -> bytes:
    """A valid 1-bit grey PNG of width x height, all black: tiny on disk, huge once decoded."""
    def chunk(tag: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + tag + data + struct.pack(">I", zlib.crc32(tag + data) & 0xFFFFFFFF)

    row = bytes(1 + (width + 7) // 8)
    compressor = zlib.compressobj(9)
    rows_per_block = max(1, (1 << 22) // len(row))
    idat = b"".join(compressor.compress(row * min(rows_per_block, height - start))
                    for start in range(0, height, rows_per_block)) + compressor.flush()
    header = struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


@functools.cache
def deflate_bomb(name: str, zero_mib: int, head: bytes = b"") -> bytes:
    """A zip with one member ``name``: ``head`` then ``zero_mib`` MiB of zeros, honestly deflated
    (about 1 KiB per MiB) and with its true size and CRC in the headers."""
    block_mib = 16
    first = zlib.compressobj(9, zlib.DEFLATED, -15)
    data = first.compress(head) + first.flush(zlib.Z_FULL_FLUSH)
    zeros = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = zeros.compress(bytes(block_mib << 20)) + zeros.flush(zlib.Z_FULL_FLUSH)
    data += block * (zero_mib // block_mib) + zlib.compressobj(9, zlib.DEFLATED, -15).flush()
    size = len(head) + (zero_mib // block_mib) * (block_mib << 20)
    crc, chunk = zlib.crc32(head), bytes(1 << 24)
    for _ in range(zero_mib // block_mib):
        crc = zlib.crc32(chunk, crc)
    encoded = name.encode()
    local = struct.pack("<4sHHHHHIIIHH", b"PK\x03\x04", 20, 0, 8, 0, 0, crc, len(data), size, len(encoded), 0)
    central = struct.pack("<4sHHHHHHIIIHHHHHII", b"PK\x01\x02", 20, 20, 0, 8, 0, 0, crc, len(data), size,
                          len(encoded), 0, 0, 0, 0, 0, 0)
    offset = len(local) + len(encoded) + len(data)
    end = struct.pack("<4sHHHHIIH", b"PK\x05\x06", 0, 0, 1, 1, len(central) + len(encoded), offset, 0)
    return local + encoded + data + central + encoded + end


def npy_header(shape, dtype="|u1") -> bytes:
    """An .npy (version 1.0) header for an array of ``shape`` and ``dtype``, padded to 64 bytes."""
    text = f"{{'descr': '{dtype}', 'fortran_order': False, 'shape': {tuple(shape)!r}, }}"
    text += " " * (-(len(text) + 11) % 64) + "\n"
    return b"\x93NUMPY\x01\x00" + struct.pack("<H", len(text)) + text.encode("latin1")


class Touch:
    """Unpickling this creates ``path``: proof that a file was (or was not) unpickled."""

    def __init__(self, path):
        self.path = str(path)

    def __reduce__(self):
        return (Path.touch, (Path(self.path),))


MARKER = "unpickled.marker"


def pickled_npz(folder: Path) -> bytes:
    array = np.empty(N, dtype=object)
    array[:] = [Touch(folder / MARKER) for _ in range(N)]
    buffer = io.BytesIO()
    np.savez(buffer, x=array)
    return buffer.getvalue()


def truncated(data: bytes, keep: float = 0.5) -> bytes:
    return data[: int(len(data) * keep)]


def flipped_middle(data: bytes, start: float = 0.3, length: int = 64) -> bytes:
    """``data`` with ``length`` bytes inverted from ``start`` of the way in (corrupts compressed data)."""
    at = int(len(data) * start)
    return data[:at] + bytes(b ^ 0xFF for b in data[at:at + length]) + data[at + length:]


def first_zip_member_corrupted(members: dict[str, bytes]) -> bytes:
    """A zip whose first member's compressed bytes are inverted; its directory stays intact."""
    data = bytearray(zip_bytes(members))
    name_length, extra_length = struct.unpack("<HH", data[26:30])
    start = 30 + name_length + extra_length
    for i in range(start, start + 40):
        data[i] ^= 0xFF
    return bytes(data)


# --- checks for graceful outcomes ---------------------------------------------------------------


def shape_is(height, width, channels, n=N):
    def check(image_set):
        assert image_set.images.shape == (n, height, width, channels), image_set.images.shape
        assert image_set.images.dtype == np.float32
        assert image_set.images.min() >= 0.0 and image_set.images.max() <= 1.0
        assert np.isfinite(image_set.images).all()
    return check


def sixteen_bit_scaled(image_set):
    shape_is(16, 16, 1)(image_set)
    assert image_set.images.max() > 0.9  # 16-bit values scaled from 0-65535, not clipped at 255


def float_scaled(image_set):
    shape_is(16, 16, 1)(image_set)
    assert image_set.images.max() > 0.9  # float pixels in 0-1 kept as 0-1, not read as 0-255


def identical(image_set):
    shape_is(8, 8, 1, n=20)(image_set)
    assert np.ptp(image_set.images, axis=0).max() == 0


# --- the corpus ---------------------------------------------------------------------------------

GOOD = png_members()

CORPUS = [
    # zip archives
    Case("zip-truncated", "cut.zip", lambda _: truncated(zip_bytes(GOOD)), "not a readable zip"),
    Case("zip-garbage", "noise.zip", lambda _: bytes(np.random.default_rng(1).integers(0, 256, 4000, np.uint8)),
         "not a readable zip"),
    Case("zip-zero-bytes", "empty.zip", lambda _: b"", "not a readable zip"),
    Case("zip-corrupt-member", "crc.zip", lambda _: first_zip_member_corrupted(GOOD), "corrupt"),
    Case("zip-slip-dotdot", "slip.zip", lambda _: zip_bytes({**GOOD, "../../evil.png": GOOD["img000.png"]}),
         "points outside the archive"),
    Case("zip-slip-absolute", "abs.zip", lambda _: zip_bytes({**GOOD, "/tmp/evil.png": GOOD["img000.png"]}),
         "points outside the archive"),
    Case("zip-slip-windows", "win.zip", lambda _: zip_bytes({**GOOD, "..\\evil.png": GOOD["img000.png"]}),
         "points outside the archive"),
    Case("zip-slip-drive", "drive.zip", lambda _: zip_bytes({**GOOD, "C:/evil.png": GOOD["img000.png"]}),
         "points outside the archive"),
    Case("zip-bomb", "bomb.zip", lambda _: deflate_bomb("bomb.png", 1100), "the limit is 1024 MiB"),
    Case("zip-nested-only", "nested.zip", lambda _: zip_bytes({"inner.zip": zip_bytes(GOOD)}),
         "nested archives are not opened"),
    Case("zip-nested-beside-images", "nested-mixed.zip",
         lambda _: zip_bytes({**GOOD, "inner.zip": zip_bytes(GOOD)}), check=shape_is(16, 16, 1)),
    Case("zip-zero-byte-image", "hollow.zip", lambda _: zip_bytes({**GOOD, "empty.png": b""}), "is an empty file"),
    Case("zip-non-images-mixed-in", "mixed.zip",
         lambda _: zip_bytes({**GOOD, "README.txt": b"hello", "data.csv": b"a,b\n1,2\n", "run.sh": b"rm -rf /"}),
         check=shape_is(16, 16, 1)),
    Case("zip-only-non-images", "docs.zip", lambda _: zip_bytes({"a.txt": b"x", "b.csv": b"1,2"}), "contains no images"),
    Case("zip-empty-archive", "none.zip", lambda _: zip_bytes({}), "contains no images"),
    Case("zip-text-named-png", "fake.zip", lambda _: zip_bytes({**GOOD, "fake.png": b"<html>not an image</html>"}),
         "not a readable image"),
    Case("zip-truncated-png", "halfpng.zip",
         lambda _: zip_bytes({**GOOD, "img000.png": truncated(encode(noise_images(1, (64, 64))[0]), 0.6)}),
         "could not be decoded"),
    Case("zip-too-few-images", "three.zip", lambda _: zip_bytes(png_members(3)), "at least 10"),
    Case("zip-macos-junk", "mac.zip",
         lambda _: zip_bytes({**GOOD, "__MACOSX/._img000.png": b"\x00\x05\x16\x07junk", ".hidden.png": b"junk"}),
         check=shape_is(16, 16, 1)),
    # images (inside zips)
    Case("png-decompression-bomb", "pngbomb.zip", lambda _: zip_bytes({**GOOD, "bomb.png": raw_png(20000, 20000)}),
         "too large to decode safely"),
    Case("png-over-pixel-limit", "bigpng.zip", lambda _: zip_bytes({**GOOD, "big.png": raw_png(7000, 7000)}),
         "the limit is 40,000,000"),
    Case("png-lone-over-pixel-limit", "lonebig.zip", lambda _: zip_bytes({"big.png": raw_png(9000, 9000)}),
         "the limit is 40,000,000"),  # the pixel limit, not "at least 10 images"
    Case("png-rgba", "rgba.zip", lambda _: zip_bytes(png_members(mode="RGBA")), check=shape_is(16, 16, 3)),
    Case("png-palette", "palette.zip", lambda _: zip_bytes(png_members(mode="P")), check=shape_is(16, 16, 3)),
    Case("png-palette-transparent", "ptrans.zip",
         lambda _: zip_bytes({f"t{i}.png": encode(image, transparency=0)
                              for i, image in enumerate(noise_images(mode="P"))}), check=shape_is(16, 16, 3)),
    Case("png-16-bit", "sixteen.zip", lambda _: zip_bytes(png_members(mode="I;16")), check=sixteen_bit_scaled),
    Case("jpeg-cmyk", "cmyk.zip", lambda _: zip_bytes(png_members(mode="CMYK", fmt="JPEG")),
         check=shape_is(16, 16, 3)),
    Case("png-grey-alpha", "la.zip", lambda _: zip_bytes(png_members(mode="LA")), check=shape_is(16, 16, 1)),
    Case("png-1-bit", "bits.zip", lambda _: zip_bytes(png_members(mode="1")), check=shape_is(16, 16, 1)),
    Case("tiff-float", "float.zip", lambda _: zip_bytes(png_members(mode="F", fmt="TIFF")), check=float_scaled),
    Case("gif-animated", "anim.zip",
         lambda _: zip_bytes({f"a{i}.gif": encode(frames[0], "GIF", save_all=True, append_images=frames[1:])
                              for i, frames in enumerate([noise_images(3, seed=s) for s in range(N)])}),
         check=shape_is(16, 16, 3)),  # first frame; GIFs are palette images, so read as RGB
    Case("one-huge-among-small", "huge.zip",
         lambda _: zip_bytes({**GOOD, "huge.png": encode(noise_images(1, (3000, 2000))[0])}),
         check=shape_is(16, 16, 1, n=N + 1)),
    Case("mixed-sizes-and-modes", "sizes.zip",
         lambda _: zip_bytes({**png_members(7, (16, 16), "L"), **png_members(5, (24, 10), "RGB", prefix="c")}),
         check=shape_is(16, 16, 1)),
    Case("images-too-small", "tiny.zip", lambda _: zip_bytes(png_members(size=(2, 2))), "too small"),
    # npz files
    Case("npz-pickled-object-array", "pickled.npz", pickled_npz, "pickled object array"),
    Case("npy-pickled-object-array", "pickled.npy",
         lambda folder: _npy_of_objects(folder), "pickled object array"),
    Case("npz-raw-pickle", "pickle.npz", lambda folder: pickle.dumps(Touch(folder / MARKER)), "not a readable .npz"),
    Case("npz-truncated", "cut.npz", lambda _: truncated(npz_bytes(x=digits_uint8())), "corrupt or truncated"),
    Case("npz-corrupt-member", "flip.npz", lambda _: flipped_middle(npz_bytes(x=digits_uint8(200))),
         "not a readable .npz"),
    Case("npz-2d", "flat.npz", lambda _: npz_bytes(x=digits_uint8().reshape(20, 64)), "must have shape"),
    Case("npz-1d", "line.npz", lambda _: npz_bytes(x=np.arange(64, dtype=np.uint8)), "must have shape"),
    Case("npz-5d", "five.npz", lambda _: npz_bytes(x=np.zeros((20, 2, 8, 8, 1), np.uint8)), "must have shape"),
    Case("npz-nan", "nan.npz", lambda _: npz_bytes(x=np.where(np.eye(8) > 0, np.nan, 0.5)[None].repeat(20, 0)),
         "NaN or infinite"),
    Case("npz-inf", "inf.npz", lambda _: npz_bytes(x=np.full((20, 8, 8), np.inf)), "NaN or infinite"),
    Case("npz-negative", "neg.npz", lambda _: npz_bytes(x=np.linspace(-1, 1, 20 * 64).reshape(20, 8, 8)),
         "expected 0-1 or 0-255"),
    Case("npz-above-255", "big.npz", lambda _: npz_bytes(x=np.linspace(0, 1000, 20 * 64).reshape(20, 8, 8)),
         "expected 0-1 or 0-255"),
    Case("npz-label-mismatch", "labels.npz", lambda _: npz_bytes(x=digits_uint8(), y=np.arange(7)),
         "7 labels for 20 images"),
    Case("npz-fractional-labels", "flabels.npz", lambda _: npz_bytes(x=digits_uint8(), y=np.linspace(0, 1, 20)),
         "whole numbers"),
    Case("npz-empty-array", "empty.npz", lambda _: npz_bytes(x=np.zeros((0, 8, 8), np.uint8)), "empty"),
    Case("npz-strings", "text.npz", lambda _: npz_bytes(x=np.array(["a", "b"] * 10)), "must be numbers"),
    Case("npz-no-image-array", "other.npz", lambda _: npz_bytes(pixels=digits_uint8()), "no images"),
    Case("npz-forged-huge-header", "forged.npz",
         lambda _: zip_bytes({"x.npy": npy_header((10**6, 1000, 1000)) + bytes(64)}), "the limit is 1,024 MiB"),
    Case("npz-bomb", "npzbomb.npz", lambda _: deflate_bomb("x.npy", 1088, npy_header((1088 * 16, 256, 256))),
         "the limit is 1,024 MiB"),
    Case("npz-one-huge-image", "hugeimage.npz", lambda _: npz_bytes(x=np.zeros((1, 7000, 7000), np.uint8)),
         "too large"),
    Case("npz-channels-first", "chw.npz", lambda _: npz_bytes(x=np.zeros((20, 3, 8, 8), np.uint8)),
         check=shape_is(8, 8, 3, n=20)),
    Case("npz-rgba", "rgba.npz", lambda _: npz_bytes(x=np.full((20, 8, 8, 4), 200, np.uint8)),
         check=shape_is(8, 8, 3, n=20)),
    Case("text-named-npz", "script.npz", lambda _: b"#!/bin/sh\necho hi\n", "not a readable .npz"),
    # too little or degenerate data
    Case("single-image", "one.npz", lambda _: npz_bytes(x=digits_uint8(1)), "at least 10"),
    Case("nine-images", "nine.npz", lambda _: npz_bytes(x=digits_uint8(9)), "at least 10"),
    Case("all-identical", "same.npz", lambda _: npz_bytes(x=digits_uint8(1).repeat(20, 0)), check=identical),
]


def _npy_of_objects(folder: Path) -> bytes:
    array = np.empty(N, dtype=object)
    array[:] = [Touch(folder / MARKER) for _ in range(N)]
    buffer = io.BytesIO()
    np.save(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def lambda_model(folder: Path) -> Path:
    """A .keras autoencoder-shaped model with a Lambda layer that would create ``folder/MARKER``
    if its code ever ran. Saved to ``folder/evil.keras``; the marker from building it is removed."""
    import keras

    marker = folder / MARKER
    touch = eval(f"lambda x: (__import__('pathlib').Path({str(marker)!r}).touch(), x)[1]")  # noqa: S307
    inputs = keras.Input(shape=(8, 8, 1))
    encoder = keras.Model(inputs, keras.layers.Flatten()(keras.layers.Lambda(touch)(inputs)), name="encoder")
    latent = keras.Input(shape=(64,))
    decoder = keras.Model(latent, keras.layers.Reshape((8, 8, 1))(latent), name="decoder")
    images = keras.Input(shape=(8, 8, 1))
    model = keras.Model(images, decoder(encoder(images)), name="autoencoder_default")
    path = folder / "evil.keras"
    model.save(path)
    marker.unlink(missing_ok=True)
    return path
