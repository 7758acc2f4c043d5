"""numpy references for the frontend tests (NHWC convolution and pooling, Caffe pooling,
bilinear resize, Caffe's and OpenCV's other layers as loops over their definitions) and a
runner for imported graphs in onnxruntime."""

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


# ------------------------------------------- Caffe / OpenCV layers (issue 17, item 3)
def bilinear_align_corners(x: np.ndarray, h: int, w: int) -> np.ndarray:
    """DeepLab's Interp (caffe_cpu_interp2): bilinear with aligned corners, NCHW."""
    _, _, ih, iw = x.shape
    rh = (ih - 1) / (h - 1) if h > 1 else 0.0
    rw = (iw - 1) / (w - 1) if w > 1 else 0.0
    out = np.zeros(x.shape[:2] + (h, w), np.float64)
    for i in range(h):
        y0 = int(rh * i); y1 = y0 + (y0 < ih - 1); ly = rh * i - y0
        for j in range(w):
            x0 = int(rw * j); x1 = x0 + (x0 < iw - 1); lx = rw * j - x0
            out[:, :, i, j] = ((1 - ly) * ((1 - lx) * x[:, :, y0, x0] + lx * x[:, :, y0, x1])
                               + ly * ((1 - lx) * x[:, :, y1, x0] + lx * x[:, :, y1, x1]))
    return out


def deeplab_interp(x: np.ndarray, height=None, width=None, zoom=None, shrink=None, pad_beg=0, pad_end=0):
    """DeepLab's Interp layer: output size by its rules (shrink alone, zoom alone, height and width,
    shrink then zoom), the input cropped by the (non-positive) pads first."""
    h_in, w_in = x.shape[2] + pad_beg + pad_end, x.shape[3] + pad_beg + pad_end
    if shrink and not zoom:
        h, w = (h_in - 1) // shrink + 1, (w_in - 1) // shrink + 1
    elif zoom and not shrink:
        h, w = h_in + (h_in - 1) * (zoom - 1), w_in + (w_in - 1) * (zoom - 1)
    elif height and width:
        h, w = height, width
    else:
        h, w = (h_in - 1) // shrink + 1, (w_in - 1) // shrink + 1
        h, w = h + (h - 1) * (zoom - 1), w + (w - 1) * (zoom - 1)
    crop = x[:, :, -pad_beg: -pad_beg + h_in, -pad_beg: -pad_beg + w_in]
    return bilinear_align_corners(crop, h, w)


def opencv_mvn(x: np.ndarray, normalize_variance=True, across_channels=False, eps=1e-9) -> np.ndarray:
    """OpenCV's MVN: per image (and channel, unless across_channels), x - mean, divided by
    sqrt(variance + eps) (Caffe adds eps to the standard deviation instead)."""
    out = np.empty(x.shape, np.float64)
    for n in range(x.shape[0]):
        for c in ([slice(None)] if across_channels else range(x.shape[1])):
            v = x[n, c].astype(np.float64)
            y = v - v.mean()
            out[n, c] = y / np.sqrt((y ** 2).mean() + eps) if normalize_variance else y
    return out


def caffe_lrn_within_channel(x: np.ndarray, size: int, alpha: float, beta: float) -> np.ndarray:
    """Caffe's LRN WITHIN_CHANNEL: x / (1 + alpha / size^2 * sum of x^2 over the zero-padded
    size x size window)^beta."""
    pad = (size - 1) // 2
    sq = np.pad(x.astype(np.float64) ** 2, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
    acc = np.zeros(x.shape, np.float64)
    for i in range(size):
        for j in range(size):
            acc += sq[:, :, i: i + x.shape[2], j: j + x.shape[3]]
    return x / (1 + alpha * acc / size ** 2) ** beta


def caffe_stochastic_pool_test(x: np.ndarray, k: int, s: int) -> np.ndarray:
    """Caffe's StoPoolForwardTest: per window, sum(x^2) / (FLT_MIN + sum(x)); the windows start
    at i * stride and are clipped at the border; output sizes rounded up."""
    n, c, h, w = x.shape
    oh, ow = -(-(h - k) // s) + 1, -(-(w - k) // s) + 1
    out = np.zeros((n, c, oh, ow), np.float64)
    for i in range(oh):
        for j in range(ow):
            win = x[:, :, i * s: min(i * s + k, h), j * s: min(j * s + k, w)].astype(np.float64)
            out[:, :, i, j] = (win ** 2).sum((2, 3)) / (np.finfo(np.float32).tiny + win.sum((2, 3)))
    return out


def caffe_argmax(x: np.ndarray, top_k=1, out_max_val=False, axis=None) -> np.ndarray:
    """Caffe's ArgMaxLayer: the top_k (value, index) pairs, largest first; without axis, a top
    of the input's rank (at least 3) shaped (N, 1 or 2, top_k, 1, ...)."""
    if axis is None:
        flat = x.reshape(x.shape[0], -1)
        out = np.zeros((x.shape[0], 2 if out_max_val else 1, top_k) + (1,) * (x.ndim - 3))
        for n in range(x.shape[0]):
            pairs = sorted(((v, i) for i, v in enumerate(flat[n])), reverse=True)[:top_k]
            out[n, 0] = np.reshape([i for _, i in pairs], out.shape[2:])
            if out_max_val:
                out[n, 1] = np.reshape([v for v, _ in pairs], out.shape[2:])
        return out
    moved = np.moveaxis(x, axis, -1)
    out = np.zeros(moved.shape[:-1] + (top_k,))
    for idx in np.ndindex(moved.shape[:-1]):
        pairs = sorted(((v, i) for i, v in enumerate(moved[idx])), reverse=True)[:top_k]
        out[idx] = [v if out_max_val else i for v, i in pairs]
    return np.moveaxis(out, -1, axis)


def caffe_reduction(x: np.ndarray, operation="SUM", axis=0, coeff=1.0) -> np.ndarray:
    """Caffe's ReductionLayer: each of the prod(shape[:axis]) slices reduced over the rest."""
    rows = x.reshape(int(np.prod(x.shape[:axis], dtype=np.int64)), -1).astype(np.float64)
    fn = {"SUM": lambda r: r.sum(), "ASUM": lambda r: np.abs(r).sum(), "SUMSQ": lambda r: (r ** 2).sum(),
          "MEAN": lambda r: r.mean()}[operation]
    return (np.array([fn(r) for r in rows]) * coeff).reshape(x.shape[:axis])


def shuffle_channel(x: np.ndarray, group: int) -> np.ndarray:
    """ShuffleNet's ShuffleChannel: output channel j * group + i is input channel i * (C / group) + j."""
    c = x.shape[1]
    out = np.empty_like(x)
    for i in range(group):
        for j in range(c // group):
            out[:, j * group + i] = x[:, i * (c // group) + j]
    return out


def _c_round(v: float) -> int:
    return int(np.floor(v + 0.5)) if v >= 0 else -int(np.floor(-v + 0.5))


def fast_rcnn_roi_pool(x: np.ndarray, rois: np.ndarray, pooled_h: int, pooled_w: int, scale: float) -> np.ndarray:
    """caffe-fast-rcnn's ROIPoolingLayer::Forward_cpu, element by element (float32 like Dtype)."""
    f = np.float32
    _, c, height, width = x.shape
    out = np.zeros((len(rois), c, pooled_h, pooled_w), np.float32)
    for n, roi in enumerate(rois):
        sw, sh, ew, eh = (_c_round(float(roi[i] * f(scale))) for i in (1, 2, 3, 4))
        bin_h = f(max(eh - sh + 1, 1)) / f(pooled_h)
        bin_w = f(max(ew - sw + 1, 1)) / f(pooled_w)
        for ch in range(c):
            for ph in range(pooled_h):
                for pw in range(pooled_w):
                    hs = min(max(int(np.floor(f(ph) * bin_h)) + sh, 0), height)
                    he = min(max(int(np.ceil(f(ph + 1) * bin_h)) + sh, 0), height)
                    ws = min(max(int(np.floor(f(pw) * bin_w)) + sw, 0), width)
                    we = min(max(int(np.ceil(f(pw + 1) * bin_w)) + sw, 0), width)
                    best = 0.0 if he <= hs or we <= ws else -np.inf
                    for h in range(hs, he):
                        for w in range(ws, we):
                            best = max(best, x[int(roi[0]), ch, h, w])
                    out[n, ch, ph, pw] = best
    return out


def rfcn_psroi_pool(x: np.ndarray, rois: np.ndarray, scale: float, output_dim: int, group: int) -> np.ndarray:
    """caffe-rfcn's PSROIPoolingForward kernel, element by element (float32 like Dtype)."""
    f = np.float32
    _, _, height, width = x.shape
    out = np.zeros((len(rois), output_dim, group, group), np.float32)
    for n, roi in enumerate(rois):
        sw, sh = f(_c_round(float(roi[1]))) * f(scale), f(_c_round(float(roi[2]))) * f(scale)
        ew, eh = (f(_c_round(float(roi[3]))) + f(1)) * f(scale), (f(_c_round(float(roi[4]))) + f(1)) * f(scale)
        bin_h, bin_w = max(eh - sh, f(0.1)) / f(group), max(ew - sw, f(0.1)) / f(group)
        for ct in range(output_dim):
            for ph in range(group):
                for pw in range(group):
                    hs = min(max(int(np.floor(f(ph) * bin_h + sh)), 0), height)
                    he = min(max(int(np.ceil(f(ph + 1) * bin_h + sh)), 0), height)
                    ws = min(max(int(np.floor(f(pw) * bin_w + sw)), 0), width)
                    we = min(max(int(np.ceil(f(pw + 1) * bin_w + sw)), 0), width)
                    if he <= hs or we <= ws:
                        continue
                    ch = (ct * group + ph) * group + pw
                    total = f(0)
                    for h in range(hs, he):
                        for w in range(ws, we):
                            total += x[int(roi[0]), ch, h, w]
                    out[n, ct, ph, pw] = total / f((he - hs) * (we - ws))
    return out


def py_faster_rcnn_proposals(scores: np.ndarray, deltas: np.ndarray, im_info: np.ndarray, feat_stride: int,
                             ratios, scales, pre_nms: int, post_nms: int, nms_thresh: float,
                             base_size: int = 16) -> tuple[np.ndarray, np.ndarray]:
    """py-faster-rcnn's ProposalLayer.forward (generate_anchors, bbox_transform_inv, clip_boxes,
    py_cpu_nms) without the min_size filter (OpenCV skips it): rois ``[k, 5]`` and their scores,
    best first."""
    base = np.array([0, 0, base_size - 1, base_size - 1], np.float64)
    w, h = base[2] - base[0] + 1, base[3] - base[1] + 1
    cx, cy = base[0] + 0.5 * (w - 1), base[1] + 0.5 * (h - 1)
    shapes = []
    for r in ratios:
        ws = np.round(np.sqrt(w * h / r))
        hs = np.round(ws * r)
        shapes += [(ws * s, hs * s) for s in scales]
    base_anchors = np.array([[cx - 0.5 * (aw - 1), cy - 0.5 * (ah - 1), cx + 0.5 * (aw - 1), cy + 0.5 * (ah - 1)]
                             for aw, ah in shapes])
    a = len(base_anchors)
    height, width = scores.shape[2:]
    sx, sy = np.meshgrid(np.arange(width) * feat_stride, np.arange(height) * feat_stride)
    shifts = np.stack([sx.ravel(), sy.ravel(), sx.ravel(), sy.ravel()], axis=1)
    anchors = (base_anchors[None] + shifts[:, None]).reshape(-1, 4)
    obj = scores[0, a:].transpose(1, 2, 0).reshape(-1).astype(np.float64)
    d = deltas[0].transpose(1, 2, 0).reshape(-1, 4).astype(np.float64)
    widths, heights = anchors[:, 2] - anchors[:, 0] + 1, anchors[:, 3] - anchors[:, 1] + 1
    ctr_x, ctr_y = anchors[:, 0] + 0.5 * widths, anchors[:, 1] + 0.5 * heights
    px, py = d[:, 0] * widths + ctr_x, d[:, 1] * heights + ctr_y
    pw, ph = np.exp(d[:, 2]) * widths, np.exp(d[:, 3]) * heights
    boxes = np.stack([px - 0.5 * pw, py - 0.5 * ph, px + 0.5 * pw, py + 0.5 * ph], axis=1)
    rows, cols = float(im_info.reshape(-1)[0]), float(im_info.reshape(-1)[1])
    boxes = np.clip(boxes, 0, [cols - 1, rows - 1, cols - 1, rows - 1])
    order = obj.argsort()[::-1][:pre_nms]
    areas = (boxes[:, 2] - boxes[:, 0] + 1) * (boxes[:, 3] - boxes[:, 1] + 1)
    keep = []
    while order.size:
        i = order[0]
        keep.append(i)
        xx1, yy1 = np.maximum(boxes[i, 0], boxes[order[1:], 0]), np.maximum(boxes[i, 1], boxes[order[1:], 1])
        xx2, yy2 = np.minimum(boxes[i, 2], boxes[order[1:], 2]), np.minimum(boxes[i, 3], boxes[order[1:], 3])
        inter = np.maximum(0.0, xx2 - xx1 + 1) * np.maximum(0.0, yy2 - yy1 + 1)
        order = order[1:][inter / (areas[i] + areas[order[1:]] - inter) <= nms_thresh]
    keep = keep[:post_nms]
    return np.concatenate([np.zeros((len(keep), 1)), boxes[keep]], axis=1), obj[keep]


def opencv_resize_asymmetric(x: np.ndarray, h: int, w: int, mode: str) -> np.ndarray:
    """OpenCV's Resize layer without half-pixel centres or aligned corners (its Caffe Resample):
    source coordinate ``out * in / out_size``; bilinear, or nearest by ``floor``."""
    ih, iw = x.shape[2:]
    out = np.zeros(x.shape[:2] + (h, w), np.float64)
    for i in range(h):
        fy = i * ih / h
        y0 = min(int(np.floor(fy)), ih - 1); y1 = min(y0 + 1, ih - 1); dy = fy - y0
        for j in range(w):
            fx = j * iw / w
            x0 = min(int(np.floor(fx)), iw - 1); x1 = min(x0 + 1, iw - 1); dx = fx - x0
            if mode == "nearest":
                out[:, :, i, j] = x[:, :, y0, x0]
            else:
                out[:, :, i, j] = ((1 - dy) * ((1 - dx) * x[:, :, y0, x0] + dx * x[:, :, y0, x1])
                                   + dy * ((1 - dx) * x[:, :, y1, x0] + dx * x[:, :, y1, x1]))
    return out
