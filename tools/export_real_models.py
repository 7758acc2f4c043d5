"""Export the real-model corpus in tests/real_models/ from small torch.nn models.

Run (torch lives in its own venv, never in /work/venv)::

    python3 -m venv /work/torchvenv
    /work/torchvenv/bin/pip install torch==2.13.0 onnx onnxscript numpy onnxruntime==1.32.0
    /work/torchvenv/bin/python tools/export_real_models.py [--out tests/real_models] [--only NAME,...]

Written with torch 2.13.0 (CPU), onnx 1.23, onnxscript 0.7, onnxruntime 1.32 (for the
quantized and ORT-optimized models derived from the exports, see :func:`derived_models`).

Each model is architecturally real (the layer types, shape arithmetic and dynamic axes of the
family it stands for) but narrow, with seeded random weights, so every file stays well under
1.5 MB. Most are exported by the TorchScript exporter (``dynamo=False``): that is what most
ONNX models in the wild came from, with its Shape/Gather/Unsqueeze/Concat shape arithmetic,
Constant nodes, Expand, Where and Range. A few are also exported by the dynamo exporter
(``*_dynamo``), whose graphs look different again (opset 18, LayerNormalization, fewer shape
chains). For each model the script writes ``<name>.onnx`` and ``<name>.inputs.npz``: one npz
key per graph input, seeded example inputs; a second set of shapes for the dynamic axes is
stored under ``<input>@2`` so the tests re-plan on a new shape signature.
"""

from __future__ import annotations

import argparse
import math
import sys
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

OPSET = 17
MAX_BYTES = 1_500_000


# --------------------------------------------------------------------------- (a) BERT
class BertEmbeddings(nn.Module):
    def __init__(self, vocab: int, hidden: int, max_pos: int, types: int = 2):
        super().__init__()
        self.word = nn.Embedding(vocab, hidden)
        self.pos = nn.Embedding(max_pos, hidden)
        self.tok_type = nn.Embedding(types, hidden)
        self.norm = nn.LayerNorm(hidden, eps=1e-12)

    def forward(self, ids, token_type):
        seq = ids.shape[1]
        pos_ids = torch.arange(seq, dtype=torch.long, device=ids.device).unsqueeze(0)
        x = self.word(ids) + self.pos(pos_ids) + self.tok_type(token_type)
        return self.norm(x)


class BertSelfAttention(nn.Module):
    def __init__(self, hidden: int, heads: int):
        super().__init__()
        self.heads, self.dh = heads, hidden // heads
        self.q, self.k, self.v = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)
        self.o = nn.Linear(hidden, hidden)

    def split(self, x):
        b, s, _ = x.size()
        return x.view(b, s, self.heads, self.dh).permute(0, 2, 1, 3)

    def forward(self, x, ext_mask):
        q, k, v = self.split(self.q(x)), self.split(self.k(x)), self.split(self.v(x))
        scores = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(self.dh)
        probs = torch.softmax(scores + ext_mask, dim=-1)
        ctx = torch.matmul(probs, v).permute(0, 2, 1, 3).contiguous()
        b, s = ctx.shape[0], ctx.shape[1]
        return self.o(ctx.view(b, s, self.heads * self.dh))


class BertLayer(nn.Module):
    def __init__(self, hidden: int, heads: int, ffn: int):
        super().__init__()
        self.attn = BertSelfAttention(hidden, heads)
        self.ln1 = nn.LayerNorm(hidden, eps=1e-12)
        self.fc1, self.fc2 = nn.Linear(hidden, ffn), nn.Linear(ffn, hidden)
        self.ln2 = nn.LayerNorm(hidden, eps=1e-12)

    def forward(self, x, ext_mask):
        x = self.ln1(x + self.attn(x, ext_mask))
        return self.ln2(x + self.fc2(F.gelu(self.fc1(x))))  # exact (erf) GELU


class Bert(nn.Module):
    """HF-BERT shaped encoder: embeddings, extended attention mask, post-LN layers, tanh pooler."""

    def __init__(self, vocab=500, hidden=64, heads=4, ffn=128, layers=2, max_pos=128, labels=3):
        super().__init__()
        self.emb = BertEmbeddings(vocab, hidden, max_pos)
        self.layers = nn.ModuleList(BertLayer(hidden, heads, ffn) for _ in range(layers))
        self.pool = nn.Linear(hidden, hidden)
        self.cls = nn.Linear(hidden, labels)

    def forward(self, input_ids, attention_mask, token_type_ids):
        ext = attention_mask[:, None, None, :].to(torch.float32)
        ext = (1.0 - ext) * torch.finfo(torch.float32).min
        x = self.emb(input_ids, token_type_ids)
        for layer in self.layers:
            x = layer(x, ext)
        pooled = torch.tanh(self.pool(x[:, 0]))
        return x, self.cls(pooled)


def bert_inputs(batch: int, seq: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    ids = rng.integers(0, 500, (batch, seq)).astype(np.int64)
    mask = np.ones((batch, seq), np.int64)
    for b in range(1, batch):  # right padding of varying length (row 0 unpadded)
        mask[b, seq - 2 * b:] = 0
    types = (np.arange(seq)[None, :] >= seq // 2).astype(np.int64).repeat(batch, 0)
    return {"input_ids": ids, "attention_mask": mask, "token_type_ids": types}


# --------------------------------------------------------------------------- nn.TransformerEncoder
class TorchEncoder(nn.Module):
    """nn.TransformerEncoder (pre-LN, GELU) with a key padding mask, as sentence encoders export it."""

    def __init__(self, vocab=300, d=48, heads=4, ffn=96, layers=2):
        super().__init__()
        self.emb = nn.Embedding(vocab, d, padding_idx=0)
        self.pos = nn.Parameter(torch.randn(1, 64, d) * 0.02)
        layer = nn.TransformerEncoderLayer(d, heads, ffn, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.enc = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d)

    def forward(self, tokens):
        pad = tokens == 0
        x = self.emb(tokens) + self.pos[:, : tokens.shape[1]]
        x = self.norm(self.enc(x, src_key_padding_mask=pad))
        keep = (~pad).unsqueeze(-1).to(x.dtype)
        return (x * keep).sum(1) / keep.sum(1).clamp(min=1.0)  # masked mean pooling


def tokens_inputs(batch: int, seq: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    t = rng.integers(1, 300, (batch, seq)).astype(np.int64)
    if batch > 1:
        t[1, seq // 2:] = 0
    return {"tokens": t}


# --------------------------------------------------------------------------- (b) GPT
class GPTBlock(nn.Module):
    def __init__(self, d: int, heads: int, max_pos: int, sdpa: bool):
        super().__init__()
        self.heads, self.sdpa = heads, sdpa
        self.ln1, self.ln2 = nn.LayerNorm(d), nn.LayerNorm(d)
        self.qkv, self.proj = nn.Linear(d, 3 * d), nn.Linear(d, d)
        self.fc, self.out = nn.Linear(d, 4 * d), nn.Linear(4 * d, d)
        self.register_buffer("bias", torch.tril(torch.ones(max_pos, max_pos, dtype=torch.bool)).view(1, 1, max_pos, max_pos),
                             persistent=False)

    def attn(self, x):
        b, t, c = x.size()
        q, k, v = self.qkv(x).split(c, dim=2)
        q, k, v = (z.view(b, t, self.heads, c // self.heads).transpose(1, 2) for z in (q, k, v))
        if self.sdpa:
            y = F.scaled_dot_product_attention(q, k, v, is_causal=True)
        else:  # GPT-2 style: slice the tril buffer, where(mask, w, finfo.min)
            w = torch.matmul(q, k.transpose(-1, -2)) / math.sqrt(k.size(-1))
            mask = self.bias[:, :, :t, :t]
            w = torch.where(mask, w, torch.tensor(torch.finfo(w.dtype).min, dtype=w.dtype))
            y = torch.matmul(torch.softmax(w, dim=-1), v)
        return self.proj(y.transpose(1, 2).contiguous().view(b, t, c))

    def forward(self, x):
        x = x + self.attn(self.ln1(x))
        return x + self.out(F.gelu(self.fc(self.ln2(x)), approximate="tanh"))


class GPT(nn.Module):
    """GPT-2 shaped decoder (past-free): tied embeddings, one GPT-2 style and one SDPA/triu block."""

    def __init__(self, vocab=400, d=64, heads=4, max_pos=128):
        super().__init__()
        self.wte, self.wpe = nn.Embedding(vocab, d), nn.Embedding(max_pos, d)
        self.blocks = nn.ModuleList([GPTBlock(d, heads, max_pos, False), GPTBlock(d, heads, max_pos, True)])
        self.ln = nn.LayerNorm(d)

    def forward(self, input_ids):
        t = input_ids.shape[-1]
        pos = torch.arange(0, t, dtype=torch.long).unsqueeze(0)
        x = self.wte(input_ids) + self.wpe(pos)
        # an additive causal mask built with triu/masked_fill, as many decoders build it
        causal = torch.triu(torch.ones(t, t, dtype=torch.bool), diagonal=1)
        bias = torch.zeros(t, t).masked_fill(causal, float("-inf"))
        for blk in self.blocks:
            x = blk(x)
        x = self.ln(x)
        logits = torch.matmul(x, self.wte.weight.t())
        return logits, bias


def ids_inputs(vocab: int) -> Callable:
    def make(batch: int, seq: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"input_ids": rng.integers(0, vocab, (batch, seq)).astype(np.int64)}
    return make


# --------------------------------------------------------------------------- (c) MobileNetV2
def conv_bn(cin, cout, k=3, s=1, groups=1, act: type[nn.Module] | None = nn.ReLU6):
    layers = [nn.Conv2d(cin, cout, k, s, k // 2, groups=groups, bias=False), nn.BatchNorm2d(cout)]
    if act is not None:
        layers.append(act())
    return nn.Sequential(*layers)


class InvertedResidual(nn.Module):
    def __init__(self, cin, cout, stride, expand, act=nn.ReLU6):
        super().__init__()
        hid = cin * expand
        self.use_res = stride == 1 and cin == cout
        layers = [] if expand == 1 else [conv_bn(cin, hid, 1, act=act)]
        layers += [conv_bn(hid, hid, 3, stride, groups=hid, act=act), conv_bn(hid, cout, 1, act=None)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.use_res else self.conv(x)


class MobileNetV2(nn.Module):
    """MobileNetV2 layout (ReLU6 early, HardSwish late like V3), global pool, Flatten+Linear."""

    def __init__(self, classes=10):
        super().__init__()
        cfg = [(1, 8, 1, 1), (4, 12, 2, 2), (4, 16, 2, 2), (4, 24, 1, 2)]
        layers, cin = [conv_bn(3, 8, 3, 2)], 8
        for i, (t, c, n, s) in enumerate(cfg):
            for j in range(n):
                layers.append(InvertedResidual(cin, c, s if j == 0 else 1, t, nn.ReLU6 if i < 2 else nn.Hardswish))
                cin = c
        layers.append(conv_bn(cin, 64, 1, act=nn.Hardswish))
        self.features = nn.Sequential(*layers)
        self.pool = nn.AdaptiveAvgPool2d(1)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(64, classes))

    def forward(self, image):
        return self.classifier(torch.flatten(self.pool(self.features(image)), 1))


def image_inputs(name: str, c: int, h: int, w: int, h2: int | None = None, w2: int | None = None) -> Callable:
    def make(batch: int, second: bool, rng: np.random.Generator) -> dict[str, np.ndarray]:
        hh, ww = (h2 or h, w2 or w) if second else (h, w)
        return {name: rng.standard_normal((batch, c, hh, ww)).astype(np.float32)}
    return make


# --------------------------------------------------------------------------- (d) ResNet
class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.c1 = nn.Conv2d(cin, cout, 3, stride, 1, bias=False)
        self.b1 = nn.BatchNorm2d(cout)
        self.c2 = nn.Conv2d(cout, cout, 3, 1, 1, bias=False)
        self.b2 = nn.BatchNorm2d(cout)
        self.down = None
        if stride != 1 or cin != cout:
            self.down = nn.Sequential(nn.Conv2d(cin, cout, 1, stride, bias=False), nn.BatchNorm2d(cout))

    def forward(self, x):
        idt = x if self.down is None else self.down(x)
        y = F.relu(self.b1(self.c1(x)), inplace=True)
        return F.relu(self.b2(self.c2(y)) + idt)


class ResNet(nn.Module):
    """ResNet-18 layout at 1/8 width: 7x7 stem, MaxPool(ceil_mode), 4 stages, AdaptiveAvgPool, fc."""

    def __init__(self, classes=10):
        super().__init__()
        self.stem = nn.Sequential(nn.Conv2d(3, 8, 7, 2, 3, bias=False), nn.BatchNorm2d(8), nn.ReLU(inplace=True),
                                  nn.MaxPool2d(3, 2, 1, ceil_mode=True))
        chans, cin, blocks = [8, 16, 32, 64], 8, []
        for i, c in enumerate(chans):
            blocks += [BasicBlock(cin, c, 1 if i == 0 else 2), BasicBlock(c, c, 1)]
            cin = c
        self.blocks = nn.Sequential(*blocks)
        self.pool = nn.AdaptiveAvgPool2d((1, 1))
        self.fc = nn.Linear(64, classes)

    def forward(self, image):
        x = self.pool(self.blocks(self.stem(image)))
        return self.fc(x.reshape(x.size(0), -1))


# --------------------------------------------------------------------------- (e) UNet
class DoubleConv(nn.Sequential):
    def __init__(self, cin, cout):
        super().__init__(nn.Conv2d(cin, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True),
                         nn.Conv2d(cout, cout, 3, padding=1), nn.BatchNorm2d(cout), nn.ReLU(inplace=True))


class UNet(nn.Module):
    """Three-level UNet: ConvTranspose, bilinear (align_corners=False, sized from the skip) and
    nearest upsampling, Concat skips, MaxPool down, per-pixel class logits + softmax."""

    def __init__(self, cin=3, classes=4, w=8):
        super().__init__()
        self.d1, self.d2, self.d3 = DoubleConv(cin, w), DoubleConv(w, 2 * w), DoubleConv(2 * w, 4 * w)
        self.up3 = nn.ConvTranspose2d(4 * w, 2 * w, 2, stride=2)
        self.u2 = DoubleConv(4 * w, 2 * w)
        self.u1 = DoubleConv(3 * w, w)
        self.aux = nn.Conv2d(4 * w, classes, 1)
        self.head = nn.Conv2d(w, classes, 1)

    def forward(self, image):
        x1 = self.d1(image)
        x2 = self.d2(F.max_pool2d(x1, 2))
        x3 = self.d3(F.max_pool2d(x2, 2))
        y2 = self.u2(torch.cat([self.up3(x3), x2], 1))
        y1 = F.interpolate(y2, size=x1.shape[-2:], mode="bilinear", align_corners=False)
        y1 = self.u1(torch.cat([y1, x1], 1))
        aux = F.interpolate(self.aux(x3), scale_factor=4.0, mode="nearest")
        logits = self.head(y1) + aux
        return torch.softmax(logits, dim=1)


# --------------------------------------------------------------------------- (f) CRNN
class CRNN(nn.Module):
    """Text-line recognizer: conv stack to height 1, squeeze/permute to (T, B, C), 2-layer BiLSTM,
    Linear, LogSoftmax (CTC layout). Width is dynamic."""

    def __init__(self, classes=37, hidden=32):
        super().__init__()
        self.cnn = nn.Sequential(
            nn.Conv2d(1, 16, 3, 1, 1), nn.ReLU(True), nn.MaxPool2d(2, 2),
            nn.Conv2d(16, 32, 3, 1, 1), nn.ReLU(True), nn.MaxPool2d(2, 2),
            nn.Conv2d(32, 48, 3, 1, 1), nn.BatchNorm2d(48), nn.ReLU(True), nn.MaxPool2d((2, 1), (2, 1)),
            nn.Conv2d(48, 48, 3, 1, 1), nn.BatchNorm2d(48), nn.ReLU(True), nn.MaxPool2d((2, 1), (2, 1)),
            nn.Conv2d(48, 64, 2, 1, 0), nn.ReLU(True))
        self.rnn = nn.LSTM(64, hidden, num_layers=2, bidirectional=True)
        self.fc = nn.Linear(2 * hidden, classes)

    def forward(self, image):
        f = self.cnn(image)                # (B, C, 1, W')
        b, c, h, w = f.size()
        f = f.squeeze(2).permute(2, 0, 1)  # (W', B, C)
        y, _ = self.rnn(f)
        t, b2, hdim = y.size()
        y = self.fc(y.view(t * b2, hdim)).view(t, b2, -1)
        return F.log_softmax(y, dim=2)


# --------------------------------------------------------------------------- (g) audio
class Wav2VecLike(nn.Module):
    """Raw-waveform classifier: wav2vec2-style conv feature extractor (GroupNorm, GELU), GRU,
    masked-free mean pooling over time, Linear."""

    def __init__(self, classes=6, c=32):
        super().__init__()
        self.conv = nn.Sequential(
            nn.Conv1d(1, c, 10, 5, bias=False), nn.GroupNorm(c, c), nn.GELU(),
            nn.Conv1d(c, c, 3, 2, bias=False), nn.GELU(),
            nn.Conv1d(c, c, 3, 2, bias=False), nn.GELU(),
            nn.Conv1d(c, c, 2, 2, bias=False), nn.GELU())
        self.proj = nn.Linear(c, 48)
        self.gru = nn.GRU(48, 32, batch_first=True)
        self.head = nn.Linear(32, classes)

    def forward(self, waveform):
        x = self.conv(waveform.unsqueeze(1)).transpose(1, 2)  # (B, T, C)
        x, _ = self.gru(self.proj(x))
        return self.head(x.mean(dim=1))


class LogMelNet(nn.Module):
    """Keyword-spotting front end: STFT (Hann window) -> power -> mel MatMul -> log, 2-D conv, GRU, mean."""

    def __init__(self, n_fft=128, hop=64, mels=24, classes=5):
        super().__init__()
        self.n_fft, self.hop = n_fft, hop
        self.register_buffer("window", torch.hann_window(n_fft))
        gen = torch.Generator().manual_seed(7)
        self.register_buffer("mel", torch.rand(n_fft // 2 + 1, mels, generator=gen) / n_fft)
        self.conv = nn.Sequential(nn.Conv2d(1, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.MaxPool2d((2, 1)))
        self.gru = nn.GRU(8 * (mels // 2), 32, batch_first=True, bidirectional=True)
        self.head = nn.Linear(64, classes)

    def forward(self, waveform):
        spec = torch.stft(waveform, self.n_fft, self.hop, window=self.window, center=False, return_complex=False)
        power = spec.pow(2).sum(-1)                            # (B, F, T)
        logmel = torch.log(torch.matmul(power.transpose(1, 2), self.mel) + 1e-6)  # (B, T, M)
        x = self.conv(logmel.transpose(1, 2).unsqueeze(1))     # (B, 8, M/2, T)
        b, c, m, t = x.shape
        x = x.permute(0, 3, 1, 2).reshape(b, t, c * m)
        x, _ = self.gru(x)
        return self.head(x.mean(1))


def wave_inputs(n: int, n2: int) -> Callable:
    def make(batch: int, second: bool, rng: np.random.Generator) -> dict[str, np.ndarray]:
        return {"waveform": rng.standard_normal((batch, n2 if second else n)).astype(np.float32)}
    return make


# --------------------------------------------------------------------------- (h) YOLO head
class _NMS(torch.autograd.Function):
    """ONNX NonMaxSuppression through a symbolic, as YOLO 'end2end' exports do (no torchvision)."""

    @staticmethod
    def forward(ctx, boxes, scores, max_out, iou, score_thr):
        n = scores.shape[-1]
        k = min(int(max_out), n)
        idx = torch.arange(k, dtype=torch.int64)
        return torch.stack([torch.zeros_like(idx), torch.zeros_like(idx), idx], 1)

    @staticmethod
    def symbolic(g, boxes, scores, max_out, iou, score_thr):
        return g.op("NonMaxSuppression", boxes, scores, max_out, iou, score_thr, center_point_box_i=0)


class TinyYolo(nn.Module):
    """YOLOv5-shaped single-scale detector: conv backbone, head conv reshaped to
    (B, A, H, W, 5+C), sigmoid/exp decode on an arange/meshgrid grid, class-score TopK, Gather
    of the top boxes, and ONNX NonMaxSuppression over them."""

    def __init__(self, classes=3, anchors=((10, 13), (16, 30), (33, 23)), topk=50):
        super().__init__()
        self.nc, self.na, self.no, self.topk = classes, len(anchors), classes + 5, topk
        self.register_buffer("anchors", torch.tensor(anchors, dtype=torch.float32).view(1, -1, 1, 1, 2))
        self.backbone = nn.Sequential(conv_bn(3, 8, 3, 2, act=nn.SiLU), conv_bn(8, 16, 3, 2, act=nn.SiLU),
                                      conv_bn(16, 24, 3, 2, act=nn.SiLU), conv_bn(24, 32, 3, 2, act=nn.SiLU))
        self.head = nn.Conv2d(32, self.na * self.no, 1)
        self.stride = 16.0

    def forward(self, images):
        p = self.head(self.backbone(images))
        bs, _, ny, nx = p.shape
        p = p.view(bs, self.na, self.no, ny, nx).permute(0, 1, 3, 4, 2).contiguous()
        yv, xv = torch.meshgrid(torch.arange(ny), torch.arange(nx), indexing="ij")
        grid = torch.stack((xv, yv), 2).view(1, 1, ny, nx, 2).float()
        y = p.sigmoid()
        xy = (y[..., 0:2] * 2 - 0.5 + grid) * self.stride
        wh = torch.exp(p[..., 2:4]).clamp(max=50.0) * self.anchors
        det = torch.cat((xy, wh, y[..., 4:]), -1).view(bs, -1, self.no)
        boxes = torch.cat([det[..., :2] - det[..., 2:4] / 2, det[..., :2] + det[..., 2:4] / 2], -1)  # xyxy
        scores = det[..., 4:5] * det[..., 5:]                        # obj * cls, (B, N, C)
        best, _ = scores.max(-1)                                     # (B, N)
        k = min(self.topk, ny * nx * self.na)
        top_scores, top_idx = best.topk(k, dim=1)                    # TopK
        top_boxes = torch.gather(boxes, 1, top_idx.unsqueeze(-1).expand(-1, -1, 4))
        top_cls = torch.gather(scores, 1, top_idx.unsqueeze(-1).expand(-1, -1, self.nc))
        keep = _NMS.apply(top_boxes, top_cls.transpose(1, 2).contiguous(),
                          torch.tensor([20], dtype=torch.int64), torch.tensor([0.45]), torch.tensor([0.05]))
        return top_boxes, top_scores, keep


# --------------------------------------------------------------------------- (i) ViT
class ViT(nn.Module):
    """ViT: Conv patch embedding (stride = patch), flatten/transpose, class token expanded to the
    batch and concatenated, position add, pre-LN nn.TransformerEncoder, LayerNorm, head on CLS."""

    def __init__(self, img=32, patch=8, d=48, heads=4, layers=2, classes=10):
        super().__init__()
        self.patch = nn.Conv2d(3, d, patch, patch)
        self.cls = nn.Parameter(torch.randn(1, 1, d) * 0.02)
        self.pos = nn.Parameter(torch.randn(1, (img // patch) ** 2 + 1, d) * 0.02)
        layer = nn.TransformerEncoderLayer(d, heads, 2 * d, dropout=0.0, activation="gelu",
                                           batch_first=True, norm_first=True)
        self.enc = nn.TransformerEncoder(layer, layers, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(d, eps=1e-6)
        self.head = nn.Linear(d, classes)

    def forward(self, pixel_values):
        x = self.patch(pixel_values).flatten(2).transpose(1, 2)
        x = torch.cat([self.cls.expand(x.shape[0], -1, -1), x], dim=1) + self.pos
        x = self.norm(self.enc(x))
        return self.head(x[:, 0])


# --------------------------------------------------------------------------- (j) extras
class SqueezeExcite(nn.Module):
    def __init__(self, c, r=4):
        super().__init__()
        self.fc1, self.fc2 = nn.Conv2d(c, c // r, 1), nn.Conv2d(c // r, c, 1)

    def forward(self, x):
        s = F.adaptive_avg_pool2d(x, 1)
        return x * F.hardsigmoid(self.fc2(F.relu(self.fc1(s))))


class ConvNeXtSE(nn.Module):
    """ConvNeXt blocks (7x7 depthwise, channels-last LayerNorm via permute, MLP, layer scale)
    followed by an EfficientNet-style MBConv with SiLU and squeeze-excite."""

    def __init__(self, c=32, classes=10):
        super().__init__()
        self.stem = nn.Conv2d(3, c, 4, 4)
        self.dw = nn.Conv2d(c, c, 7, padding=3, groups=c)
        self.ln = nn.LayerNorm(c, eps=1e-6)
        self.pw1, self.pw2 = nn.Linear(c, 4 * c), nn.Linear(4 * c, c)
        self.gamma = nn.Parameter(torch.full((c,), 0.5))
        self.mb = nn.Sequential(conv_bn(c, 2 * c, 1, act=nn.SiLU), conv_bn(2 * c, 2 * c, 3, groups=2 * c, act=nn.SiLU),
                                SqueezeExcite(2 * c), conv_bn(2 * c, c, 1, act=None))
        self.head = nn.Linear(c, classes)

    def forward(self, image):
        x = self.stem(image)
        y = self.dw(x).permute(0, 2, 3, 1)
        y = self.pw2(F.gelu(self.pw1(self.ln(y)))) * self.gamma
        x = x + y.permute(0, 3, 1, 2)
        x = x + self.mb(x)
        return self.head(x.mean((-2, -1)))


class DiffusionBlock(nn.Module):
    """Stable-diffusion-style ResBlock + spatial self-attention: sinusoidal timestep embedding
    (exp/arange/sin/cos/cat), GroupNorm+SiLU+Conv, time-embedding add, einsum attention."""

    def __init__(self, c=32, groups=8, tdim=32):
        super().__init__()
        self.tdim = tdim
        self.t_mlp = nn.Sequential(nn.Linear(tdim, 64), nn.SiLU(), nn.Linear(64, c))
        self.conv_in = nn.Conv2d(4, c, 3, padding=1)
        self.n1, self.c1 = nn.GroupNorm(groups, c), nn.Conv2d(c, c, 3, padding=1)
        self.n2, self.c2 = nn.GroupNorm(groups, c), nn.Conv2d(c, c, 3, padding=1)
        self.na = nn.GroupNorm(groups, c)
        self.qkv, self.proj = nn.Conv2d(c, 3 * c, 1), nn.Conv2d(c, c, 1)
        self.conv_out = nn.Conv2d(c, 4, 3, padding=1)

    def timestep_embedding(self, t):
        half = self.tdim // 2
        freqs = torch.exp(-math.log(10000.0) * torch.arange(half, dtype=torch.float32) / half)
        args = t[:, None].float() * freqs[None]
        return torch.cat([torch.cos(args), torch.sin(args)], dim=-1)

    def forward(self, latent, timestep):
        x = self.conv_in(latent)
        h = self.c1(F.silu(self.n1(x)))
        h = h + self.t_mlp(self.timestep_embedding(timestep))[:, :, None, None]
        x = x + self.c2(F.silu(self.n2(h)))
        b, c, hh, ww = x.shape
        q, k, v = self.qkv(self.na(x)).reshape(b, 3, c, hh * ww).unbind(1)
        w = torch.einsum("bci,bcj->bij", q, k) * (c ** -0.5)
        a = torch.einsum("bij,bcj->bci", torch.softmax(w, dim=-1), v).reshape(b, c, hh, ww)
        x = x + self.proj(a)
        return self.conv_out(F.silu(x))


class TextMisc(nn.Module):
    """RoBERTa/sentence-transformers odds and ends: position ids from the padding mask by CumSum,
    one encoder layer, masked mean pooling, F.normalize (ReduceL2), a flipped sequence, ArgMax
    tags and a OneHot-free scatter of the [CLS] row (index_put -> ScatterND)."""

    def __init__(self, vocab=200, d=32, pad=1):
        super().__init__()
        self.pad = pad
        self.emb, self.pos = nn.Embedding(vocab, d, padding_idx=pad), nn.Embedding(80, d, padding_idx=pad)
        self.layer = BertLayer(d, 4, 64)
        self.tagger = nn.Linear(d, 7)

    def forward(self, input_ids):
        mask = input_ids.ne(self.pad).int()
        pos_ids = (torch.cumsum(mask, dim=1).type_as(mask) * mask).long() + self.pad
        x = self.emb(input_ids) + self.pos(pos_ids)
        ext = (1.0 - mask[:, None, None, :].float()) * -10000.0
        x = self.layer(x, ext)
        keep = mask.unsqueeze(-1).float()
        pooled = F.normalize((x * keep).sum(1) / keep.sum(1).clamp(min=1e-9), p=2, dim=1)
        rev = torch.flip(x, dims=[1])
        tags = self.tagger(x + 0.5 * rev).argmax(-1)
        x2 = x.clone()
        x2[:, 0] = pooled
        return pooled, tags, x2


def text_misc_inputs(batch, seq, rng):
    ids = rng.integers(2, 200, (batch, seq)).astype(np.int64)
    for b in range(1, batch):
        ids[b, seq - 2 * b:] = 1
    return {"input_ids": ids}


class SuperRes(nn.Module):
    """ESPCN-style x2 super-resolution: reflect-padded convs, PixelShuffle (DepthToSpace),
    plus a bicubic-upsampled residual, clamped to [0, 1]."""

    def __init__(self, c=16, r=2):
        super().__init__()
        self.body = nn.Sequential(nn.Conv2d(3, c, 5, padding=2, padding_mode="reflect"), nn.Tanh(),
                                  nn.Conv2d(c, c, 3, padding=1, padding_mode="reflect"), nn.PReLU(c),
                                  nn.Conv2d(c, 3 * r * r, 3, padding=1))
        self.shuffle = nn.PixelShuffle(r)
        self.r = r

    def forward(self, image):
        up = F.interpolate(image, scale_factor=float(self.r), mode="bicubic", align_corners=False)
        return torch.clamp(self.shuffle(self.body(image)) + up, 0.0, 1.0)


class STNRecognizer(nn.Module):
    """Spatial-transformer text rectification (as in ASTER/RARE-lite): a localization net
    predicts an affine theta, affine_grid + grid_sample resample the crop, then a conv
    classifier with InstanceNorm and LeakyReLU reads it."""

    def __init__(self, classes=11):
        super().__init__()
        self.loc = nn.Sequential(nn.Conv2d(1, 8, 3, 2, 1), nn.ReLU(), nn.Conv2d(8, 8, 3, 2, 1), nn.ReLU(),
                                 nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(8, 6))
        nn.init.zeros_(self.loc[-1].weight)
        with torch.no_grad():
            self.loc[-1].bias.copy_(torch.tensor([0.9, 0.1, 0.0, -0.05, 0.8, 0.1]))
        self.read = nn.Sequential(nn.Conv2d(1, 16, 3, 1, 1), nn.InstanceNorm2d(16, affine=True), nn.LeakyReLU(0.1),
                                  nn.MaxPool2d(2), nn.Conv2d(16, 16, 3, 1, 1), nn.LeakyReLU(0.1))
        self.head = nn.Linear(16, classes)

    def forward(self, image):
        theta = self.loc(image).view(-1, 2, 3)
        grid = F.affine_grid(theta, list(image.size()), align_corners=False)
        rect = F.grid_sample(image, grid, mode="bilinear", padding_mode="zeros", align_corners=False)
        f = self.read(rect)                      # (B, C, H/2, W/2)
        f = f.mean(2).permute(0, 2, 1)           # (B, T, C)
        return self.head(f).log_softmax(-1), rect


class GreedyDecodeLoop(nn.Module):
    """Attention OCR decoder (SAR/ASTER shape): encoder features, then a scripted greedy loop of
    a GRU cell + additive attention + argmax embedding feedback for ``steps`` steps — exported as
    an ONNX Loop with loop-carried state and scan outputs."""

    def __init__(self, classes=12, c=24, hid=32):
        super().__init__()
        self.enc = nn.Sequential(nn.Conv2d(1, c, 3, 2, 1), nn.ReLU(), nn.Conv2d(c, c, 3, (2, 1), 1), nn.ReLU())
        self.dec = _DecoderLoop(classes, c, hid)

    def forward(self, image: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        f = self.enc(image).mean(2).permute(0, 2, 1)  # (B, T, C)
        return self.dec(f, steps)


class _DecoderLoop(nn.Module):
    def __init__(self, classes: int, c: int, hid: int):
        super().__init__()
        self.emb = nn.Embedding(classes, hid)
        self.hid = hid
        self.ih, self.hh = nn.Linear(hid + c, 3 * hid), nn.Linear(hid, 3 * hid)  # a GRU cell, written out
        self.wq, self.wk = nn.Linear(hid, c), nn.Linear(c, c)
        self.v = nn.Linear(c, 1)
        self.out = nn.Linear(hid + c, classes)

    def forward(self, feats: torch.Tensor, steps: torch.Tensor) -> torch.Tensor:
        b = feats.size(0)
        h = torch.zeros(b, self.hid)
        tok = torch.zeros(b, dtype=torch.long)
        keys = self.wk(feats)
        outs = []
        for _ in range(int(steps)):
            e = self.v(torch.tanh(keys + self.wq(h).unsqueeze(1))).squeeze(2)
            ctx = torch.bmm(torch.softmax(e, 1).unsqueeze(1), feats).squeeze(1)
            gi = self.ih(torch.cat([self.emb(tok), ctx], 1)).chunk(3, 1)
            gh = self.hh(h).chunk(3, 1)
            r, z = torch.sigmoid(gi[0] + gh[0]), torch.sigmoid(gi[1] + gh[1])
            h = (1 - z) * torch.tanh(gi[2] + r * gh[2]) + z * h
            logits = self.out(torch.cat([h, ctx], 1))
            tok = logits.argmax(1)
            outs.append(logits.unsqueeze(1))
        return torch.cat(outs, 1)


# --------------------------------------------------------------------------- registry
class Spec:
    """One corpus entry: a model factory, example inputs (first set, second set), export settings."""

    def __init__(self, name, make, inputs, outputs, dynamic, feeds, feeds2, dynamo=False, opset=OPSET, fold=True):
        self.name, self.make, self.inputs, self.outputs = name, make, inputs, outputs
        self.dynamic, self.feeds, self.feeds2, self.dynamo, self.opset = dynamic, feeds, feeds2, dynamo, opset
        self.fold = fold

    def variant(self, suffix: str, **changes) -> "Spec":
        """The same model exported another way (older opset, dynamo, no constant folding)."""
        new = Spec(self.name + suffix, self.make, self.inputs, self.outputs, self.dynamic, self.feeds, self.feeds2,
                   self.dynamo, self.opset, self.fold)
        for k, v in changes.items():
            setattr(new, k, v)
        return new


def _seq(fn, b, s):
    return lambda rng: fn(b, s, rng)


def _img(fn, b, second):
    return lambda rng: fn(b, second, rng)


def specs() -> list[Spec]:
    """The corpus, then variants: older opsets (LayerNorm/GELU/HardSwish decomposed, Resize with
    roi, axes as attributes), no constant folding (BatchNormalization and Constant chains kept),
    and the dynamo exporter (which, in torch 2.13, cannot decompose an LSTM over a dynamic
    width, so the CRNN has no dynamo variant)."""
    base = {s.name: s for s in _base_specs()}
    img_dyn = {"image": {0: "batch", 2: "height", 3: "width"}}
    return list(base.values()) + [
        base["bert"].variant("_opset13", opset=13),
        base["gpt"].variant("_opset14", opset=14),
        base["mobilenetv2"].variant("_opset11", opset=11),
        base["resnet"].variant("_nofold", fold=False),
        base["unet"].variant("_opset11", opset=11),
        base["yolo"].variant("_opset11", opset=11),
        # torch.export specializes a size-1 example dimension, so dynamo examples have batch >= 2
        base["diffusion_block"].variant("_dynamo", dynamo=True, opset=18,
                                        dynamic={"latent": img_dyn["image"], "timestep": {0: "batch"}},
                                        feeds=lambda rng: _diff_inputs(2, 16, rng),
                                        feeds2=lambda rng: _diff_inputs(3, 12, rng)),
        base["vit"].variant("_dynamo", dynamo=True, opset=18, dynamic={"pixel_values": {0: "batch"}},
                            feeds=_img(image_inputs("pixel_values", 3, 32, 32), 2, False)),
    ]


def _base_specs() -> list[Spec]:
    B, S = {0: "batch"}, {0: "batch", 1: "seq"}
    img = {0: "batch", 2: "height", 3: "width"}
    return [
        Spec("bert", Bert, ["input_ids", "attention_mask", "token_type_ids"], ["last_hidden_state", "logits"],
             {"input_ids": S, "attention_mask": S, "token_type_ids": S, "last_hidden_state": S, "logits": B},
             _seq(bert_inputs, 2, 16), _seq(bert_inputs, 3, 11)),
        Spec("bert_dynamo", Bert, ["input_ids", "attention_mask", "token_type_ids"], ["last_hidden_state", "logits"],
             {"input_ids": S, "attention_mask": S, "token_type_ids": S},
             _seq(bert_inputs, 2, 16), _seq(bert_inputs, 3, 11), dynamo=True, opset=18),
        # the TorchScript exporter bakes the sequence length into nn.MultiheadAttention's reshapes
        # (a known limitation), so that export has a dynamic batch only; dynamo keeps both axes.
        Spec("sentence_encoder", TorchEncoder, ["tokens"], ["sentence_embedding"], {"tokens": B, "sentence_embedding": B},
             _seq(tokens_inputs, 2, 12), _seq(tokens_inputs, 3, 12)),
        Spec("sentence_encoder_dynamo", TorchEncoder, ["tokens"], ["sentence_embedding"], {"tokens": S},
             _seq(tokens_inputs, 2, 12), _seq(tokens_inputs, 3, 20), dynamo=True, opset=18),
        Spec("gpt", GPT, ["input_ids"], ["logits", "causal_bias"],
             {"input_ids": S, "logits": S, "causal_bias": {0: "seq", 1: "seq"}},
             _seq(ids_inputs(400), 1, 10), _seq(ids_inputs(400), 2, 17)),
        Spec("mobilenetv2", MobileNetV2, ["image"], ["logits"], {"image": img, "logits": B},
             _img(image_inputs("image", 3, 64, 64, 48, 80), 1, False), _img(image_inputs("image", 3, 64, 64, 48, 80), 2, True)),
        Spec("resnet", ResNet, ["image"], ["logits"], {"image": img, "logits": B},
             _img(image_inputs("image", 3, 64, 64, 57, 71), 1, False), _img(image_inputs("image", 3, 64, 64, 57, 71), 2, True)),
        Spec("unet", UNet, ["image"], ["probs"], {"image": img, "probs": img},
             _img(image_inputs("image", 3, 32, 32, 48, 24), 1, False), _img(image_inputs("image", 3, 32, 32, 48, 24), 2, True)),
        Spec("crnn", CRNN, ["image"], ["log_probs"], {"image": {0: "batch", 3: "width"}, "log_probs": {0: "time", 1: "batch"}},
             _img(image_inputs("image", 1, 32, 100, None, 64), 1, False), _img(image_inputs("image", 1, 32, 100, None, 64), 3, True)),
        Spec("wav2vec_gru", Wav2VecLike, ["waveform"], ["logits"], {"waveform": {0: "batch", 1: "samples"}, "logits": B},
             _img(wave_inputs(1600, 2400), 1, False), _img(wave_inputs(1600, 2400), 2, True)),
        Spec("logmel_gru", LogMelNet, ["waveform"], ["logits"], {"waveform": {0: "batch", 1: "samples"}, "logits": B},
             _img(wave_inputs(2048, 3200), 1, False), _img(wave_inputs(2048, 3200), 2, True)),
        Spec("yolo", TinyYolo, ["images"], ["boxes", "scores", "selected"],
             {"images": img, "boxes": B, "scores": B},
             _img(image_inputs("images", 3, 96, 96, 64, 128), 1, False),
             _img(image_inputs("images", 3, 96, 96, 64, 128), 2, True)),
        Spec("vit", ViT, ["pixel_values"], ["logits"], {"pixel_values": B, "logits": B},
             _img(image_inputs("pixel_values", 3, 32, 32), 1, False), _img(image_inputs("pixel_values", 3, 32, 32), 3, True)),
        Spec("convnext_se", ConvNeXtSE, ["image"], ["logits"], {"image": img, "logits": B},
             _img(image_inputs("image", 3, 32, 32, 48, 40), 1, False), _img(image_inputs("image", 3, 32, 32, 48, 40), 2, True)),
        Spec("convnext_se_dynamo", ConvNeXtSE, ["image"], ["logits"], {"image": img},
             _img(image_inputs("image", 3, 32, 32, 48, 40), 1, False), _img(image_inputs("image", 3, 32, 32, 48, 40), 2, True),
             dynamo=True, opset=18),
        Spec("text_misc", TextMisc, ["input_ids"], ["sentence_embedding", "tags", "hidden"],
             {"input_ids": S, "sentence_embedding": B, "tags": S, "hidden": S},
             _seq(text_misc_inputs, 2, 9), _seq(text_misc_inputs, 3, 14)),
        Spec("super_resolution", SuperRes, ["image"], ["upscaled"], {"image": img, "upscaled": img},
             lambda rng: {"image": rng.random((1, 3, 24, 24), np.float32)},
             lambda rng: {"image": rng.random((2, 3, 16, 28), np.float32)}),
        Spec("stn_ocr", STNRecognizer, ["image"], ["log_probs", "rectified"],
             {"image": {0: "batch", 3: "width"}, "log_probs": {0: "batch", 1: "time"}, "rectified": {0: "batch", 3: "width"}},
             _img(image_inputs("image", 1, 16, 48, None, 64), 2, False), _img(image_inputs("image", 1, 16, 48, None, 64), 3, True),
             opset=20),
        Spec("ocr_decoder_loop", GreedyDecodeLoop, ["image", "steps"], ["logits"],
             {"image": {0: "batch", 3: "width"}, "logits": {0: "batch", 1: "steps"}},
             lambda rng: {"image": rng.standard_normal((2, 1, 16, 40)).astype(np.float32), "steps": np.array(5, np.int64)},
             lambda rng: {"image": rng.standard_normal((1, 1, 16, 24)).astype(np.float32), "steps": np.array(7, np.int64)}),
        Spec("diffusion_block", DiffusionBlock, ["latent", "timestep"], ["noise_pred"],
             {"latent": img, "timestep": B, "noise_pred": img},
             lambda rng: _diff_inputs(1, 16, rng), lambda rng: _diff_inputs(2, 12, rng)),
    ]


def _diff_inputs(batch, hw, rng):
    return {"latent": rng.standard_normal((batch, 4, hw, hw)).astype(np.float32),
            "timestep": rng.integers(0, 1000, (batch,)).astype(np.int64)}


def _randomize(model: nn.Module, seed: int) -> nn.Module:
    """Seeded weights, with BatchNorm running stats moved off (0, 1) so folding them matters."""
    torch.manual_seed(seed)
    for m in model.modules():
        if isinstance(m, (nn.BatchNorm1d, nn.BatchNorm2d)):
            m.running_mean.uniform_(-0.2, 0.2)
            m.running_var.uniform_(0.5, 1.5)
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
        elif isinstance(m, (nn.GroupNorm, nn.LayerNorm)) and m.weight is not None:
            m.weight.data.uniform_(0.5, 1.5)
            m.bias.data.uniform_(-0.2, 0.2)
    return model.eval()


def _dynamo_shapes(spec: Spec, example: dict[str, torch.Tensor]):
    dims: dict[str, torch.export.Dim] = {}
    shapes = {}
    for name in spec.inputs:
        axes = spec.dynamic.get(name, {})
        shapes[name] = {ax: dims.setdefault(sym, torch.export.Dim(sym, min=1 if sym != "seq" else 2, max=4096))
                        for ax, sym in axes.items()} or None
    return shapes


def export(spec: Spec, out: Path) -> Path:
    """Export one spec; returns the .onnx path."""
    torch.manual_seed(0)
    model = _randomize(spec.make(), seed=0)
    if isinstance(model, GreedyDecodeLoop) and not spec.dynamo:
        model = torch.jit.script(model)  # the data-dependent loop becomes an ONNX Loop
    feeds = spec.feeds(np.random.default_rng(1))
    feeds2 = spec.feeds2(np.random.default_rng(2))
    args = tuple(torch.from_numpy(feeds[n]) for n in spec.inputs)
    path = out / f"{spec.name}.onnx"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        if spec.dynamo:
            prog = torch.onnx.export(model, args, input_names=spec.inputs, output_names=spec.outputs,
                                     opset_version=spec.opset, dynamo=True, external_data=False,
                                     dynamic_shapes=_dynamo_shapes(spec, dict(zip(spec.inputs, args))))
            prog.save(str(path), external_data=False)
        else:
            torch.onnx.export(model, args, str(path), input_names=spec.inputs, output_names=spec.outputs,
                              opset_version=spec.opset, dynamo=False, dynamic_axes=spec.dynamic,
                              do_constant_folding=spec.fold)
    # the example feeds: first set under the input name, second set under "<name>@2"
    arrays = dict(feeds)
    arrays.update({f"{k}@2": v for k, v in feeds2.items()})
    np.savez(out / f"{spec.name}.inputs.npz", **arrays)
    size = path.stat().st_size
    if size > MAX_BYTES:
        raise SystemExit(f"{spec.name}: {size} bytes is over the {MAX_BYTES} byte budget; narrow the model")
    return path


def derived_models(out: Path) -> list[str]:
    """Models made from exported ones by onnxruntime's own tools, as deployments ship them:
    dynamic int8 quantization of the BERT (DynamicQuantizeLinear + MatMulInteger), static QDQ
    quantization of the ResNet calibrated on its example inputs, and the BERT after
    onnxruntime's transformer optimizer (com.microsoft EmbedLayerNormalization, Attention,
    SkipLayerNormalization, BiasGelu). They reuse their source model's example inputs."""
    import shutil

    from onnxruntime.quantization import (CalibrationDataReader, QuantFormat, QuantType, quantize_dynamic,
                                          quantize_static)
    from onnxruntime.transformers import optimizer

    class _Calibration(CalibrationDataReader):
        def __init__(self, feeds: list[dict[str, np.ndarray]]):
            self._it = iter(feeds)

        def get_next(self):
            return next(self._it, None)

    made = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        quantize_dynamic(out / "bert.onnx", out / "bert_int8_dynamic.onnx", weight_type=QuantType.QInt8)
        made.append(("bert_int8_dynamic", "bert"))
        with np.load(out / "resnet.inputs.npz") as d:
            calib = [{"image": d["image"]}, {"image": d["image@2"][:1]}]
        quantize_static(out / "resnet.onnx", out / "resnet_int8_qdq.onnx", _Calibration(calib),
                        quant_format=QuantFormat.QDQ)
        made.append(("resnet_int8_qdq", "resnet"))
        fused = optimizer.optimize_model(str(out / "bert.onnx"), model_type="bert", num_heads=4, hidden_size=64,
                                         opt_level=1)
        fused.save_model_to_file(str(out / "bert_ort_fused.onnx"))
        made.append(("bert_ort_fused", "bert"))
    for name, source in made:
        shutil.copyfile(out / f"{source}.inputs.npz", out / f"{name}.inputs.npz")
    return [name for name, _ in made]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / "tests" / "real_models"))
    ap.add_argument("--only", default="", help="comma-separated model names")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    only = {n for n in args.only.split(",") if n}
    torch.backends.mha.set_fastpath_enabled(False)  # export the math, not the fused inference kernel
    failed = []
    for spec in specs():
        if only and spec.name not in only:
            continue
        try:
            path = export(spec, out)
        except Exception as e:  # report every model that fails to export, then exit non-zero
            failed.append(spec.name)
            print(f"FAILED {spec.name}: {type(e).__name__}: {str(e)[:2000]}", file=sys.stderr)
            continue
        print(f"{spec.name}: {path.stat().st_size / 1e3:.0f} kB")
    if not only:
        for name in derived_models(out):
            print(f"{name}: {(out / f'{name}.onnx').stat().st_size / 1e3:.0f} kB")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
