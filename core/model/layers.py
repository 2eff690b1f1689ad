"""Faster CPU formulations of two Keras layers, for the ``seed`` network.

TensorFlow's CPU kernels for a 3x3 convolution with few channels (1, 2 or 16, as in the 2018
tutorial's network) and their gradients run far below the machine's speed: a training step of
that network spends most of its time in them. The same arithmetic, written as matrix products and
shifted slices that XLA fuses, can train the network faster; ``core.model.implementation``
measures on each machine whether it does (docs/benchmarks.md).

Both layers subclass the Keras layer they replace and keep its weights, config and outputs: a
:class:`ShiftConv2D` computes the same cross-correlation as ``Conv2D`` (equal to float32 rounding,
tested in tests/test_model.py), a :class:`BlockMaxPooling2D` the same maxima as ``MaxPooling2D``.
Shapes they do not cover fall back to the parent's own computation. Saved models name them, so
:mod:`core.model` imports this module before loading one.
"""

from __future__ import annotations

import keras
from keras import ops

PACKAGE = "latent_explorer"


@keras.saving.register_keras_serializable(package=PACKAGE)
class ShiftConv2D(keras.layers.Conv2D):
    """``Conv2D`` whose 3x3, stride-1, "same"-padded, channels-last convolution is computed as a
    matrix product and nine shifted slices instead of a convolution kernel.

    With few input channels the nine shifted copies of the input are stacked along the channels and
    multiplied by the (9 * C_in, C_out) kernel matrix. With more input channels than output ones,
    the input is first multiplied by the (C_in, 9 * C_out) kernel matrix and the nine shifted
    slices of that product are summed: the same sums, in the order that touches less memory.
    """

    def convolution_op(self, inputs, kernel):
        if not self._shifts_apply(inputs):
            return super().convolution_op(inputs, kernel)
        height, width = inputs.shape[1], inputs.shape[2]
        channels_in, channels_out = kernel.shape[2], kernel.shape[3]
        if channels_in <= channels_out:  # stack the shifted inputs, then one product
            padded = ops.pad(inputs, [[0, 0], [1, 1], [1, 1], [0, 0]])
            shifted = [padded[:, i:i + height, j:j + width, :] for i in range(3) for j in range(3)]
            patches = ops.reshape(ops.concatenate(shifted, axis=-1), (-1, 9 * channels_in))
            outputs = ops.matmul(patches, ops.reshape(kernel, (9 * channels_in, channels_out)))
            return ops.reshape(outputs, (-1, height, width, channels_out))
        # one product to 9 * C_out channels, then the sum of its nine shifted slices
        weights = ops.reshape(ops.transpose(kernel, (2, 0, 1, 3)), (channels_in, 9 * channels_out))
        products = ops.matmul(ops.reshape(inputs, (-1, channels_in)), weights)
        products = ops.pad(ops.reshape(products, (-1, height, width, 9 * channels_out)),
                           [[0, 0], [1, 1], [1, 1], [0, 0]])
        outputs = None
        for i in range(3):
            for j in range(3):
                first = (3 * i + j) * channels_out
                term = products[:, i:i + height, j:j + width, first:first + channels_out]
                outputs = term if outputs is None else outputs + term
        return outputs

    def _shifts_apply(self, inputs) -> bool:
        return (tuple(self.kernel_size) == (3, 3) and tuple(self.strides) == (1, 1)
                and tuple(self.dilation_rate) == (1, 1) and self.padding == "same" and self.groups == 1
                and self.data_format == "channels_last" and None not in tuple(inputs.shape[1:]))


@keras.saving.register_keras_serializable(package=PACKAGE)
class BlockMaxPooling2D(keras.layers.MaxPooling2D):
    """``MaxPooling2D`` whose non-overlapping k x k pooling of channels-last images with sides
    divisible by k is a reshape and a maximum (XLA fuses it with the layers around it).

    Its gradient goes to every maximum of a window (split between ties) where the pooling kernel's
    goes to one of them; behind a ReLU the ties are zeros, whose gradient is zero either way.
    """

    def call(self, inputs):
        size = tuple(self.pool_size)
        height, width = inputs.shape[1], inputs.shape[2]
        if (size != tuple(self.strides) or self.data_format != "channels_last" or None in (height, width)
                or height % size[0] or width % size[1]):
            return super().call(inputs)
        channels = inputs.shape[3]
        blocks = ops.reshape(inputs, (-1, height // size[0], size[0], width // size[1], size[1], channels))
        return ops.max(blocks, axis=(2, 4))
