"""What the autoencoder learns from when pixels are the wrong thing to learn from: photos' content
features, learned from the collection itself, and vectors a user brings, scaled.

A dense autoencoder on a photo's pixels learns its colours and brightness: clusters of "bluish",
"green" and "dark" images. :class:`PhotoFeatures` first describes each photo by what its small
patches look like (the single-layer network of Coates, Lee and Ng, "An analysis of single-layer
networks in unsupervised feature learning", 2011): 6 x 6 colour patches, each normalised for
brightness and contrast and ZCA-whitened, compared with 400 patch centroids that k-means learns from
the collection's own patches (the "triangle" activation), summed over the four quadrants of the
image; at two scales (the image, and the image averaged down by 2, whose patches cover four times
the area), each the mean of the image and its mirror image. The 3,200 numbers per photo are
square-rooted, standardised, reduced to ``n_components`` by PCA (the components keep their spread:
the first ones, which say most, weigh most) and squashed into (0, 1): what the network sees. Nothing is downloaded; everything is fitted on the images of the run.

:class:`VectorScaler` does the last step alone, for vectors a user brings (embeddings).

Both are fitted on a sample and then transform row by row (a row's result depends on that row
alone), in chunks whose temporaries stay small whatever the number of rows. Their fitted state is
plain arrays (:meth:`to_arrays`, :func:`from_arrays`), kept in a run folder's ``representation.npz``
and read back with ``allow_pickle=False``.
"""

from __future__ import annotations

import numpy as np

PATCHES_PER_IMAGE = 50  # a few hundred photos: k-means learns from this many patches of each, at most
MAX_PATCHES = 50_000  # patches transformed at a time: about 50,000 x (108 + 400) float32 of temporaries


def squash(values: np.ndarray) -> np.ndarray:
    """Standardised values -> (0, 1) by the logistic function (as ``core.model.prepare.standardize``
    squashes pixels), float32."""
    return (1.0 / (1.0 + np.exp(-np.clip(values, -30, 30)))).astype(np.float32)


class VectorScaler:
    """Vectors (N, d) -> (N, d) in (0, 1): each column minus its mean over its spread, squashed.

    Attributes after ``fit``: ``mean_`` (d,), ``scale_`` (d,)."""

    kind = "vectors"

    def fit(self, vectors):
        vectors = np.asarray(vectors, dtype=np.float64)
        self.mean_ = vectors.mean(axis=0).astype(np.float32)
        self.scale_ = np.maximum(vectors.std(axis=0), 1e-6).astype(np.float32)
        return self

    def transform(self, vectors) -> np.ndarray:
        return squash((np.asarray(vectors, dtype=np.float32) - self.mean_) / self.scale_)

    @property
    def n_features(self) -> int:
        return len(self.mean_)

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {"kind": np.array(self.kind), "mean": self.mean_, "scale": self.scale_}

    @classmethod
    def from_arrays(cls, arrays) -> VectorScaler:
        scaler = cls()
        scaler.mean_, scaler.scale_ = np.asarray(arrays["mean"]), np.asarray(arrays["scale"])
        return scaler


class PatchFeatures:
    """Single-layer k-means patch features of (N, H, W, C) images in [0, 1] at one scale.

    Parameters: ``n_centroids`` (K), ``patch`` (its side, s), ``stride``, ``downsample`` (the images
    are averaged down by this factor first), ``n_patches`` (random patches k-means learns from; at
    most ``PATCHES_PER_IMAGE`` per image, and no fewer than 20 per centroid), ``norm_eps`` (added
    to a patch's variance, pixels in 0-255), ``whiten_eps``, ``kmeans_iter`` (Lloyd iterations),
    ``seed``.

    Attributes after ``fit``: ``mean_`` (D,), ``whiten_`` (D, D), ``centroids_`` (K, D), with
    D = s * s * C. ``transform`` gives (N, 4 K) float32: the triangle activations summed over the
    image's four quadrants, averaged over the image and its mirror image.
    """

    def __init__(self, n_centroids=400, patch=6, stride=2, downsample=1, n_patches=100_000, norm_eps=10.0,
                 whiten_eps=0.1, kmeans_iter=15, seed=0):
        self.n_centroids = n_centroids
        self.patch = patch
        self.stride = stride
        self.downsample = downsample
        self.n_patches = n_patches
        self.norm_eps = norm_eps
        self.whiten_eps = whiten_eps
        self.kmeans_iter = kmeans_iter
        self.seed = seed

    def fit(self, images):
        from numpy.lib.stride_tricks import sliding_window_view

        from core.model.prepare import average_down

        images = average_down(np.asarray(images, dtype=np.float32), self.downsample)
        rng = np.random.default_rng(self.seed)
        count, height, width, _ = images.shape
        side, n = self.patch, min(self.n_patches, max(PATCHES_PER_IMAGE * count, 20 * self.n_centroids))
        which, rows, columns = (rng.integers(0, count, n), rng.integers(0, height - side + 1, n),
                                rng.integers(0, width - side + 1, n))
        windows = sliding_window_view(images, (side, side), axis=(1, 2))  # a view: (N, h', w', C, s, s)
        patches = windows[which, rows, columns].transpose(0, 2, 3, 1).reshape(n, -1) * np.float32(255)
        patches -= patches.mean(axis=1, keepdims=True)
        patches /= np.sqrt((patches * patches).mean(axis=1, keepdims=True) + np.float32(self.norm_eps))
        self.mean_ = patches.mean(axis=0)
        patches -= self.mean_
        values, vectors = np.linalg.eigh(np.cov(patches, rowvar=False).astype(np.float64))
        self.whiten_ = (vectors @ np.diag(1.0 / np.sqrt(values + self.whiten_eps)) @ vectors.T).astype(np.float32)
        self.centroids_ = _lloyd(patches @ self.whiten_, self.n_centroids, self.kmeans_iter, rng)
        return self

    @property
    def n_features(self) -> int:
        return self.n_centroids * 4

    def transform(self, images) -> np.ndarray:
        from core.model.prepare import average_down

        images = np.asarray(images, dtype=np.float32)
        height, width = images.shape[1] // self.downsample, images.shape[2] // self.downsample
        per_image = 2 * ((height - self.patch) // self.stride + 1) * ((width - self.patch) // self.stride + 1)
        chunk = max(1, MAX_PATCHES // per_image)
        features = np.empty((len(images), self.n_features), dtype=np.float32)
        for start in range(0, len(images), chunk):
            pixels = np.ascontiguousarray(average_down(images[start:start + chunk], self.downsample)) * np.float32(255)
            pooled = self._pooled(pixels) + self._pooled(np.ascontiguousarray(pixels[:, :, ::-1]))
            features[start:start + len(pixels)] = 0.5 * pooled.reshape(len(pixels), -1)
        return features

    def _pooled(self, pixels: np.ndarray) -> np.ndarray:
        """(n, h, w, C) pixels in 0-255 -> (n, 2, 2, K) triangle activations summed by quadrant."""
        from core.model import patch_kernels

        count, height, width, channels = pixels.shape
        side, stride = self.patch, self.stride
        across, down = (width - side) // stride + 1, (height - side) // stride + 1
        patches = np.empty((count * down * across, side * side * channels), dtype=np.float32)
        patch_kernels.normalised_patches(pixels, side, stride, np.float32(self.norm_eps), patches)
        patches -= self.mean_
        patches = patches @ self.whiten_
        squares = np.einsum("ij,ij->i", patches, patches)
        dots = patches @ self.centroids_.T
        quadrant_row = (np.arange(down) >= round(down / 2)).astype(np.int64)
        quadrant_column = (np.arange(across) >= round(across / 2)).astype(np.int64)
        pooled = np.zeros((count, 2, 2, self.n_centroids), dtype=np.float32)
        patch_kernels.triangle_pool(dots.reshape(count, down * across, -1), squares.reshape(count, -1),
                                    (self.centroids_ ** 2).sum(axis=1), quadrant_row, quadrant_column, across,
                                    pooled)
        return pooled

    def to_arrays(self, prefix: str) -> dict[str, np.ndarray]:
        settings = [self.n_centroids, self.patch, self.stride, self.downsample, self.norm_eps, self.whiten_eps]
        return {f"{prefix}settings": np.array(settings, dtype=np.float64), f"{prefix}mean": self.mean_,
                f"{prefix}whiten": self.whiten_, f"{prefix}centroids": self.centroids_}

    @classmethod
    def from_arrays(cls, arrays, prefix: str) -> PatchFeatures:
        n_centroids, patch, stride, downsample, norm_eps, whiten_eps = arrays[f"{prefix}settings"]
        features = cls(n_centroids=int(n_centroids), patch=int(patch), stride=int(stride),
                       downsample=int(downsample), norm_eps=float(norm_eps), whiten_eps=float(whiten_eps))
        features.mean_, features.whiten_ = np.asarray(arrays[f"{prefix}mean"]), np.asarray(arrays[f"{prefix}whiten"])
        features.centroids_ = np.asarray(arrays[f"{prefix}centroids"])
        return features


class PhotoFeatures:
    """What a photo shows, as ``n_components`` numbers in (0, 1) (see the module docstring).

    Parameters: ``n_components``, ``seed``, ``scales`` ((downsample, stride) of each scale), ``fit_images``
    (at most this many images, seeded, fit the scaler and PCA). Images larger than ``MAX_SIDE``
    pixels on their longer side are averaged down to it first (the patches' scale stays that of the
    small photos the method is made for, and the work stays small).

    Attributes after ``fit``: ``scales_`` (the fitted :class:`PatchFeatures`), ``factor_`` (the
    first averaging down), ``root_mean_``, ``root_scale_`` (the square roots' standardisation),
    ``components_`` (n_components, F), ``pca_mean_`` (F,), ``component_scale_`` (one number: the
    components' mean spread, which the squashing divides by).
    """

    kind = "photo features"
    MAX_SIDE = 32

    def __init__(self, n_components=100, seed=0, scales=((1, 2), (2, 1)), fit_images=10_000):
        self.n_components = n_components
        self.seed = seed
        self.scales = tuple(tuple(scale) for scale in scales)
        self.fit_images = fit_images

    def fit(self, images):
        """Learn the patches' centroids from (N, H, W, C) images in [0, 1], then the scaling."""
        images = np.asarray(images, dtype=np.float32)
        self.factor_ = max(1, max(images.shape[1:3]) // self.MAX_SIDE)
        sample = images[np.sort(np.random.default_rng(self.seed).permutation(len(images))[:self.fit_images])]
        small = self._small(sample)
        self.scales_ = [PatchFeatures(downsample=factor, stride=stride, seed=self.seed + number).fit(small)
                        for number, (factor, stride) in enumerate(self.scales)]
        roots = np.sqrt(np.maximum(self._patch_features(small), 0))
        self.root_mean_ = roots.mean(axis=0)
        self.root_scale_ = roots.std(axis=0) + np.float32(1e-6)
        standardised = (roots - self.root_mean_) / self.root_scale_
        from sklearn.utils.extmath import randomized_svd

        self.pca_mean_ = standardised.mean(axis=0)
        components = min(self.n_components, *standardised.shape)
        _, _, axes = randomized_svd(standardised - self.pca_mean_, components, random_state=self.seed)
        self.components_ = _signed(axes).astype(np.float32)
        projected = (standardised - self.pca_mean_) @ self.components_.T
        self.component_scale_ = np.float32(max(float(projected.std(axis=0).mean()), 1e-6))
        return self

    @property
    def n_features(self) -> int:
        return len(self.components_)

    def transform(self, images) -> np.ndarray:
        """(N, H, W, C) images in [0, 1] -> (N, n_components) float32 in (0, 1), ``FIT_CHUNK`` at a time."""
        images = np.asarray(images, dtype=np.float32)
        out = np.empty((len(images), self.n_features), dtype=np.float32)
        for start in range(0, len(images), FIT_CHUNK):
            roots = np.sqrt(np.maximum(self._patch_features(self._small(images[start:start + FIT_CHUNK])), 0))
            projected = ((roots - self.root_mean_) / self.root_scale_ - self.pca_mean_) @ self.components_.T
            out[start:start + FIT_CHUNK] = squash(projected / self.component_scale_)
        return out

    def _small(self, images: np.ndarray) -> np.ndarray:
        from core.model.prepare import average_down

        return average_down(images, self.factor_) if self.factor_ > 1 else images

    def _patch_features(self, images: np.ndarray) -> np.ndarray:
        return np.concatenate([scale.transform(images) for scale in self.scales_], axis=1)

    def to_arrays(self) -> dict[str, np.ndarray]:
        arrays = {"kind": np.array(self.kind), "factor": np.array(self.factor_), "root_mean": self.root_mean_,
                  "root_scale": self.root_scale_, "pca_mean": self.pca_mean_, "components": self.components_,
                  "component_scale": self.component_scale_, "n_scales": np.array(len(self.scales_))}
        for number, scale in enumerate(self.scales_):
            arrays.update(scale.to_arrays(f"scale{number}_"))
        return arrays

    @classmethod
    def from_arrays(cls, arrays) -> PhotoFeatures:
        features = cls(n_components=len(arrays["components"]))
        features.factor_ = int(arrays["factor"])
        features.scales_ = [PatchFeatures.from_arrays(arrays, f"scale{number}_") for number in range(int(arrays["n_scales"]))]
        for name in ("root_mean", "root_scale", "pca_mean", "components", "component_scale"):
            setattr(features, f"{name}_", np.asarray(arrays[name]))
        return features


FIT_CHUNK = 1024  # images transformed at a time (their 3,200 features each: about 13 MB)


def from_arrays(arrays) -> PhotoFeatures | VectorScaler:
    """The fitted representation saved by ``to_arrays`` (an ``np.load`` of representation.npz)."""
    kind = str(arrays["kind"])
    for representation in (PhotoFeatures, VectorScaler):
        if representation.kind == kind:
            return representation.from_arrays(arrays)
    raise ValueError(f"unknown representation '{kind}'")


def _signed(axes: np.ndarray) -> np.ndarray:
    """Principal axes with a fixed sign (the largest entry of each positive): SVD's sign is arbitrary."""
    signs = np.sign(axes[np.arange(len(axes)), np.argmax(np.abs(axes), axis=1)])
    return axes * signs[:, None]


def _lloyd(points: np.ndarray, n_centroids: int, iterations: int, rng, batch: int = 20_000) -> np.ndarray:
    """Lloyd's k-means of (M, D) float32 points from ``n_centroids`` seeded random points (empty
    clusters drawn again): (n_centroids, D) float32 centroids."""
    centroids = points[rng.choice(len(points), n_centroids, replace=False)].copy()
    for _ in range(iterations):
        sums = np.zeros(centroids.shape, dtype=np.float64)
        counts = np.zeros(n_centroids, dtype=np.int64)
        half_squares = 0.5 * (centroids ** 2).sum(axis=1)
        for start in range(0, len(points), batch):
            part = points[start:start + batch]
            nearest = np.argmax(part @ centroids.T - half_squares, axis=1)
            order = np.argsort(nearest, kind="stable")
            present, first = np.unique(nearest[order], return_index=True)
            sums[present] += np.add.reduceat(part[order], first, axis=0)
            counts += np.bincount(nearest, minlength=n_centroids)
        empty = counts == 0
        centroids = (sums / np.maximum(counts, 1)[:, None]).astype(np.float32)
        if empty.any():
            centroids[empty] = points[rng.choice(len(points), int(empty.sum()), replace=False)]
    return centroids
