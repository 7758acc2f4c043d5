"""numpy references of OpenCV dnn's SSD layers, written from OpenCV's C++ loop by loop
(prior_box_layer.cpp, normalize_bbox_layer.cpp, detection_output_layer.cpp, nms.inl.hpp),
independently of graphc's implementation. float32 scalars throughout, as in C++.

prior_box was checked against cv2.dnn itself (OpenCV 4.14.0, a PriorBox-only prototxt per case of
test_caffe_ssd.PRIOR_CASES, feature maps 5x7 on 37x61 and 3x3 on 300x300, variance 0.1 added where
OpenCV requires one): bit-identical in all six."""

from __future__ import annotations

import numpy as np

F = np.float32


def prior_box(fmap_hw, image_hw, min_sizes, max_sizes=(), aspect_ratios=(), flip=True, clip=True,
              variance=(0.1,), step=None, offset=0.5):
    """OpenCV's PriorBox forward: [1, 2, H*W*num_priors*4]."""
    ratios = []
    for ar in aspect_ratios:
        ar = F(ar)
        if abs(ar - F(1)) < 1e-6 or any(abs(ar - r) < 1e-6 for r in ratios):
            continue
        ratios.append(ar)
        if flip:
            ratios.append(F(1.0 / float(ar)))
    widths, heights = [], []
    for i, m in enumerate(min_sizes):
        m = F(m)
        widths.append(m)
        heights.append(m)
        if max_sizes:
            s = F(np.sqrt(m * F(max_sizes[i])))
            widths.append(s)
            heights.append(s)
        for r in ratios:
            sq = F(np.sqrt(r))
            widths.append(F(m * sq))
            heights.append(F(m / sq))
    lh, lw = fmap_hw
    ih, iw = image_hw
    if step is None:
        step_y, step_x = F(F(ih) / F(lh)), F(F(iw) / F(lw))
    else:
        step_y, step_x = F(step[0]), F(step[1])
    out = []
    for h in range(lh):
        for w in range(lw):
            for bw, bh in zip(widths, heights):
                cx = F((F(w) + F(offset)) * step_x)
                cy = F((F(h) + F(offset)) * step_y)
                out += [F((cx - bw * F(0.5)) / F(iw)), F((cy - bh * F(0.5)) / F(ih)),
                        F((cx + bw * F(0.5)) / F(iw)), F((cy + bh * F(0.5)) / F(ih))]
    boxes = np.array(out, F)
    if clip:
        boxes = np.minimum(np.maximum(boxes, F(0)), F(1))
    if len(variance) == 1:
        var = np.full(boxes.size, variance[0], F)
    else:
        var = np.tile(np.array(variance, F), boxes.size // 4)
    return np.stack([boxes, var]).reshape(1, 2, -1)


def normalize(x, scale, across_spatial, eps=1e-10):
    """OpenCV's NormalizeBBox (p = 2) on NCHW ``x``: x / sqrt(sum(x^2) + eps), then the scale."""
    out = np.empty_like(x)
    for n in range(x.shape[0]):
        src = x[n].reshape(x.shape[1], -1).astype(np.float64)
        if across_spatial:
            norm = np.sqrt((src ** 2).sum() + eps)
        else:
            norm = np.sqrt((src ** 2).sum(axis=0, keepdims=True) + eps)
        dst = src / norm
        if scale is not None:
            s = np.asarray(scale, np.float64).reshape(-1)
            dst = dst * (s[0] if s.size == 1 else s.reshape(-1, 1))
        out[n] = dst.reshape(x.shape[1:])
    return out


def _size(b, normalized):
    if b[2] < b[0] or b[3] < b[1]:
        return F(0)
    w, h = F(b[2] - b[0]), F(b[3] - b[1])
    return F(w * h) if normalized else F((w + F(1)) * (h + F(1)))


def _iou(a, b, normalized):
    inter = [max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])]
    i = _size(inter, normalized)
    if i > 0:
        return F(i / (_size(a, normalized) + _size(b, normalized) - i))
    return F(0)


def _decode(prior, var, loc, code_type, normalized, clip):
    v = loc if var is None else [F(var[k] * loc[k]) for k in range(4)]
    if code_type == "CENTER_SIZE":
        pw, ph = F(prior[2] - prior[0]), F(prior[3] - prior[1])
        if not normalized:
            pw, ph = F(pw + 1), F(ph + 1)
        pcx, pcy = F(prior[0] + pw * F(0.5)), F(prior[1] + ph * F(0.5))
        cx, cy = F(v[0] * pw + pcx), F(v[1] * ph + pcy)
        w, h = F(np.exp(v[2]) * pw), F(np.exp(v[3]) * ph)
        box = [F(cx - w * F(0.5)), F(cy - h * F(0.5)), F(cx + w * F(0.5)), F(cy + h * F(0.5))]
    else:
        box = [F(prior[k] + v[k]) for k in range(4)]
    if clip:
        box = [max(min(c, F(1)), F(0)) for c in box]
    return box


def detection_output(loc, conf, priors, num_classes, share_location=True, background_label_id=0,
                     nms_threshold=0.3, top_k=-1, code_type="CORNER", keep_top_k=-1,
                     variance_encoded_in_target=False, confidence_threshold=0.0, clip=False,
                     group_by_classes=False):
    """OpenCV's DetectionOutput forward (normalized boxes): [1, 1, keep_top_k * N, 7], zero padded."""
    num = loc.shape[0]
    num_priors = priors.shape[2] // 4
    num_loc = 1 if share_location else num_classes
    locs = loc.reshape(num, num_priors, num_loc, 4)
    confs = conf.reshape(num, num_priors, num_classes)
    pboxes = priors[0, 0].reshape(num_priors, 4)
    pvars = None if variance_encoded_in_target else priors[0, 1].reshape(num_priors, 4)
    target_classes = num_classes - (1 if 0 <= background_label_id < num_classes else 0)
    rows = []
    for i in range(num):
        decoded = {}
        for c in range(num_loc):
            label = -1 if share_location else c
            decoded[label] = [_decode(pboxes[p], None if pvars is None else pvars[p], locs[i, p, c], code_type,
                                      True, clip) for p in range(num_priors)]
        indices = {}
        for c in range(num_classes):
            if c == background_label_id:
                continue
            boxes = decoded[-1 if share_location else c]
            scores = confs[i, :, c]
            pairs = [(scores[p], p) for p in range(num_priors) if scores[p] > F(confidence_threshold)]
            pairs.sort(key=lambda t: -t[0])  # stable
            if top_k > 0:
                pairs = pairs[:top_k]
            limit = keep_top_k if target_classes == 1 and keep_top_k >= 0 else None
            kept = []
            for _, p in pairs:
                if all(_iou(boxes[p], boxes[k], True) <= F(nms_threshold) for k in kept):
                    kept.append(p)
                    if limit is not None and len(kept) >= limit:
                        break
            indices[c] = kept
        total = sum(len(v) for v in indices.values())
        if keep_top_k > -1 and total > keep_top_k:
            pairs = [(confs[i, p, c], c, p) for c in sorted(indices) for p in indices[c]]
            pairs.sort(key=lambda t: -t[0])
            best = {}
            for _, c, p in pairs[:keep_top_k]:
                best.setdefault(c, []).append(p)
            indices = best
        image_rows = []
        for c in sorted(indices):
            boxes = decoded[-1 if share_location else c]
            for p in indices[c]:
                image_rows.append([i, c, confs[i, p, c], *boxes[p]])
        if not group_by_classes:  # OpenCV 4.x sorts an image's rows by confidence
            image_rows.sort(key=lambda r: -r[2])
        rows += image_rows
    if keep_top_k >= 0:
        out = np.zeros((1, 1, keep_top_k * num, 7), F)
    else:
        out = np.zeros((1, 1, max(len(rows), 1), 7), F)
    if rows:
        out[0, 0, : len(rows)] = np.array(rows, F)
    return out
