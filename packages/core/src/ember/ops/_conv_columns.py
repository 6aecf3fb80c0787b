"""How conv2d lays out and chunks its im2col columns (``ColumnPlan``): sizes, the three column
layouts ``ops/conv.py`` describes, the padded source, the workspaces they are written into, and
the weight split as the columns are."""

from __future__ import annotations

import math

import numpy as np

from ember.ops._windows import output_size
from ember.ops._workspace import workspace

CHUNK_ELEMENTS = 1 << 18  # strided columns' elements per chunk of images on the CPU: 1 MB
# row-flat columns up to this many outputs a group (lose at 32, 64; at 16 they still beat
# batch-innermost ones on ResNet-20's 32x32 layers, forward 3.2 against 3.5 ms, measured)
BY_ROWS_OUTPUTS = 16
BY_ROWS_CHUNK_ELEMENTS = 1 << 16  # their chunks: 1 image of ResNet-20's first stage, measured
# batch-innermost chunks: this many product elements (outputs x positions), 128 KB of float32
# (LeNet-5's second conv 20 images, ResNet-20's 32- and 64-channel layers 4 and 8, measured)
BATCH_INNER_PRODUCT_ELEMENTS = 1 << 15
# batch-innermost gradient columns are copied image by image from this many elements an image:
# ResNet-20's 32- and 64-channel layers (8192 and 4096) 0.26 -> 0.11 and 0.14 -> 0.06 ms a call,
# LeNet-5's second conv (1600) 0.07 -> 0.15 (a numpy call per image), measured
BY_IMAGE_ELEMENTS = 1 << 12


class ColumnPlan:
    """One convolution's sizes, and how its columns are laid out and chunked over the batch."""

    __slots__ = ("n", "c", "o", "kernel", "stride", "padding", "dilation", "groups", "hp", "wp",
                 "ho", "wo", "flat", "batch_inner", "rows", "width", "parts", "tail", "chunk")

    def __init__(self, xp, x_shape, w_shape, geometry) -> None:
        self.stride, self.padding, self.dilation, self.groups = geometry
        self.n, self.c, h, w = x_shape
        self.o, _, kh, kw = w_shape
        self.kernel = (kh, kw)
        (ph, pw), (dh, dw) = self.padding, self.dilation
        self.hp, self.wp = h + 2 * ph, w + 2 * pw
        self.ho = output_size(h, kh, self.stride[0], ph, dh)
        self.wo = output_size(w, kw, self.stride[1], pw, dw)
        stride_one, outputs = self.stride == (1, 1), self.o // self.groups
        positions, kept = self.hp * self.wp, self.ho * self.wo
        # row-flat by kernel rows for 1x1 kernels (the input is its own columns), and where few
        # outputs make building columns the larger cost and at most a quarter of the padded
        # positions are discarded
        self.flat = stride_one and ((kh, kw) == (1, 1) or (
            outputs <= BY_ROWS_OUTPUTS and 4 * (positions - kept) <= positions))
        # other stride-1 columns keep each chunk's batch innermost (LeNet-5's second conv:
        # columns 1.05 -> 0.37 ms; ResNet-20's 8x8 3x3 layers forward 2.6 -> 2.1 ms and
        # backward 4.9 -> 3.8 against row-flat columns tap by tap, measured); strided ones
        # lose with it, their input's transposing copy costs more than it saves
        self.batch_inner = stride_one and not self.flat
        # one image's products: every padded position if row-flat, else the output's
        self.rows, self.width = (self.hp, self.wp) if self.flat else (self.ho, self.wo)
        self.parts = kh if stride_one else 1  # stride-1 columns come by kernel rows
        # the last image's taps read past its end
        self.tail = (kh - 1) * dh * self.wp + (kw - 1) * dw if self.flat else 0
        if self.batch_inner:
            fits = BATCH_INNER_PRODUCT_ELEMENTS // max(self.o * kept, 1)
        else:
            per_image = self.c * kh * kw // self.parts * self.rows * self.width
            fits = (BY_ROWS_CHUNK_ELEMENTS if self.flat else CHUNK_ELEMENTS) // max(per_image, 1)
        self.chunk = max(1, min(self.n, fits if xp is np else self.n))

    def chunks(self):
        """(first, end) image indices of each chunk."""
        return [(first, min(self.n, first + self.chunk)) for first in range(0, self.n, self.chunk)]

    def source(self, xp, x):
        """x (N, C, H, W) padded, channels first: (C, N*Hp*Wp + tail) flat or (C, N, Hp, Wp);
        unpadded (C, N, H, W) if the batch goes innermost (``columns`` pads each chunk).

        Written into a workspace (its padding zeroed each call) rather than a fresh array."""
        channels_first = x.transpose(1, 0, 2, 3)
        if self.batch_inner or (self.padding == (0, 0) and self.tail == 0 and not self.flat):
            return channels_first
        if self.padding == (0, 0) and self.tail == 0:  # 1x1: the input as it is (a view if it can)
            return xp.ascontiguousarray(channels_first).reshape(self.c, -1)
        size = self.n * self.hp * self.wp
        out = workspace(xp, "conv.source", self.c * (size + self.tail), x.dtype).reshape(
            self.c, size + self.tail)
        images = out[:, :size].reshape(self.c, self.n, self.hp, self.wp)
        pad_into(images, channels_first, self.padding)
        out[:, size:] = 0
        return out if self.flat else images

    def scratch(self, xp, name: str, rows: int, dtype):
        """A workspace for one chunk's (rows, images * rows * width) matrix, reused chunk after
        chunk and call after call."""
        return workspace(xp, name, rows * self.chunk * self.rows * self.width, dtype)

    def columns_scratch(self, xp, dtype):
        """The workspace ``columns`` writes into."""
        (kh, kw), dh = self.kernel, self.dilation[0]
        if self.batch_inner:  # every padded row, not only the first kernel row's
            size = self.c * kw * self.hp * self.wo * self.chunk
        else:
            reach = (kh - 1) * dh * self.wp if self.flat else 0  # rows below the chunk
            size = self.c * kh * kw // self.parts * (self.chunk * self.rows * self.width + reach)
        return workspace(xp, "conv.columns", size, dtype)

    def columns(self, xp, source, first, end, scratch):
        """The im2col matrix of images [first, end) as ``parts`` matrices, one per kernel row
        at stride 1: each (C*kh*kw / parts, images * rows * width).

        Row-flat: one copy of the padded input per kernel column j, shifted by j; kernel row
        i's columns are that copy's view shifted by i padded rows (a third of im2col's copies).
        Batch innermost: the chunk is padded into (C, Hp, Wp, images) and copied once per
        kernel column j, (C, kw, Hp, Wo, images), each padded row cut to the Wo columns tap j
        reads: kernel row i's columns are the view from padded row i on, and no position is
        discarded (a fifth of im2col's copies for 5x5 taps; LeNet-5's second conv forward 1.8
        -> 1.4 ms, weight gradient 1.9 -> 1.1, alone).
        Strided: every tap's window is one axis of a strided view of ``source``, so the whole
        matrix is one copy instead of a numpy call per tap (5-8% faster forward).
        """
        (kh, kw), (dh, dw), images = self.kernel, self.dilation, end - first
        if self.flat:
            count = images * self.hp * self.wp
            start, span = first * self.hp * self.wp, count + (kh - 1) * dh * self.wp
            if kw == 1:
                cols = source[:, start:start + span]
            else:
                cols = scratch[:self.c * kw * span].reshape(self.c, kw, span)
                for j in range(kw):
                    cols[:, j] = source[:, start + j * dw:start + j * dw + span]
                cols = cols.reshape(self.c * kw, span)
            return [cols[:, i * dh * self.wp:i * dh * self.wp + count] for i in range(kh)]
        if self.batch_inner:
            windows = workspace(xp, "conv.source", self.c * self.hp * self.wp * images,
                                source.dtype).reshape(self.c, self.hp, self.wp, images)
            # image by image where rows are longer than the chunk: numpy's copy then runs
            # along rows, not along the few images (ResNet-20's 32-channel layers, 4 images
            # of 16 columns: 0.27 -> 0.17 ms a call; 8 images of 8 columns: 0.09 -> 0.14)
            pad_into(windows.transpose(0, 3, 1, 2), source[:, first:end], self.padding,
                     by_image=xp is np and source.shape[-1] > images)
            channel, row, step, batch = windows.strides
            shape = (self.c, kw, self.hp, self.wo, images)
            strides = (channel, dw * step, row, step, batch)
        else:
            windows = source[:, first:end]
            channel, batch, row, step = windows.strides
            shape = (self.c, kh, kw, images, self.ho, self.wo)
            strides = (channel, dh * row, dw * step, batch, self.stride[0] * row,
                       self.stride[1] * step)
        cols = scratch[:math.prod(shape)].reshape(shape)
        cols[...] = xp.lib.stride_tricks.as_strided(windows, shape, strides)
        if not self.batch_inner:
            return [cols.reshape(self.c * kh * kw, -1)]
        cols = cols.reshape(self.c * kw, -1)
        row, count = dh * self.wo * images, self.ho * self.wo * images
        return [cols[:, i * row:i * row + count] for i in range(kh)]

    def grad_columns(self, xp, grad, first, end, scratch):
        """Output gradient (N, O, Ho, Wo) of images [first, end) laid out as the columns'
        products, positions by output channels: (G, images * rows * width, O/G), with zeros
        under the discarded positions.

        Row-major with the channels innermost, the right operand of columns @ this runs
        10-40% faster in BLAS than the transpose of a channels-first matrix (LeNet-5's and
        ResNet-20's weight-gradient shapes, measured)."""
        images = end - first
        out = scratch[:self.o * images * self.rows * self.width].reshape(-1, self.o)
        if self.flat:
            grid = out.reshape(images, self.rows, self.width, self.o)
            grid[:, :self.ho, self.wo:] = 0
            grid[:, self.ho:] = 0
        kept = self.kept(out, images)
        if self.batch_inner and xp is np and grad[0].size >= BY_IMAGE_ELEMENTS:
            for image in range(images):
                kept[image] = grad[first + image].transpose(1, 2, 0)
        else:
            kept[...] = grad[first:end].transpose(0, 2, 3, 1)
        return out.reshape(-1, self.groups, self.o // self.groups).transpose(1, 0, 2)

    def kept(self, products, images):
        """The outputs kept from (..., positions, X) products of a chunk's columns, as
        (..., images, Ho, Wo, X)."""
        lead, last = products.shape[:-2], products.shape[-1:]
        if self.batch_inner:
            grid = products.reshape(lead + (self.ho, self.wo, images) + last)
            return grid.swapaxes(-2, -3).swapaxes(-3, -4)
        grid = products.reshape(lead + (images, self.rows, self.width) + last)
        return grid[..., :self.ho, :self.wo, :]

    def grouped(self, matrix):
        """(G * rows, cols) -> (G, rows, cols): the groups as a batch of matrices."""
        return matrix.reshape(self.groups, -1, matrix.shape[-1])

    def weight_parts(self, xp, weight):
        """W^T split as the columns are: (parts, G, Cg*kh*kw / parts, O/G)."""
        o, cg, kh, kw = weight.shape
        split = weight.reshape(self.groups, o // self.groups, cg, self.parts, kh // self.parts,
                               kw).transpose(3, 0, 2, 4, 5, 1)
        return xp.ascontiguousarray(split).reshape(self.parts, self.groups, -1, o // self.groups)

    def weight_from_parts(self, xp, parts, w_shape):
        """The inverse of ``weight_parts``: (parts, G, Cg*kh*kw / parts, O/G) -> w_shape."""
        o, cg, kh, kw = w_shape
        split = parts.reshape(self.parts, self.groups, cg, kh // self.parts, kw,
                              o // self.groups).transpose(1, 5, 2, 0, 3, 4)
        return xp.ascontiguousarray(split).reshape(w_shape)


def pad_into(out, x, padding, by_image=False):
    """Writes x (..., H, W) into out (..., H + 2*ph, W + 2*pw) with zeros around it; with
    ``by_image``, x (C, N, H, W) one image (index of axis 1) at a time."""
    (ph, pw), (h, w) = padding, x.shape[-2:]
    out[..., :ph, :] = 0
    out[..., ph + h:, :] = 0
    out[..., ph:ph + h, :pw] = 0
    out[..., ph:ph + h, pw + w:] = 0
    inside = out[..., ph:ph + h, pw:pw + w]
    if by_image:
        for image in range(x.shape[1]):
            inside[:, image] = x[:, image]
    else:
        inside[...] = x
