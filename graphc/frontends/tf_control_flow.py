"""TensorFlow 1 control flow (v1 frames) -> ONNX ``Loop`` and ``If``.

A TF1 ``tf.while_loop`` is a *frame*: ``Enter`` nodes (attr ``frame_name``) bring tensors in,
each loop variable cycles ``Enter -> Merge -> Switch(pred=LoopCond) -> body -> NextIteration ->
Merge`` and leaves through ``Exit`` (``Switch:0``); an ``Enter`` with ``is_constant`` is a loop
invariant. A frame becomes an ONNX ``Loop`` without a trip count: the condition subgraph (what
feeds ``LoopCond``) is computed once in the enclosing graph on the initial values (the Loop's
initial ``cond``), and again at the end of the body on the next values, which is when ONNX reads it.
Frames nest (each body is a scope of its own).

``tf.map_fn``'s TensorArrayV3 ops map when they follow its pattern: an array scattered before the
loop with indices ``Range(0, n, 1)`` and read inside it becomes a ``Gather`` of the scattered
tensor; an array written inside the loop at a counter (a loop variable starting at 0, plus 1 per
iteration) whose flow is a loop variable becomes a scan output, which ``TensorArrayGatherV3``
with ``Range(0, n, 1)`` after the loop reads whole.

A ``tf.cond`` v1 (``Switch`` on a predicate that is no ``LoopCond``, joined by a ``Merge``)
becomes an ``If`` per ``Merge``, whose branches are the nodes only that branch's ``Switch`` output
reaches; a constant predicate folds to the taken branch.

Anything else in a frame is a :class:`~graphc.errors.ModelFormatError` naming the node and
pointing at the ``inputs=``/``outputs=`` cut. The per-node conversion is the frontend's, passed
in as ``convert`` (no import cycle with :mod:`.tensorflow`).
"""

from __future__ import annotations

from collections import ChainMap
from dataclasses import dataclass, field
from typing import Any, Callable, MutableMapping

import numpy as np
from onnx import AttributeProto

from ..errors import ModelFormatError
from ..ir import Graph, Op, TensorType, Value
from .builder import GraphBuilder

__all__ = ["CONTROL_FLOW_OPS", "ControlFlowImporter", "has_control_flow"]

#: ops of control flow v1 (the Ref variants behave the same on values)
CONTROL_FLOW_OPS = {"Enter", "Exit", "Switch", "Merge", "NextIteration", "LoopCond",
                    "RefEnter", "RefExit", "RefSwitch", "RefMerge", "RefNextIteration"}
TENSOR_ARRAY_OPS = {"TensorArrayV3", "TensorArrayScatterV3", "TensorArrayReadV3", "TensorArrayWriteV3",
                    "TensorArrayGatherV3", "TensorArraySizeV3"}

CUT_ADVICE = ("graphc imports TF1 while loops, tf.map_fn and tf.cond in the shapes TensorFlow writes them; "
              "to import the rest, cut this part off with inputs=[...]/outputs=[...] (--inputs/--outputs) "
              "at the tensors around it")

Ref = tuple[str, int]
#: converts one NodeDef: (builder, NodeDef, input values, node name to give it) -> its outputs
NodeConverter = Callable[[GraphBuilder, Any, list[Value], str], list[Value]]


def has_control_flow(nodes: list[Any]) -> bool:
    """True when the GraphDef holds control flow v1 or TensorArray ops."""
    return any(n.op in CONTROL_FLOW_OPS or n.op in TENSOR_ARRAY_OPS for n in nodes)


def _base_op(op: str) -> str:
    return op[3:] if op.startswith("Ref") and op[3:] in CONTROL_FLOW_OPS else op


def _ref(s: str) -> Ref | None:
    if s.startswith("^"):
        return None
    name, _, port = s.partition(":")
    return name, int(port) if port.isdigit() else 0


# ------------------------------------------------------------- TensorArray stand-ins
@dataclass(eq=False)
class _TensorArray:
    """A TensorArrayV3 handle: its size and element type, and the tensor scattered into it (if any)."""

    node: str
    size: Value
    dtype: np.dtype | None = None
    scattered: Value | None = None


@dataclass(eq=False)
class _Flow:
    """A TensorArray's flow token; ``written`` after a TensorArrayWriteV3 (value, index),
    ``stacked`` after the loop that wrote it (the Loop's scan output)."""

    array: _TensorArray
    written: tuple[Value, Value, str] | None = None
    stacked: Value | None = None


# ------------------------------------------------------------------- the frames
@dataclass
class _LoopVar:
    enter: Any
    merge: str
    switch: str
    next_iteration: Any
    exits: list[str] = field(default_factory=list)


@dataclass
class _Frame:
    name: str
    parent: str | None
    enters: list[Any] = field(default_factory=list)


class ControlFlowImporter:
    """Converts a GraphDef holding TF1 control flow, scope by scope (the root graph, each frame body)."""

    def __init__(self, nodes: list[Any], ports: dict[str, int], convert: NodeConverter,
                 decode: Callable[[Any, str], Any]):
        self.by_name = {n.name: n for n in nodes}
        self.position = {n.name: i for i, n in enumerate(nodes)}
        self.ports = ports
        self.convert = convert
        self.decode = decode
        self.readers: dict[str, list[tuple[Any, int]]] = {}
        for n in nodes:
            for i, s in enumerate(n.input):
                if (r := _ref(s)) is not None:
                    self.readers.setdefault(r[0], []).append((n, r[1]))
        self.frames: dict[str, _Frame] = {}
        self.frame_of: dict[str, str | None] = {}
        self._assign_frames(nodes)

    # ---------------------------------------------------------------- analysis
    def _attr(self, nd: Any, key: str, default: Any = None) -> Any:
        return self.decode(nd.attr[key], nd.name) if key in nd.attr else default

    def _ancestors(self, frame: str | None) -> list[str | None]:
        chain: list[str | None] = [frame]
        while frame is not None:
            frame = self.frames[frame].parent
            chain.append(frame)
        return chain

    def _assign_frames(self, nodes: list[Any]) -> None:
        """The frame of every node (None: the root graph), in an order that skips NextIteration -> Merge."""
        for nd in self._order_all(nodes):
            op = _base_op(nd.op)
            srcs = [s.lstrip("^").partition(":")[0] for s in nd.input]  # data and control inputs
            known = [self.frame_of[s] for s in srcs if s in self.frame_of]
            if op == "Enter":
                name = self._attr(nd, "frame_name")
                if not name:
                    raise ModelFormatError(f"node {nd.name!r} (Enter) has no frame_name; {CUT_ADVICE}")
                outer = self._deepest(nd, known)
                frame = self.frames.setdefault(name, _Frame(name, outer))
                if frame.parent != outer:
                    raise ModelFormatError(f"node {nd.name!r} (Enter) enters frame {name!r} from frame {outer!r}, "
                                           f"its other Enters from {frame.parent!r}; {CUT_ADVICE}")
                frame.enters.append(nd)
                self.frame_of[nd.name] = name
            elif op == "Exit":
                inner = self._deepest(nd, known)
                if inner is None:
                    raise ModelFormatError(f"node {nd.name!r} (Exit) leaves no while frame: no Enter with a frame_name "
                                           f"leads to it, and a loop (a cycle through Merge/NextIteration) without one "
                                           f"is not a TF1 frame graphc can import as a Loop; {CUT_ADVICE}")
                self.frame_of[nd.name] = self.frames[inner].parent
            else:
                self.frame_of[nd.name] = self._deepest(nd, known)

    def _deepest(self, nd: Any, frames: list[str | None]) -> str | None:
        best: str | None = None
        for f in frames:
            if f == best or f in self._ancestors(best):
                continue
            if best not in self._ancestors(f):
                raise ModelFormatError(f"node {nd.name!r} ({nd.op}) reads tensors of two unrelated while frames "
                                       f"{best!r} and {f!r}; {CUT_ADVICE}")
            best = f
        return best

    def _order_all(self, nodes: list[Any]) -> list[Any]:
        """Every node after its inputs (data and control), NextIteration -> Merge edges left out."""
        deps = {n.name: [s for s in (x.lstrip("^").partition(":")[0] for x in n.input)
                         if s in self.by_name and not (_base_op(n.op) == "Merge"
                                                       and _base_op(self.by_name[s].op) == "NextIteration")]
                for n in nodes}
        return [self.by_name[n] for n in _toposort([n.name for n in nodes], deps, self.by_name)]

    # ------------------------------------------------------------------ scopes
    def import_root(self, b: GraphBuilder, produced: dict[Ref, Any], members: list[str]) -> None:
        """Convert the root graph's nodes ``members`` (and the frames their Exits leave) into ``b``."""
        root = [m for m in members if self.frame_of.get(m) is None]
        self._convert_scope(b, set(root), produced, "")

    def _unit_of(self, name: str, scope: str | None) -> str:
        """The unit of scope ``scope`` that ``name`` is in: the node itself or ``frame:<child frame>``."""
        f = self.frame_of.get(name)
        chain = self._ancestors(f)
        if f == scope or scope not in chain:
            return name
        return "frame:" + str(chain[chain.index(scope) - 1])

    def _convert_scope(self, b: GraphBuilder, members: set[str], produced: MutableMapping[Ref, Any],
                       suffix: str, taint: dict[str, set] | None = None) -> None:
        """Convert ``members`` (nodes of one scope; Exits bring their frames along) in dependency order.
        ``taint``: the cond branches each member is in (computed here unless a cond's branch passes it on)."""
        scope = self.frame_of.get(next(iter(members))) if members else None
        deps: dict[str, list[str]] = {}
        units: list[str] = []
        for m in sorted(members, key=self.position.__getitem__):
            nd = self.by_name[m]
            if _base_op(nd.op) == "Exit":
                unit = self._unit_of(_ref(nd.input[0])[0], scope)  # type: ignore[index]
                deps[m] = [unit]
                if unit not in deps:
                    units.append(unit)
                    deps[unit] = self._frame_deps(unit[6:], scope, members)
            else:
                deps[m] = [s[0] for s in map(_ref, nd.input) if s is not None and s[0] in members]
            units.append(m)
        if taint is None:
            taint = self._cond_taint(units, members, deps)
        for unit in _toposort(units, deps, self.by_name):
            if unit.startswith("frame:"):
                self._convert_frame(b, self.frames[unit[6:]], produced, suffix)
                continue
            nd = self.by_name[unit]
            op = _base_op(nd.op)
            if op == "Exit":
                if (unit, 0) not in produced:
                    frame = self.frame_of.get(nd.input[0].partition(":")[0])
                    raise ModelFormatError(f"node {unit!r} (Exit) leaves frame {frame!r} from no loop variable "
                                           f"graphc found; {CUT_ADVICE}")
                continue
            if taint.get(unit) or (op == "Switch" and unit in taint):
                continue  # inside a cond branch: converted with its If
            if op == "Merge":
                self._convert_cond(b, nd, members, taint, produced, suffix)
                continue
            self._convert_node(b, nd, produced, suffix)

    def _frame_deps(self, frame: str, scope: str | None, members: set[str]) -> list[str]:
        out = []
        for e in self.frames[frame].enters:
            src = _ref(e.input[0])
            if src is not None and self.frame_of.get(src[0]) == scope:
                out.append(self._unit_of(src[0], scope))
        return [o for o in out if o in members or o.startswith("frame:")]

    def _convert_node(self, b: GraphBuilder, nd: Any, produced: MutableMapping[Ref, Any], suffix: str) -> None:
        op = _base_op(nd.op)
        inputs = []
        for s in nd.input:
            r = _ref(s)
            if r is None:
                continue
            if r not in produced:
                raise ModelFormatError(f"node {nd.name!r} ({nd.op}) reads {s!r}, which graphc could not place in "
                                       f"this scope (frame {self.frame_of.get(nd.name)!r}); {CUT_ADVICE}")
            inputs.append(produced[r])
        if op in CONTROL_FLOW_OPS:
            raise ModelFormatError(f"node {nd.name!r} ({nd.op}) in frame {self.frame_of.get(nd.name)!r} is used in "
                                   f"a way graphc does not map; {CUT_ADVICE}")
        if op in TENSOR_ARRAY_OPS:
            outs = self._tensor_array(b, nd, inputs)
        elif op == "Identity" and inputs and not isinstance(inputs[0], Value):
            outs = inputs[:1]  # a TensorArray handle or flow passed on
        else:
            for i, v in enumerate(inputs):
                if not isinstance(v, Value):
                    raise ModelFormatError(f"node {nd.name!r} ({nd.op}) reads a TensorArray ({nd.input[i]!r}) other "
                                           f"than through the TensorArray*V3 ops tf.map_fn uses; {CUT_ADVICE}")
            outs = self.convert(b, nd, inputs, nd.name + suffix)
        for i, v in enumerate(outs):
            produced[(nd.name, i)] = v

    # ------------------------------------------------------------- TensorArrays
    def _range_from_zero(self, nd: Any, i: int) -> bool:
        src = _ref(nd.input[i])
        r = self.by_name.get(src[0]) if src else None
        if r is None or r.op != "Range":
            return False
        consts = [self.by_name.get((_ref(r.input[k]) or ("", 0))[0]) for k in (0, 2)]
        vals = [self._attr(c, "value") if c is not None and c.op == "Const" else None for c in consts]
        return vals[0] is not None and vals[1] is not None and int(vals[0]) == 0 and int(vals[1]) == 1

    def _tensor_array(self, b: GraphBuilder, nd: Any, inputs: list[Any]) -> list[Any]:
        op, where = nd.op, f"node {nd.name!r} ({nd.op})"
        if op == "TensorArrayV3":
            ta = _TensorArray(nd.name, inputs[0], self._dtype(nd, "dtype"))
            return [ta, _Flow(ta)]
        handle = inputs[0]
        if not isinstance(handle, _TensorArray):
            raise ModelFormatError(f"{where}: its handle does not come from a TensorArrayV3 graphc followed; "
                                   f"{CUT_ADVICE}")
        if op == "TensorArraySizeV3":
            return [handle.size]
        if op == "TensorArrayScatterV3":
            if not self._range_from_zero(nd, 1):
                raise ModelFormatError(f"{where}: graphc maps a scatter at indices Range(0, n, 1) only (tf.map_fn's "
                                       f"unstack); {CUT_ADVICE}")
            handle.scattered = inputs[2]
            return [_Flow(handle)]
        if op == "TensorArrayReadV3":
            if handle.scattered is None:
                raise ModelFormatError(f"{where}: reads TensorArray {handle.node!r}, which no TensorArrayScatterV3 "
                                       f"filled before the loop; {CUT_ADVICE}")
            return [b.op1("Gather", [handle.scattered, inputs[1]], {"axis": 0}, name=nd.name)]
        if op == "TensorArrayWriteV3":
            if not isinstance(inputs[3], _Flow) or self.frame_of.get(nd.name) is None:
                raise ModelFormatError(f"{where}: graphc maps a TensorArray write inside a while loop whose flow is a "
                                       f"loop variable (tf.map_fn's output) only; {CUT_ADVICE}")
            return [_Flow(handle, written=(inputs[2], inputs[1], nd.name))]
        if op == "TensorArrayGatherV3":
            flow = inputs[2]
            if not isinstance(flow, _Flow) or flow.stacked is None or not self._range_from_zero(nd, 1):
                raise ModelFormatError(f"{where}: graphc maps a gather at Range(0, n, 1) of a TensorArray a while loop "
                                       f"wrote (tf.map_fn's stack) only; {CUT_ADVICE}")
            shape = self._attr(nd, "element_shape")
            if isinstance(shape, list) and all(d >= 0 for d in shape):
                # a loop that ran no iteration stacks nothing ONNX knows the element shape of; TF's is this one
                target = b.ints([-1] + [int(d) for d in shape], f"{nd.name}/shape")
                return [b.op1("Reshape", [flow.stacked, target], name=nd.name)]
            return [flow.stacked]
        raise ModelFormatError(f"{where} is not mapped; {CUT_ADVICE}")

    # ------------------------------------------------------------------- while
    def _loop_vars(self, frame: _Frame) -> tuple[list[_LoopVar], list[Any], Any]:
        loop_cond = [n for n, f in self.frame_of.items() if f == frame.name and self.by_name[n].op == "LoopCond"]
        if len(loop_cond) != 1:
            raise ModelFormatError(f"while frame {frame.name!r} has {len(loop_cond)} LoopCond nodes, not one; "
                                   f"{CUT_ADVICE}")
        lc = self.by_name[loop_cond[0]]
        loop_vars, invariants = [], []
        for e in frame.enters:
            if self._attr(e, "is_constant", False):
                invariants.append(e)
                continue
            merges = [r for r, _ in self.readers.get(e.name, []) if _base_op(r.op) == "Merge"]
            if len(merges) != 1 or len(merges[0].input) != 2:
                raise ModelFormatError(f"node {e.name!r} (Enter) of frame {frame.name!r} is no loop variable "
                                       f"(Enter -> Merge <- NextIteration) and no invariant; {CUT_ADVICE}")
            m = merges[0]
            nxt = [self.by_name.get((_ref(s) or ("", 0))[0]) for s in m.input]
            nxt = [n for n in nxt if n is not None and _base_op(n.op) == "NextIteration"]
            sw = [r for r, p in self.readers.get(m.name, []) if _base_op(r.op) == "Switch" and p == 0
                  and (_ref(r.input[1]) or ("",))[0] == lc.name]
            if len(nxt) != 1 or len(sw) != 1:
                raise ModelFormatError(f"node {m.name!r} (Merge) of frame {frame.name!r}: graphc expects one "
                                       f"NextIteration input and one Switch on {lc.name!r}; {CUT_ADVICE}")
            exits = [r.name for r, p in self.readers.get(sw[0].name, []) if _base_op(r.op) == "Exit" and p == 0]
            loop_vars.append(_LoopVar(e, m.name, sw[0].name, nxt[0], exits))
        return loop_vars, invariants, lc

    def _closure(self, frame: str, start: list[Ref], stop: set[str]) -> set[str]:
        """The nodes of ``frame`` (and Exits of its child frames) the refs ``start`` need, not past ``stop``."""
        out: set[str] = set()
        stack = [r[0] for r in start]
        while stack:
            n = stack.pop()
            if n in out or n in stop or self.frame_of.get(n) != frame:
                continue
            nd = self.by_name[n]
            out.add(n)
            if _base_op(nd.op) == "Exit":  # a nested frame: what its Enters read from this one
                inner = self._unit_of(_ref(nd.input[0])[0], frame)[6:]  # type: ignore[index]
                stack.extend((_ref(e.input[0]) or ("",))[0] for e in self.frames[inner].enters)
                continue
            stack.extend(r[0] for r in map(_ref, nd.input) if r is not None)
            stack.extend(c for c in (s[1:].partition(":")[0] for s in nd.input if s.startswith("^"))
                         if self._is_pivot(c))  # a tf.cond branch's constants hang on its pivot
        return out

    def _is_pivot(self, name: str) -> bool:
        """An Identity of a Switch output (tf.cond's switch_t/switch_f, a loop's Identity)."""
        nd = self.by_name.get(name)
        src = _ref(nd.input[0]) if nd is not None and nd.op == "Identity" and nd.input else None
        return src is not None and src[0] in self.by_name and _base_op(self.by_name[src[0]].op) == "Switch"

    def _convert_frame(self, b: GraphBuilder, frame: _Frame, produced: MutableMapping[Ref, Any], suffix: str) -> None:
        loop_vars, invariants, lc = self._loop_vars(frame)
        label = frame.name.removesuffix("/while_context")
        outer: dict[Ref, Any] = {}
        for e in invariants:
            outer[(e.name, 0)] = self._entered(e, produced)
        inits = [self._entered(v.enter, produced) for v in loop_vars]
        stop = {v.merge for v in loop_vars} | {e.name for e in frame.enters}
        cond_ref = _ref(lc.input[0])
        cond_nodes = self._closure(frame.name, [cond_ref], stop)  # type: ignore[list-item]

        # the initial condition, in the enclosing graph
        init_scope = ChainMap({(v.merge, 0): x for v, x in zip(loop_vars, inits)}, outer, produced)
        self._convert_scope(b, cond_nodes, init_scope, suffix + "/initial_cond")
        cond_init = init_scope[cond_ref]  # type: ignore[index]

        # the body
        body_b = _sub_builder(b, "Loop", f"{label}_body")
        bg = body_b.graph
        bg.add_input(f"{label}/iteration", TensorType(np.dtype(np.int64), ()))
        bg.add_input(f"{label}/cond_in", TensorType(np.dtype(np.bool_), ()))
        body: dict[Ref, Any] = {}
        carried: list[tuple[_LoopVar, Value, Value]] = []  # var, its init, its body input
        scans: list[_LoopVar] = []
        for v, x in zip(loop_vars, inits):
            if isinstance(x, _Flow):
                if x.array.scattered is not None or x.written is not None:
                    raise ModelFormatError(f"node {v.enter.name!r} (Enter): graphc maps a TensorArray flow as a loop "
                                           f"variable only for an array the loop writes (tf.map_fn's output); "
                                           f"{CUT_ADVICE}")
                body[(v.merge, 0)] = body[(v.switch, 1)] = _Flow(x.array)
                scans.append(v)
                continue
            if not isinstance(x, Value):
                raise ModelFormatError(f"node {v.enter.name!r} (Enter) carries a TensorArray handle through "
                                       f"frame {frame.name!r}; {CUT_ADVICE}")
            dtype = self._dtype(v.enter, "T") or x.dtype
            inp = bg.add_input(f"{v.switch}:1", TensorType(dtype, None))
            body[(v.merge, 0)] = body[(v.switch, 1)] = inp
            carried.append((v, x, inp))
        body_scope = ChainMap(body, outer, produced)
        next_refs = [_ref(v.next_iteration.input[0]) for v in loop_vars]
        switches = {v.switch for v in loop_vars}
        body_nodes = self._closure(frame.name, next_refs, stop | switches)  # type: ignore[arg-type]
        self._convert_scope(body_b, body_nodes, body_scope, suffix)
        nexts = {v.merge: body_scope[_ref(v.next_iteration.input[0])] for v in loop_vars}  # type: ignore[index]
        cond_scope = ChainMap({(v.merge, 0): nexts[v.merge] for v in loop_vars}, body_scope)
        self._convert_scope(body_b, cond_nodes, cond_scope, suffix + "/next_cond")

        self._body_output(body_b, cond_scope[cond_ref], f"{label}/cond_out")  # type: ignore[index]
        for v, _, _ in carried:
            self._body_output(body_b, self._value(nexts[v.merge], v), f"{v.merge}/next")
        for v in scans:
            flow = nexts[v.merge]
            if not isinstance(flow, _Flow) or flow.written is None:
                raise ModelFormatError(f"node {v.next_iteration.name!r} (NextIteration) carries a TensorArray flow "
                                       f"that no TensorArrayWriteV3 wrote this iteration; {CUT_ADVICE}")
            value, index, writer = flow.written
            self._check_counter(index, carried, writer)
            self._body_output(body_b, value, f"{writer}/value")

        names = [v.exits[0] + suffix if v.exits else f"{v.merge}/final{suffix}" for v, _, _ in carried]
        names += [f"{v.exits[0] if v.exits else v.merge}/stacked{suffix}" for v in scans]
        loop = b.graph.add_op("Loop", [None, cond_init] + [x for _, x, _ in carried],
                              outputs=[b.graph.unique_name(n) for n in names], attrs={"body": bg},
                              attr_kinds={"body": AttributeProto.GRAPH},
                              name=label + suffix)
        # ONNX inference cannot type a body reading outer values: the element types TF declares
        for (_, _, inp), out in zip(carried, loop.outputs):
            out.type = TensorType(inp.type.dtype, None)
        for v, out in zip(scans, loop.outputs[len(carried):]):
            out.type = TensorType(nexts[v.merge].array.dtype, None)
        for (v, _, _), out in zip(carried, loop.outputs):
            for ex in v.exits:
                produced[(ex, 0)] = out
        for v, out in zip(scans, loop.outputs[len(carried):]):
            stacked = _Flow(nexts[v.merge].array, stacked=out)
            for ex in v.exits:
                produced[(ex, 0)] = stacked

    def _dtype(self, nd: Any, key: str) -> np.dtype | None:
        t = self._attr(nd, key)
        return np.dtype(t) if isinstance(t, str) and t != "string" and not t.startswith("DT_") else None

    def _entered(self, enter: Any, produced: MutableMapping[Ref, Any]) -> Any:
        """The enclosing scope's value an Enter brings into its frame."""
        src = _ref(enter.input[0]) if enter.input else None
        if src is None or src not in produced:
            raise ModelFormatError(f"node {enter.name!r} (Enter) enters {list(enter.input)[:1]}, which graphc "
                                   f"could not place in the enclosing scope; {CUT_ADVICE}")
        return produced[src]

    @staticmethod
    def _value(x: Any, v: _LoopVar) -> Value:
        if not isinstance(x, Value):
            raise ModelFormatError(f"node {v.next_iteration.name!r} (NextIteration) feeds a TensorArray back into a "
                                   f"loop variable; {CUT_ADVICE}")
        return x

    @staticmethod
    def _body_output(b: GraphBuilder, v: Value, name: str) -> None:
        """Append ``v`` to the outputs of ``b``'s graph (through an Identity when the graph does not
        produce it itself or already outputs it)."""
        if not (v.graph is b.graph and v.producer() is not None and not b.graph.is_output(v)):
            v = b.op1("Identity", [v], name=name, out=name)
        b.graph.add_output(v)

    def _check_counter(self, index: Value, carried: list[tuple[_LoopVar, Value, Value]], writer: str) -> None:
        """The write index must be a loop variable that starts at 0 and adds 1 per iteration."""
        while (p := index.producer()) is not None and p.op_type in ("Identity", "Cast"):
            index = p.inputs[0]  # type: ignore[assignment]
        for v, init, inp in carried:
            if inp is not index or init.const is None or np.asarray(init.const).reshape(-1).tolist() != [0]:
                continue
            nxt = self.by_name.get((_ref(v.next_iteration.input[0]) or ("",))[0])
            if nxt is not None and nxt.op in ("Add", "AddV2"):
                srcs = [self.by_name.get((_ref(s) or ("",))[0]) for s in nxt.input[:2]]
                consts = [self._attr(s, "value") for s in srcs if s is not None and s.op == "Const"]
                if len(consts) == 1 and np.asarray(consts[0]).reshape(-1).tolist() == [1]:
                    return
        raise ModelFormatError(f"node {writer!r} (TensorArrayWriteV3): graphc maps a write at a counter (a loop "
                               f"variable from 0, +1 per iteration) only, as tf.map_fn writes; {CUT_ADVICE}")

    # -------------------------------------------------------------------- cond
    def _pred_key(self, sw: Any) -> Ref:
        r = _ref(sw.input[1])
        while r is not None and self.by_name.get(r[0]) is not None and self.by_name[r[0]].op == "Identity" \
                and self.frame_of.get(r[0]) == self.frame_of.get(sw.name):
            r = _ref(self.by_name[r[0]].input[0])
        if r is None:
            raise ModelFormatError(f"node {sw.name!r} (Switch) has no predicate")
        return r

    def _cond_taint(self, units: list[str], members: set[str], deps: dict[str, list[str]]) -> dict[str, set]:
        """For each member: the (predicate, branch) pairs of the cond Switches it depends on (data or
        control), none after the Merge that joins both branches."""
        taint: dict[str, set] = {}
        for unit in _toposort(units, deps, self.by_name, control=members):
            if unit.startswith("frame:"):
                continue
            nd = self.by_name[unit]
            t: set = set()
            per_input: list[set] = []
            for s in nd.input:
                r = _ref(s)
                src = r[0] if r else s[1:].partition(":")[0]
                if src not in members:
                    per_input.append(set())
                    continue
                snd = self.by_name[src]
                it = set(taint.get(src, ()))
                if _base_op(snd.op) == "Switch" and r is not None:
                    it.add((self._pred_key(snd), r[1]))
                per_input.append(it)
                t |= it
            if _base_op(nd.op) == "Merge":
                keys = {k for k, p in t if (k, 0) in t and (k, 1) in t}
                if len(keys) != 1 or len(per_input) != 2:
                    raise ModelFormatError(f"node {nd.name!r} (Merge) joins no tf.cond graphc recognizes (two "
                                           f"inputs, one from each branch of one Switch predicate); {CUT_ADVICE}")
                t -= {(k, p) for k in keys for p in (0, 1)}
            else:
                both = {k for k, p in t if (k, 0) in t and (k, 1) in t}
                if both:
                    raise ModelFormatError(f"node {nd.name!r} ({nd.op}) reads both branches of the tf.cond on "
                                           f"{next(iter(both))[0]!r} without a Merge; {CUT_ADVICE}")
            taint[unit] = t
        return taint

    def _convert_cond(self, b: GraphBuilder, merge: Any, members: set[str], taint: dict[str, set],
                      produced: MutableMapping[Ref, Any], suffix: str) -> None:
        where = f"node {merge.name!r} (Merge)"
        if any(port == 1 for _, port in self.readers.get(merge.name, [])):
            raise ModelFormatError(f"{where}: its value_index output is read; graphc maps the value only; {CUT_ADVICE}")
        refs = [_ref(s) for s in merge.input if _ref(s) is not None]
        branch_of = []
        for r in refs:
            t = set(taint.get(r[0], ()))  # type: ignore[index]
            snd = self.by_name.get(r[0])  # type: ignore[index]
            if snd is not None and _base_op(snd.op) == "Switch" and r[0] in members:  # type: ignore[index]
                t.add((self._pred_key(snd), r[1]))  # type: ignore[index]
            branch_of.append(t)
        keys = {k for t in branch_of for k, p in t if any((k, 1 - p) in u for u in branch_of)}
        if len(refs) != 2 or len(keys) != 1:
            raise ModelFormatError(f"{where} joins no tf.cond graphc recognizes (two inputs, one from each branch of "
                                   f"one Switch predicate); {CUT_ADVICE}")
        key = next(iter(keys))
        if (key, 1) in branch_of[0]:
            refs = refs[::-1]  # refs[p]: the branch taken when pred == p
        pred = produced[key]
        if not isinstance(pred, Value):
            raise ModelFormatError(f"{where}: the predicate {key[0]!r} is not a tensor")
        branch_nodes = []
        for p, r in enumerate(refs):
            region = self._branch_region(r, key, p, members, taint)  # type: ignore[arg-type]
            branch_nodes.append(region)
        inner_taint = {n: t - {(key, 0), (key, 1)} for n, t in taint.items()}  # the branches' own conds
        if pred.const is not None:  # a constant predicate: the taken branch, in place
            p = int(bool(np.asarray(pred.const).reshape(-1)[0]))
            scope = ChainMap(self._switch_map(branch_nodes[p], p, produced), produced)
            self._convert_scope(b, branch_nodes[p][0], scope, suffix, inner_taint)
            produced[(merge.name, 0)] = scope[refs[p]]  # type: ignore[index]
            return
        graphs = []
        for p in (1, 0):
            sub_b = _sub_builder(b, "If", f"{merge.name}/{'then' if p else 'else'}")
            scope = ChainMap(self._switch_map(branch_nodes[p], p, produced), produced)
            self._convert_scope(sub_b, branch_nodes[p][0], scope, suffix, inner_taint)
            out = scope[refs[p]]  # type: ignore[index]
            if not isinstance(out, Value):
                raise ModelFormatError(f"{where}: a branch returns a TensorArray; {CUT_ADVICE}")
            self._body_output(sub_b, out, f"{merge.name}/{'then' if p else 'else'}_out")
            graphs.append(sub_b.graph)
        op = b.graph.add_op("If", [pred], outputs=[b.graph.unique_name(merge.name + suffix)],
                            attrs={"then_branch": graphs[0], "else_branch": graphs[1]}, name=merge.name + suffix,
                            attr_kinds=dict.fromkeys(["then_branch", "else_branch"], AttributeProto.GRAPH))
        op.outputs[0].type = TensorType(self._dtype(merge, "T"), None)
        produced[(merge.name, 0)] = op.outputs[0]

    def _branch_region(self, start: Ref, key: Ref, p: int, members: set[str],
                       taint: dict[str, set]) -> tuple[set[str], set[str]]:
        """(nodes, Switches) of branch ``p`` of the cond on ``key`` that ``start`` needs."""
        nodes, switches, stack = set(), set(), [start[0]]
        while stack:
            n = stack.pop()
            if n in nodes or n in switches or n not in members:
                continue
            nd = self.by_name[n]
            if _base_op(nd.op) == "Switch" and self._pred_key(nd) == key:
                switches.add(n)
                continue
            if (key, p) not in taint.get(n, ()):
                continue  # computed outside the cond: read from the enclosing scope
            nodes.add(n)
            stack.extend(r[0] for r in map(_ref, nd.input) if r is not None)
        return nodes, switches

    def _switch_map(self, region: tuple[set[str], set[str]], p: int,
                    produced: MutableMapping[Ref, Any]) -> dict[Ref, Any]:
        """Inside branch ``p``: each Switch's port ``p`` is its data input; port ``1-p`` is dead there."""
        out: dict[Ref, Any] = {}
        for sw in region[1]:
            out[(sw, p)] = produced[_ref(self.by_name[sw].input[0])]  # type: ignore[index]
        return out


def _sub_builder(b: GraphBuilder, op_type: str, name: str) -> GraphBuilder:
    """A builder of a subgraph of an ``op_type`` op to be added to ``b``'s graph: its ops may read
    ``b``'s values (the stand-in parent op makes them visible; add_op then adopts the subgraph)."""
    shell = Op(op_type, name)
    shell.graph = b.graph
    sub = GraphBuilder(name, b.domain, "graphc-tensorflow")
    sub.graph = Graph(name, parent=shell)
    return sub


def _toposort(units: list[str], deps: dict[str, list[str]], by_name: dict[str, Any],
              control: set[str] | None = None) -> list[str]:
    """``units`` after their ``deps`` (plus control inputs inside ``control``), stable in input order."""
    index = {u: i for i, u in enumerate(units)}
    state: dict[str, int] = {}
    order: list[str] = []

    def all_deps(u: str) -> list[str]:
        d = [x for x in deps.get(u, []) if x in index]
        if control is not None and u in by_name:
            d += [s[1:].partition(":")[0] for s in by_name[u].input if s.startswith("^")]
            d = [x for x in d if x in index]
        return d

    for root in units:
        stack = [(root, False)]
        while stack:
            u, done = stack.pop()
            if done:
                state[u] = 2
                order.append(u)
                continue
            if state.get(u):
                continue
            state[u] = 1
            stack.append((u, True))
            for d in reversed(all_deps(u)):
                s = state.get(d, 0)
                if s == 1:
                    op = by_name[u].op if u in by_name else "frame"
                    raise ModelFormatError(f"node {u!r} ({op}): the graph has a cycle through {d!r} that is no TF1 "
                                           f"while frame graphc recognizes; {CUT_ADVICE}")
                if s == 0:
                    stack.append((d, False))
    return order
