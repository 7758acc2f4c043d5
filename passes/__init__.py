"""graphc's built-in passes, one module each; importing this package registers them."""

from __future__ import annotations

from . import cancel_transposes, canonicalize, dce, eliminate_dropout, fold_blobs, fold_constants, fuse_activation, fuse_conv_affine, fuse_conv_bn, fuse_matmul_add, fuse_silu, infer_shapes, inline_functions, legalize, lower_opset, plan_buffers  # noqa: F401

__all__: list[str] = []
