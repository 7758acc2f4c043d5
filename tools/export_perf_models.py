"""Export the real-size performance suite (issue 19) to ``.cache/perf_models/`` from hand-written torch models.

Run (torch lives in its own venv, never in the project's)::

    python3 -m venv /tmp/torchvenv
    /tmp/torchvenv/bin/pip install torch==2.13.0 'onnx==1.23.*' onnxscript numpy 'onnxruntime==1.32.*'
    /tmp/torchvenv/bin/python tools/export_perf_models.py [--out .cache/perf_models] [--only NAME,...]

Written with torch 2.13.0 (CPU), onnx 1.23, onnxruntime 1.32. The files are not committed (``.cache/`` is
git-ignored): ``tools/bench_perf_models.py`` times them. Every model is exported by the TorchScript exporter
(``dynamo=False``, opset 17) at its published size, batch 1, static shapes, seeded random weights
(BatchNorm statistics moved off (0, 1) as in ``tools/export_real_models.py``): MobileNetV2, MobileNetV3
Small/Large (hard-swish, squeeze-excite), EfficientNet-B0 (SiLU, SE), SqueezeNet 1.1 at 224x224; a
YOLOv8n-layout detector (C2f, SPPF, DFL detect head with box decoding) at 320x320; ResNet-50 at half width;
a Silero-VAD-like voice-activity model (one 512-sample chunk, STFT-like Conv1d front end, an LSTM whose
state is an input and an output, an ``If`` on the sample rate choosing the 16 kHz or 8 kHz network); a
Conv + GRU keyword spotter on 49x10 MFCCs; MTCNN's P-Net (12x12), R-Net (24x24) and O-Net (48x48).
For each model: ``<name>.onnx`` and ``<name>.inputs.npz`` (one key per graph input).
"""

from __future__ import annotations

import argparse
import sys
import warnings
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from export_real_models import _randomize, conv_bn  # noqa: E402

OPSET = 17


def _div8(v: float) -> int:
    """Channels rounded to a multiple of 8, never below 90% of ``v`` (torchvision's _make_divisible)."""
    new = max(8, int(v + 4) // 8 * 8)
    return new + 8 if new < 0.9 * v else new


# --------------------------------------------------------------------------- MobileNetV2
class InvertedResidual(nn.Module):
    def __init__(self, cin: int, cout: int, stride: int, expand: int):
        super().__init__()
        hid = cin * expand
        self.res = stride == 1 and cin == cout
        layers = [] if expand == 1 else [conv_bn(cin, hid, 1)]
        layers += [conv_bn(hid, hid, 3, stride, groups=hid), conv_bn(hid, cout, 1, act=None)]
        self.conv = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.conv(x) if self.res else self.conv(x)


class MobileNetV2(nn.Module):
    """torchvision's MobileNetV2 (width 1.0, 1000 classes)."""

    def __init__(self):
        super().__init__()
        cfg = [(1, 16, 1, 1), (6, 24, 2, 2), (6, 32, 3, 2), (6, 64, 4, 2), (6, 96, 3, 1), (6, 160, 3, 2),
               (6, 320, 1, 1)]
        layers, cin = [conv_bn(3, 32, 3, 2)], 32
        for t, c, n, s in cfg:
            for i in range(n):
                layers.append(InvertedResidual(cin, c, s if i == 0 else 1, t))
                cin = c
        layers.append(conv_bn(cin, 1280, 1))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 1000))

    def forward(self, image):
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(self.features(image), 1), 1))


# --------------------------------------------------------------------------- MobileNetV3 / EfficientNet
class SqueezeExcite(nn.Module):
    def __init__(self, c: int, squeeze: int, act: type[nn.Module], gate: type[nn.Module]):
        super().__init__()
        self.fc1, self.fc2 = nn.Conv2d(c, squeeze, 1), nn.Conv2d(squeeze, c, 1)
        self.act, self.gate = act(), gate()

    def forward(self, x):
        return x * self.gate(self.fc2(self.act(self.fc1(F.adaptive_avg_pool2d(x, 1)))))


class V3Block(nn.Module):
    def __init__(self, cin: int, k: int, exp: int, cout: int, se: bool, act: type[nn.Module], stride: int):
        super().__init__()
        self.res = stride == 1 and cin == cout
        layers = [] if exp == cin else [conv_bn(cin, exp, 1, act=act)]
        layers.append(conv_bn(exp, exp, k, stride, groups=exp, act=act))
        if se:
            layers.append(SqueezeExcite(exp, _div8(exp // 4), nn.ReLU, nn.Hardsigmoid))
        layers.append(conv_bn(exp, cout, 1, act=None))
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.block(x) if self.res else self.block(x)


RE, HS = nn.ReLU, nn.Hardswish
V3_LARGE = [(3, 16, 16, False, RE, 1), (3, 64, 24, False, RE, 2), (3, 72, 24, False, RE, 1),
            (5, 72, 40, True, RE, 2), (5, 120, 40, True, RE, 1), (5, 120, 40, True, RE, 1),
            (3, 240, 80, False, HS, 2), (3, 200, 80, False, HS, 1), (3, 184, 80, False, HS, 1),
            (3, 184, 80, False, HS, 1), (3, 480, 112, True, HS, 1), (3, 672, 112, True, HS, 1),
            (5, 672, 160, True, HS, 2), (5, 960, 160, True, HS, 1), (5, 960, 160, True, HS, 1)]
V3_SMALL = [(3, 16, 16, True, RE, 2), (3, 72, 24, False, RE, 2), (3, 88, 24, False, RE, 1),
            (5, 96, 40, True, HS, 2), (5, 240, 40, True, HS, 1), (5, 240, 40, True, HS, 1),
            (5, 120, 48, True, HS, 1), (5, 144, 48, True, HS, 1), (5, 288, 96, True, HS, 2),
            (5, 576, 96, True, HS, 1), (5, 576, 96, True, HS, 1)]


class MobileNetV3(nn.Module):
    """torchvision's MobileNetV3 Large or Small (width 1.0, 1000 classes)."""

    def __init__(self, cfg: list, last: int):
        super().__init__()
        layers, cin = [conv_bn(3, 16, 3, 2, act=HS)], 16
        for k, exp, cout, se, act, s in cfg:
            layers.append(V3Block(cin, k, exp, cout, se, act, s))
            cin = cout
        layers.append(conv_bn(cin, 6 * cin, 1, act=HS))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Linear(6 * cin, last), HS(), nn.Dropout(0.2), nn.Linear(last, 1000))

    def forward(self, image):
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(self.features(image), 1), 1))


class MBConv(nn.Module):
    def __init__(self, cin: int, cout: int, k: int, stride: int, expand: int):
        super().__init__()
        hid = cin * expand
        self.res = stride == 1 and cin == cout
        layers = [] if expand == 1 else [conv_bn(cin, hid, 1, act=nn.SiLU)]
        layers += [conv_bn(hid, hid, k, stride, groups=hid, act=nn.SiLU),
                   SqueezeExcite(hid, max(1, cin // 4), nn.SiLU, nn.Sigmoid), conv_bn(hid, cout, 1, act=None)]
        self.block = nn.Sequential(*layers)

    def forward(self, x):
        return x + self.block(x) if self.res else self.block(x)


class EfficientNetB0(nn.Module):
    """torchvision's EfficientNet-B0 (1000 classes; stochastic depth is identity at inference)."""

    def __init__(self):
        super().__init__()
        cfg = [(1, 3, 1, 16, 1), (6, 3, 2, 24, 2), (6, 5, 2, 40, 2), (6, 3, 2, 80, 3), (6, 5, 1, 112, 3),
               (6, 5, 2, 192, 4), (6, 3, 1, 320, 1)]
        layers, cin = [conv_bn(3, 32, 3, 2, act=nn.SiLU)], 32
        for t, k, s, c, n in cfg:
            for i in range(n):
                layers.append(MBConv(cin, c, k, s if i == 0 else 1, t))
                cin = c
        layers.append(conv_bn(cin, 1280, 1, act=nn.SiLU))
        self.features = nn.Sequential(*layers)
        self.classifier = nn.Sequential(nn.Dropout(0.2), nn.Linear(1280, 1000))

    def forward(self, image):
        return self.classifier(torch.flatten(F.adaptive_avg_pool2d(self.features(image), 1), 1))


# --------------------------------------------------------------------------- SqueezeNet 1.1
class Fire(nn.Module):
    def __init__(self, cin: int, squeeze: int, e1: int, e3: int):
        super().__init__()
        self.squeeze = nn.Conv2d(cin, squeeze, 1)
        self.e1, self.e3 = nn.Conv2d(squeeze, e1, 1), nn.Conv2d(squeeze, e3, 3, padding=1)

    def forward(self, x):
        x = F.relu(self.squeeze(x))
        return torch.cat([F.relu(self.e1(x)), F.relu(self.e3(x))], 1)


class SqueezeNet11(nn.Module):
    """torchvision's SqueezeNet 1.1 (1000 classes)."""

    def __init__(self):
        super().__init__()
        pool = lambda: nn.MaxPool2d(3, 2, ceil_mode=True)  # noqa: E731
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, 3, 2), nn.ReLU(), pool(), Fire(64, 16, 64, 64), Fire(128, 16, 64, 64), pool(),
            Fire(128, 32, 128, 128), Fire(256, 32, 128, 128), pool(), Fire(256, 48, 192, 192),
            Fire(384, 48, 192, 192), Fire(384, 64, 256, 256), Fire(512, 64, 256, 256))
        self.classifier = nn.Sequential(nn.Dropout(0.5), nn.Conv2d(512, 1000, 1), nn.ReLU())

    def forward(self, image):
        return torch.flatten(F.adaptive_avg_pool2d(self.classifier(self.features(image)), 1), 1)


# --------------------------------------------------------------------------- YOLOv8n
def yconv(cin: int, cout: int, k: int = 1, s: int = 1) -> nn.Sequential:
    return conv_bn(cin, cout, k, s, act=nn.SiLU)


class Bottleneck(nn.Module):
    def __init__(self, c: int, shortcut: bool):
        super().__init__()
        self.cv1, self.cv2, self.add = yconv(c, c, 3), yconv(c, c, 3), shortcut

    def forward(self, x):
        y = self.cv2(self.cv1(x))
        return x + y if self.add else y


class C2f(nn.Module):
    def __init__(self, cin: int, cout: int, n: int, shortcut: bool):
        super().__init__()
        self.c = cout // 2
        self.cv1, self.cv2 = yconv(cin, 2 * self.c), yconv((2 + n) * self.c, cout)
        self.m = nn.ModuleList(Bottleneck(self.c, shortcut) for _ in range(n))

    def forward(self, x):
        ys = list(self.cv1(x).split((self.c, self.c), 1))
        for m in self.m:
            ys.append(m(ys[-1]))
        return self.cv2(torch.cat(ys, 1))


class SPPF(nn.Module):
    def __init__(self, cin: int, cout: int):
        super().__init__()
        self.cv1, self.cv2 = yconv(cin, cin // 2), yconv(cin * 2, cout)
        self.m = nn.MaxPool2d(5, 1, 2)

    def forward(self, x):
        y = [self.cv1(x)]
        for _ in range(3):
            y.append(self.m(y[-1]))
        return self.cv2(torch.cat(y, 1))


class Detect(nn.Module):
    """YOLOv8's anchor-free head: per level box (4 x 16 DFL bins) and class branches, decoded to xywh."""

    def __init__(self, chs: tuple[int, ...], size: int, nc: int = 80, reg: int = 16):
        super().__init__()
        c2, c3 = max(16, chs[0] // 4, reg * 4), max(chs[0], min(nc, 100))
        self.nc, self.reg = nc, reg
        self.box = nn.ModuleList(nn.Sequential(yconv(c, c2, 3), yconv(c2, c2, 3), nn.Conv2d(c2, 4 * reg, 1))
                                 for c in chs)
        self.cls = nn.ModuleList(nn.Sequential(yconv(c, c3, 3), yconv(c3, c3, 3), nn.Conv2d(c3, nc, 1))
                                 for c in chs)
        self.register_buffer("bins", torch.arange(reg, dtype=torch.float32).view(1, reg, 1, 1))
        anchors, strides = [], []
        for stride in (8, 16, 32):
            n = size // stride
            ys, xs = torch.meshgrid(torch.arange(n) + 0.5, torch.arange(n) + 0.5, indexing="ij")
            anchors.append(torch.stack([xs, ys], 0).reshape(2, -1))
            strides.append(torch.full((1, n * n), float(stride)))
        self.register_buffer("anchors", torch.cat(anchors, 1).unsqueeze(0))
        self.register_buffer("strides", torch.cat(strides, 1).unsqueeze(0))

    def forward(self, feats: list[torch.Tensor]):
        outs = [torch.cat([b(x), c(x)], 1).flatten(2) for x, b, c in zip(feats, self.box, self.cls)]
        y = torch.cat(outs, 2)
        box, cls = y.split((4 * self.reg, self.nc), 1)
        a = box.shape[2]
        dist = (box.view(1, 4, self.reg, a).transpose(2, 1).softmax(1) * self.bins).sum(1)  # DFL
        lt, rb = dist.chunk(2, 1)
        x1y1, x2y2 = self.anchors - lt, self.anchors + rb
        xywh = torch.cat([(x1y1 + x2y2) / 2, x2y2 - x1y1], 1) * self.strides
        return torch.cat([xywh, cls.sigmoid()], 1)


class YOLOv8n(nn.Module):
    """Ultralytics YOLOv8n's layout (depth 0.33, width 0.25, 80 classes) at a fixed square input."""

    def __init__(self, size: int = 320):
        super().__init__()
        self.b0 = nn.Sequential(yconv(3, 16, 3, 2), yconv(16, 32, 3, 2), C2f(32, 32, 1, True),
                                yconv(32, 64, 3, 2), C2f(64, 64, 2, True))
        self.b1 = nn.Sequential(yconv(64, 128, 3, 2), C2f(128, 128, 2, True))
        self.b2 = nn.Sequential(yconv(128, 256, 3, 2), C2f(256, 256, 1, True), SPPF(256, 256))
        self.h1, self.h2 = C2f(384, 128, 1, False), C2f(192, 64, 1, False)
        self.d1, self.h3 = yconv(64, 64, 3, 2), C2f(192, 128, 1, False)
        self.d2, self.h4 = yconv(128, 128, 3, 2), C2f(384, 256, 1, False)
        self.detect = Detect((64, 128, 256), size)

    def forward(self, images):
        p3 = self.b0(images)
        p4 = self.b1(p3)
        p5 = self.b2(p4)
        up = lambda t: F.interpolate(t, scale_factor=2.0, mode="nearest")  # noqa: E731
        t4 = self.h1(torch.cat([up(p5), p4], 1))
        o3 = self.h2(torch.cat([up(t4), p3], 1))
        o4 = self.h3(torch.cat([self.d1(o3), t4], 1))
        o5 = self.h4(torch.cat([self.d2(o4), p5], 1))
        return self.detect([o3, o4, o5])


# --------------------------------------------------------------------------- ResNet-50 at half width
class ResBottleneck(nn.Module):
    def __init__(self, cin: int, width: int, stride: int):
        super().__init__()
        cout = width * 4
        self.body = nn.Sequential(conv_bn(cin, width, 1, act=nn.ReLU), conv_bn(width, width, 3, stride, act=nn.ReLU),
                                  conv_bn(width, cout, 1, act=None))
        self.down = None if stride == 1 and cin == cout else conv_bn(cin, cout, 1, stride, act=None)

    def forward(self, x):
        return F.relu(self.body(x) + (x if self.down is None else self.down(x)))


class ResNet50Half(nn.Module):
    """torchvision's ResNet-50 with every width halved (stem 32, stages 32/64/128/256 x 4), 1000 classes."""

    def __init__(self):
        super().__init__()
        layers, cin = [conv_bn(3, 32, 7, 2, act=nn.ReLU), nn.MaxPool2d(3, 2, 1)], 32
        for i, (width, n) in enumerate(zip((32, 64, 128, 256), (3, 4, 6, 3))):
            for j in range(n):
                layers.append(ResBottleneck(cin, width, 2 if i > 0 and j == 0 else 1))
                cin = width * 4
        self.features = nn.Sequential(*layers)
        self.fc = nn.Linear(cin, 1000)

    def forward(self, image):
        return self.fc(torch.flatten(F.adaptive_avg_pool2d(self.features(image), 1), 1))


# --------------------------------------------------------------------------- Silero-VAD-like
class VadNet(nn.Module):
    """One sample rate's network: STFT as a strided Conv1d (cos/sin basis), magnitude, four Conv1d+ReLU,
    an LSTM over the single remaining frame with (h, c) carried, a 1x1 Conv1d and a sigmoid."""

    def __init__(self, n_fft: int, context: int):
        super().__init__()
        self.context, self.bins = context, n_fft // 2 + 1
        self.stft = nn.Conv1d(1, 2 * self.bins, n_fft, stride=n_fft // 2, bias=False)
        self.enc = nn.Sequential(nn.Conv1d(self.bins, 128, 3, 1, 1), nn.ReLU(), nn.Conv1d(128, 64, 3, 2, 1), nn.ReLU(),
                                 nn.Conv1d(64, 64, 3, 2, 1), nn.ReLU(), nn.Conv1d(64, 128, 3, 1, 1), nn.ReLU())
        self.rnn = nn.LSTM(128, 128)
        self.dec = nn.Conv1d(128, 1, 1)

    def forward(self, x: torch.Tensor, state: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        x = F.pad(x.unsqueeze(1), (0, self.context), mode="reflect")
        spec = self.stft(x)
        mag = torch.sqrt(spec[:, : self.bins] ** 2 + spec[:, self.bins:] ** 2)
        feat = self.enc(mag)[:, :, 0]
        _, (h, c) = self.rnn(feat.unsqueeze(0), (state[0:1], state[1:2]))
        h, c = h[0], c[0]
        prob = torch.sigmoid(self.dec(F.relu(h).unsqueeze(2)))[:, :, 0]
        return prob, torch.stack([h, c])


def export_vad(out: Path) -> dict[str, np.ndarray]:
    """Silero VAD v5's interface, ``(input (1, samples), state (2, 1, 128), sr ()) -> (output (1, 1), stateN)``:
    the 16 kHz (512 samples) and 8 kHz (256 samples) networks are traced and exported one by one, then
    joined under an ``If(sr == 16000)`` with onnx.helper (the TorchScript exporter cannot type a scripted
    LSTM inside a scripted branch). Returns the example inputs."""
    import onnx
    from onnx import TensorProto, helper

    branches = {}
    for tag, net, samples in (("b16", VadNet(256, 64), 512), ("b8", VadNet(128, 32), 256)):
        net = _randomize(net, seed=samples)
        path = out / f"_vad_{tag}.onnx"
        with torch.no_grad(), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            torch.onnx.export(net, (torch.zeros(1, samples), torch.zeros(2, 1, 128)), str(path),
                              input_names=["input", "state"], output_names=["output", "stateN"],
                              opset_version=OPSET, dynamo=False)
        g = onnx.load(str(path)).graph
        path.unlink()
        rename = lambda n: n if n in ("input", "state", "") else f"{tag}_{n}"  # noqa: E731
        for node in g.node:
            node.name = rename(node.name)
            node.input[:] = [rename(n) for n in node.input]
            node.output[:] = [rename(n) for n in node.output]
        for init in g.initializer:
            init.name = rename(init.name)
        outs = [helper.make_tensor_value_info(rename(o.name), TensorProto.FLOAT, None) for o in g.output]
        branches[tag] = helper.make_graph(list(g.node), tag, [], outs, list(g.initializer))
    nodes = [helper.make_node("Constant", [], ["sr16k"], value=helper.make_tensor("v", TensorProto.INT64, [], [16000])),
             helper.make_node("Equal", ["sr", "sr16k"], ["is16k"]),
             helper.make_node("If", ["is16k"], ["output", "stateN"], then_branch=branches["b16"],
                              else_branch=branches["b8"])]
    graph = helper.make_graph(
        nodes, "silero_like_vad",
        [helper.make_tensor_value_info("input", TensorProto.FLOAT, [1, "samples"]),
         helper.make_tensor_value_info("state", TensorProto.FLOAT, [2, 1, 128]),
         helper.make_tensor_value_info("sr", TensorProto.INT64, [])],
        [helper.make_tensor_value_info("output", TensorProto.FLOAT, [1, 1]),
         helper.make_tensor_value_info("stateN", TensorProto.FLOAT, [2, 1, 128])])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", OPSET)])
    onnx.checker.check_model(model, full_check=True)
    onnx.save(model, str(out / "silero_like_vad.onnx"))
    return _vad_inputs(np.random.default_rng(1))


# --------------------------------------------------------------------------- keyword spotter
class KeywordSpotter(nn.Module):
    """A CRNN keyword spotter: 49 MFCC frames x 10 coefficients, a Conv2d over (time, coeff), two GRU layers,
    the last step's state to 12 classes."""

    def __init__(self):
        super().__init__()
        self.conv = conv_bn(1, 48, 3, 1, act=nn.ReLU)
        self.conv2 = nn.Sequential(nn.Conv2d(48, 48, (5, 3), (2, 1), (2, 1), bias=False), nn.BatchNorm2d(48), nn.ReLU())
        self.gru = nn.GRU(48 * 10, 96, num_layers=2, batch_first=True)
        self.fc = nn.Linear(96, 12)

    def forward(self, mfcc):
        x = self.conv2(self.conv(mfcc.unsqueeze(1)))
        x = x.permute(0, 2, 1, 3).flatten(2)
        out, _ = self.gru(x)
        return self.fc(out[:, -1])


# --------------------------------------------------------------------------- MTCNN
def _cp(cin: int, cout: int, k: int) -> list[nn.Module]:
    return [nn.Conv2d(cin, cout, k), nn.PReLU(cout)]


class PNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(*_cp(3, 10, 3), nn.MaxPool2d(2, 2, ceil_mode=True), *_cp(10, 16, 3), *_cp(16, 32, 3))
        self.cls, self.box = nn.Conv2d(32, 2, 1), nn.Conv2d(32, 4, 1)

    def forward(self, image):
        x = self.body(image)
        return self.box(x), torch.softmax(self.cls(x), 1)


class RNet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(*_cp(3, 28, 3), nn.MaxPool2d(3, 2, ceil_mode=True), *_cp(28, 48, 3),
                                  nn.MaxPool2d(3, 2, ceil_mode=True), *_cp(48, 64, 2), nn.Flatten(),
                                  nn.Linear(576, 128), nn.PReLU(128))
        self.cls, self.box = nn.Linear(128, 2), nn.Linear(128, 4)

    def forward(self, image):
        x = self.body(image)
        return self.box(x), torch.softmax(self.cls(x), 1)


class ONet(nn.Module):
    def __init__(self):
        super().__init__()
        self.body = nn.Sequential(*_cp(3, 32, 3), nn.MaxPool2d(3, 2, ceil_mode=True), *_cp(32, 64, 3),
                                  nn.MaxPool2d(3, 2, ceil_mode=True), *_cp(64, 64, 3), nn.MaxPool2d(2, 2, ceil_mode=True),
                                  *_cp(64, 128, 2), nn.Flatten(), nn.Linear(1152, 256), nn.Dropout(0.25), nn.PReLU(256))
        self.cls, self.box, self.marks = nn.Linear(256, 2), nn.Linear(256, 4), nn.Linear(256, 10)

    def forward(self, image):
        x = self.body(image)
        return self.box(x), self.marks(x), torch.softmax(self.cls(x), 1)


# --------------------------------------------------------------------------- registry
def _image(name: str, size: int) -> Callable[[np.random.Generator], dict[str, np.ndarray]]:
    return lambda rng: {name: rng.standard_normal((1, 3, size, size)).astype(np.float32)}


def _vad_inputs(rng: np.random.Generator) -> dict[str, np.ndarray]:
    return {"input": (0.1 * rng.standard_normal((1, 512))).astype(np.float32),
            "state": np.zeros((2, 1, 128), np.float32), "sr": np.array(16000, np.int64)}


# name -> (factory, input names, output names, example inputs); the VAD is export_vad's
SPECS: dict[str, tuple[Callable[[], nn.Module], list[str], list[str], Callable]] = {
    "mobilenetv2": (MobileNetV2, ["image"], ["logits"], _image("image", 224)),
    "mobilenetv3_small": (lambda: MobileNetV3(V3_SMALL, 1024), ["image"], ["logits"], _image("image", 224)),
    "mobilenetv3_large": (lambda: MobileNetV3(V3_LARGE, 1280), ["image"], ["logits"], _image("image", 224)),
    "efficientnet_b0": (EfficientNetB0, ["image"], ["logits"], _image("image", 224)),
    "squeezenet1_1": (SqueezeNet11, ["image"], ["logits"], _image("image", 224)),
    "yolov8n_320": (YOLOv8n, ["images"], ["output0"], _image("images", 320)),
    "resnet50_half": (ResNet50Half, ["image"], ["logits"], _image("image", 224)),
    "kws_crnn": (KeywordSpotter, ["mfcc"], ["logits"],
                 lambda rng: {"mfcc": rng.standard_normal((1, 49, 10)).astype(np.float32)}),
    "mtcnn_pnet": (PNet, ["image"], ["boxes", "probs"], _image("image", 12)),
    "mtcnn_rnet": (RNet, ["image"], ["boxes", "probs"], _image("image", 24)),
    "mtcnn_onet": (ONet, ["image"], ["boxes", "landmarks", "probs"], _image("image", 48)),
}


def export(name: str, out: Path) -> Path:
    """Export one model and its example inputs; returns the .onnx path."""
    if name == "silero_like_vad":
        np.savez(out / f"{name}.inputs.npz", **export_vad(out))
        return out / f"{name}.onnx"
    make, inputs, outputs, feeds_fn = SPECS[name]
    torch.manual_seed(0)
    model = _randomize(make(), seed=0)
    feeds = feeds_fn(np.random.default_rng(1))
    args = tuple(torch.from_numpy(feeds[n]) for n in inputs)
    path = out / f"{name}.onnx"
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, args, str(path), input_names=inputs, output_names=outputs,
                          opset_version=OPSET, dynamo=False)
    np.savez(out / f"{name}.inputs.npz", **feeds)
    return path


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", default=str(Path(__file__).resolve().parent.parent / ".cache" / "perf_models"))
    ap.add_argument("--only", default="", help="comma-separated model names")
    args = ap.parse_args(argv)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    only = [n for n in args.only.split(",") if n] or [*SPECS, "silero_like_vad"]
    failed = []
    for name in only:
        try:
            path = export(name, out)
        except Exception as e:  # report every model that fails to export, then exit non-zero
            failed.append(name)
            print(f"FAILED {name}: {type(e).__name__}: {str(e)[:2000]}", file=sys.stderr)
            continue
        print(f"{name}: {path.stat().st_size / 1e6:.1f} MB")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
