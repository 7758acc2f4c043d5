"""Write the TF1 control-flow fixtures of tests/frontends/test_tf_control_flow.py with real TensorFlow.

Each fixture is a frozen GraphDef built with ``tf.compat.v1`` and control flow v1 (the
``Enter/Exit/Switch/Merge/NextIteration/LoopCond`` frames and TensorArrayV3 ops TF1 frozen graphs
hold), saved as ``tests/frontends/data/tf_<name>.pb``, plus ``tf_<name>.npz`` with the seeded inputs
(``in:<placeholder>``) and what TensorFlow computed (``out:<node>``).

Written with tensorflow-cpu 2.15.1 (``/tmp/vtf``), from the repository root::

    /tmp/vtf/bin/python tools/make_tf_control_flow_fixtures.py [out_dir]

The fixtures:

* ``while_counting``: ``tf.while_loop`` with two loop variables (a counter and an accumulator),
  a loop invariant ``w`` and a trip count fed at run time.
* ``map_fn``: ``tf.map_fn`` normalizing each row of a batch (the shape of the Object Detection
  API's ``Preprocessor/map/while``): a TensorArray scattered before the loop, read per iteration,
  written per iteration and gathered (stacked) after it; batches of 4, 1 and 0 rows.
* ``cond``: ``tf.cond`` v1 on a computed predicate, two inputs (one per predicate value).
* ``nested_while``: a while loop whose body runs another while loop.
* ``nested_cond``: a ``tf.cond`` with two outputs whose true branch is another ``tf.cond`` (one of
  whose branches returns a constant, which hangs on the branch's pivot by a control edge only).
* ``cond_in_while``: a ``tf.cond`` in a while loop's body.
* ``indexed_while``: a while loop indexing a tensor by its counter (``x[i]``, ``x[:i + 1]``,
  ``x[i - n]``, ``x[i:, 1]``: StridedSlice with computed bounds) into a TensorArray it stacks after.
* ``array_ops``: the array, indexing and detection ops an Object Detection API graph's pre- and
  post-processing hold (Fill, Tile, Slice, GatherV2, Unpack, Select, Where, TopKV2, All/Any,
  NonMaxSuppression V1/V2/V3, AddN, a computed Pad, tf.transpose's default perm, a reduction over no axis).
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import tensorflow as tf

tf1 = tf.compat.v1
tf1.disable_eager_execution()
tf1.disable_control_flow_v2()


def _save(out: Path, name: str, graph: tf.Graph, feeds: list[dict], outputs: list[str]) -> None:
    """Freeze ``graph`` to the nodes ``outputs`` need, run it on each feed and save .pb + .npz."""
    gd = tf1.graph_util.extract_sub_graph(graph.as_graph_def(), [o.split(":")[0] for o in outputs])
    (out / f"tf_{name}.pb").write_bytes(gd.SerializeToString())
    arrays: dict[str, np.ndarray] = {}
    with tf1.Session(graph=graph) as sess:
        for k, feed in enumerate(feeds):
            results = sess.run([graph.get_tensor_by_name(o if ":" in o else o + ":0") for o in outputs],
                               {graph.get_tensor_by_name(p + ":0"): v for p, v in feed.items()})
            for p, v in feed.items():
                arrays[f"{k}/in:{p}"] = np.asarray(v)
            for o, r in zip(outputs, results):
                arrays[f"{k}/out:{o}"] = np.asarray(r)
    np.savez(out / f"tf_{name}.npz", **arrays)
    print(f"tf_{name}.pb: {len(gd.node)} nodes, {len(gd.SerializeToString())} bytes; ops:",
          sorted({n.op for n in gd.node}))


def while_counting(out: Path, rng: np.random.Generator) -> None:
    g = tf.Graph()
    with g.as_default():
        x = tf1.placeholder(tf.float32, [3], name="x")
        w = tf1.placeholder(tf.float32, [3], name="w")
        n = tf1.placeholder(tf.int32, [], name="n")

        def body(i, acc):
            return i + 1, acc * w + tf.cast(i, tf.float32)

        i, acc = tf1.while_loop(lambda i, acc: i < n, body, [tf.constant(0), x], name="loop")
        tf.identity(i, name="count")
        tf.identity(acc, name="acc")
    feeds = [{"x": rng.standard_normal(3).astype(np.float32), "w": rng.uniform(0.5, 1.5, 3).astype(np.float32),
              "n": np.int32(n)} for n in (4, 0, 1)]
    _save(out, "while_counting", g, feeds, ["count", "acc"])


def map_fn(out: Path, rng: np.random.Generator) -> None:
    g = tf.Graph()
    with g.as_default():
        x = tf1.placeholder(tf.float32, [None, 6], name="x")

        def normalize(row):
            mean = tf.reduce_mean(row)
            std = tf.sqrt(tf.reduce_mean(tf.square(row - mean)) + 1e-6)
            return (row - mean) / std * 2.0

        tf.identity(tf.map_fn(normalize, x), name="normalized")
    feeds = [{"x": rng.standard_normal((b, 6)).astype(np.float32) * 3 + 1} for b in (4, 1, 0)]
    _save(out, "map_fn", g, feeds, ["normalized"])


def cond(out: Path, rng: np.random.Generator) -> None:
    g = tf.Graph()
    with g.as_default():
        x = tf1.placeholder(tf.float32, [4], name="x")
        y = tf1.cond(tf.reduce_sum(x) > 0.0, lambda: x * 2.0 + 1.0, lambda: tf.abs(x) - 3.0, name="branch")
        tf.identity(y, name="y")
    pos = rng.uniform(0.1, 1.0, 4).astype(np.float32)
    _save(out, "cond", g, [{"x": pos}, {"x": -pos}], ["y"])


def nested_while(out: Path, rng: np.random.Generator) -> None:
    g = tf.Graph()
    with g.as_default():
        x = tf1.placeholder(tf.float32, [2], name="x")

        def outer_body(i, acc):
            def inner_body(j, a):
                return j + 1, a * 0.5 + tf.cast(i * j, tf.float32)

            _, inner = tf1.while_loop(lambda j, a: j < i, inner_body, [tf.constant(0), acc], name="inner")
            return i + 1, inner + x

        _, acc = tf1.while_loop(lambda i, acc: i < 4, outer_body, [tf.constant(0), tf.zeros([2])], name="outer")
        tf.identity(acc, name="acc")
    _save(out, "nested_while", g, [{"x": rng.standard_normal(2).astype(np.float32)}], ["acc"])


def nested_cond(out: Path, rng: np.random.Generator) -> None:
    g = tf.Graph()
    with g.as_default():
        x = tf1.placeholder(tf.float32, [3], name="x")
        p = tf1.placeholder(tf.bool, [], name="p")

        def positive():
            return tf1.cond(p, lambda: (x * 3.0, x + 1.0), lambda: (x - 1.0, tf.constant([7.0, 8.0, 9.0])))

        a, b = tf1.cond(tf.reduce_sum(x) > 0.0, positive, lambda: (-x, x * x), name="outer")
        tf.identity(a, name="a")
        tf.identity(b, name="b")
    x = np.abs(rng.standard_normal(3)).astype(np.float32)
    feeds = [{"x": x, "p": np.bool_(True)}, {"x": x, "p": np.bool_(False)}, {"x": -x, "p": np.bool_(True)}]
    _save(out, "nested_cond", g, feeds, ["a", "b"])


def cond_in_while(out: Path, rng: np.random.Generator) -> None:
    g = tf.Graph()
    with g.as_default():
        x = tf1.placeholder(tf.float32, [3], name="x")

        def body(i, v):
            return i + 1, tf1.cond(tf.reduce_sum(v) > 1.0, lambda: v * 0.5, lambda: v + tf.constant(1.0))

        _, v = tf1.while_loop(lambda i, v: i < 6, body, [tf.constant(0), x], name="loop")
        tf.identity(v, name="v")
    _save(out, "cond_in_while", g, [{"x": rng.standard_normal(3).astype(np.float32)}], ["v"])


def indexed_while(out: Path, rng: np.random.Generator) -> None:
    g = tf.Graph()
    with g.as_default():
        x = tf1.placeholder(tf.float32, [None, 2], name="x")
        n = tf.shape(x)[0]

        def body(i, ta):
            row = x[i] * tf.cast(i, tf.float32) + tf.reduce_sum(x[:i + 1], axis=0) + x[i - n] + x[i:, 1][0]
            return i + 1, ta.write(i, row)

        _, ta = tf1.while_loop(lambda i, ta: i < n, body, [tf.constant(0), tf.TensorArray(tf.float32, size=n)],
                               name="loop")
        tf.identity(ta.stack(), name="rows")
    _save(out, "indexed_while", g, [{"x": rng.standard_normal((b, 2)).astype(np.float32)} for b in (4, 1)], ["rows"])


def array_ops(out: Path, rng: np.random.Generator) -> None:
    """The array, indexing and detection ops of an Object Detection API graph's pre/post-processing."""
    g = tf.Graph()
    with g.as_default():
        x = tf1.placeholder(tf.float32, [None, 4], name="x")
        mask = tf1.placeholder(tf.bool, [None], name="mask")
        boxes = tf1.placeholder(tf.float32, [None, 4], name="boxes")
        scores = tf1.placeholder(tf.float32, [None], name="scores")
        n = tf.shape(x)[0]
        outs = {
            "fill": tf.fill(tf.stack([n, 2]), 1.5),
            "tile": tf.tile(x, tf.stack([1, n])),
            "slice": tf.slice(x, [1, 0], [-1, 3]),
            "slice_computed": tf.slice(x, tf.stack([0, n - 2]), tf.stack([n - 1, -1])),
            "gather": tf.gather(x, [2, 0], axis=1),
            "unstack": tf.unstack(x, num=4, axis=1)[2],
            "select_rows": tf1.where(mask, x, -x),
            "select_v2": tf.where(x > 0.0, x, tf.zeros_like(x)),
            "rank_size": tf.stack([tf.rank(x), tf.size(x)]),
            "split": tf.split(x, 2, axis=1)[1],
            "where": tf.where(x > 0.5),
            "top_k": tf.nn.top_k(tf.reduce_sum(x, axis=1), k=2)[1],
            "all_any": tf.stack([tf.reduce_all(mask), tf.reduce_any(mask)]),
            "nms": tf.image.non_max_suppression(boxes, scores, 4, iou_threshold=0.5, score_threshold=0.1),
            "nms_v1": tf.raw_ops.NonMaxSuppression(boxes=boxes, scores=scores, max_output_size=4, iou_threshold=0.3),
            "nms_v2": tf.raw_ops.NonMaxSuppressionV2(boxes=boxes, scores=scores, max_output_size=5, iou_threshold=0.4),
            "add_n": tf.add_n([x, x * 2.0, -x]),
            "pad_computed": tf.pad(x, tf.stack([tf.stack([0, n]), tf.constant([1, 2])])),
            "transpose_default": tf.transpose(x),
            "sum_no_axis": tf.reduce_sum(x, axis=[]),
        }
        for k, v in outs.items():
            tf.identity(v, name=f"out_{k}")
    corners = rng.uniform(0, 1, (8, 2, 2)).astype(np.float32)
    feed = {"x": rng.standard_normal((5, 4)).astype(np.float32), "mask": np.array([1, 0, 1, 1, 0], bool),
            "boxes": np.concatenate([corners.min(1), corners.max(1)], 1)[:, [0, 1, 2, 3]],
            "scores": rng.uniform(0, 1, 8).astype(np.float32)}
    feed["boxes"][1] = feed["boxes"][0] + 0.01  # overlaps box 0: suppressed unless it scores higher
    _save(out, "array_ops", g, [feed], [f"out_{k}" for k in outs])


def main(argv: list[str]) -> None:
    out = Path(argv[1]) if len(argv) > 1 else Path(__file__).resolve().parents[1] / "tests" / "frontends" / "data"
    out.mkdir(parents=True, exist_ok=True)
    print("TensorFlow", tf.__version__)
    rng = np.random.default_rng(17)
    for make in (while_counting, map_fn, cond, nested_while, nested_cond, cond_in_while, array_ops,
                 indexed_while):
        make(out, rng)


if __name__ == "__main__":
    main(sys.argv)
