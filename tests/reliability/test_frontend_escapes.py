"""Damaged TensorFlow and Keras files fail with a ModelFormatError naming what is wrong: before, a
TensorFlow BiasAdd with one input escaped as ValueError, and byte-flipped Keras ``.weights.h5`` files
as h5py's RuntimeError, KeyError or OverflowError."""

from __future__ import annotations

import pytest

import graphc
from graphc import ModelFormatError

_PLACEHOLDER = ('node { name: "x" op: "Placeholder" attr { key: "dtype" value { type: DT_FLOAT } } '
                'attr { key: "shape" value { shape { dim { size: 1 } dim { size: 3 } } } } }\n')


@pytest.mark.parametrize("op", ["BiasAdd", "MatMul", "AddV2", "ConcatV2", "FusedBatchNormV3"])
def test_a_tensorflow_op_missing_inputs_is_a_model_format_error_naming_the_node(tmp_path, op):
    """A mapped op with fewer data inputs than TensorFlow's registry gives it (BiasAdd with one: ValueError;
    AddV2 with one became a one-input Add)."""
    path = tmp_path / "g.pbtxt"
    path.write_text(_PLACEHOLDER + f'node {{ name: "n" op: "{op}" input: "x" attr {{ key: "T" value {{ type: DT_FLOAT }} }} }}\n')
    with pytest.raises(ModelFormatError, match=rf"node 'n' \({op}\) has 1 data input\(s\); {op} takes at least"):
        graphc.load_model(path)
