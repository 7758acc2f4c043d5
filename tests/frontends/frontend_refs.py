"""numpy references for the frontend tests (NHWC convolution and pooling, Caffe pooling,
bilinear resize) and a runner for imported graphs in onnxruntime."""

from __future__ import annotations


import numpy as np
import onnxruntime as ort

from graphc.exporters.onnx import to_onnx
from graphc.ir import Graph



def run_ort(graph: Graph, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
    """Export ``graph`` to ONNX and run it in onnxruntime."""
    model = to_onnx(graph)
    so = ort.SessionOptions()
    so.log_severity_level = 3
    sess = ort.InferenceSession(model.SerializeToString(), so, providers=["CPUExecutionProvider"])
    return sess.run(None, feeds)


def same_pads(n: int, k: int, s: int, d: int = 1) -> tuple[int, int]:
    """TensorFlow SAME padding (before, after): the odd pixel goes after."""
    out = -(-n // s)
    total = max((out - 1) * s + (k - 1) * d + 1 - n, 0)
    return total // 2, total - total // 2


def _windows(xp: np.ndarray, kh: int, kw: int, s: tuple[int, int], d: int = 1):
    oh = (xp.shape[1] - ((kh - 1) * d + 1)) // s[0] + 1
    ow = (xp.shape[2] - ((kw - 1) * d + 1)) // s[1] + 1
    for i in range(kh):
        for j in range(kw):
            yield i, j, xp[:, i * d: i * d + (oh - 1) * s[0] + 1: s[0], j * d: j * d + (ow - 1) * s[1] + 1: s[1], :]


def _pad_nhwc(x: np.ndarray, kh: int, kw: int, s, padding: str, d: int = 1, value: float = 0.0) -> np.ndarray:
    if padding == "SAME":
        ph, pw = same_pads(x.shape[1], kh, s[0], d), same_pads(x.shape[2], kw, s[1], d)
    else:
        ph = pw = (0, 0)
    return np.pad(x, ((0, 0), ph, pw, (0, 0)), constant_values=value)


def conv_nhwc(x, w, s=(1, 1), padding="VALID", d=1):
    """TF Conv2D: x NHWC, w HWIO."""
    kh, kw, _, co = w.shape
    xp = _pad_nhwc(x, kh, kw, s, padding, d)
    out = None
    for i, j, patch in _windows(xp, kh, kw, s, d):
        term = np.einsum("nhwc,co->nhwo", patch, w[i, j])
        out = term if out is None else out + term
    return out


def depthwise_nhwc(x, w, s=(1, 1), padding="VALID"):
    """TF DepthwiseConv2dNative: w [kh, kw, C, M]; output channel c*M + m."""
    kh, kw, c, m = w.shape
    xp = _pad_nhwc(x, kh, kw, s, padding)
    out = None
    for i, j, patch in _windows(xp, kh, kw, s):
        term = np.einsum("nhwc,cm->nhwcm", patch, w[i, j])
        out = term if out is None else out + term
    return out.reshape(out.shape[:3] + (c * m,))


def pool_nhwc(x, k, s, padding, mode):
    """TF MaxPool / AvgPool (AvgPool averages over the valid pixels only)."""
    xp = _pad_nhwc(x.astype(np.float64), k[0], k[1], s, padding, value=np.nan)
    stack = np.stack([p for _, _, p in _windows(xp, k[0], k[1], s)])
    return (np.nanmax(stack, 0) if mode == "max" else np.nanmean(stack, 0)).astype(np.float32)


def caffe_pool(x, k, s, p, mode):
    """Caffe's pooling loop (NCHW), ceil rounding, AVE divisor over the padded window."""
    n, c, h, w = x.shape
    oh = int(np.ceil((h + 2 * p - k) / s)) + 1
    ow = int(np.ceil((w + 2 * p - k) / s)) + 1
    if p:
        oh -= (oh - 1) * s >= h + p
        ow -= (ow - 1) * s >= w + p
    out = np.zeros((n, c, oh, ow), np.float32)
    for i in range(oh):
        for j in range(ow):
            hs, ws = i * s - p, j * s - p
            he, we = min(hs + k, h + p), min(ws + k, w + p)
            size = (he - hs) * (we - ws)
            hs, ws, he, we = max(hs, 0), max(ws, 0), min(he, h), min(we, w)
            win = x[:, :, hs:he, ws:we]
            out[:, :, i, j] = win.max((2, 3)) if mode == "max" else win.sum((2, 3)) / size
    return out


def conv_nchw(x, w, b, s=1, p=0):
    """Caffe Convolution (group 1): x NCHW, w OIHW."""
    xh = np.transpose(np.pad(x, ((0, 0), (0, 0), (p, p), (p, p))), (0, 2, 3, 1))
    y = conv_nhwc(xh, np.transpose(w, (2, 3, 1, 0)), (s, s))
    return np.transpose(y, (0, 3, 1, 2)) + b.reshape(1, -1, 1, 1)


def resize_bilinear_tf(x: np.ndarray, out_h: int, out_w: int) -> np.ndarray:
    """tf.image.resize_bilinear(align_corners=False, half_pixel_centers=False), NHWC."""
    n, h, w, c = x.shape
    out = np.zeros((n, out_h, out_w, c), np.float32)
    sh, sw = h / out_h, w / out_w
    for i in range(out_h):
        fy = i * sh
        y0 = int(np.floor(fy)); y1 = min(y0 + 1, h - 1); dy = fy - y0
        for j in range(out_w):
            fx = j * sw
            x0 = int(np.floor(fx)); x1 = min(x0 + 1, w - 1); dx = fx - x0
            top = x[:, y0, x0] * (1 - dx) + x[:, y0, x1] * dx
            bot = x[:, y1, x0] * (1 - dx) + x[:, y1, x1] * dx
            out[:, i, j] = top * (1 - dy) + bot * dy
    return out
