"""The node-suite cases the ort target fails, pinned per onnxruntime release (major.minor).

``tests/targets/ort/test_node_suite.py`` asserts the failing set equals the entry for the
installed release, so a new failure and a new pass are both reported. The reasons are
docs/ort-target.md's table; a release missing here is outside pyproject.toml's tested range
(tools/check_latest_deps.py prints the set to record when the range is raised).
"""

from __future__ import annotations

_DFT = {f"test_dft{s}" for s in ("", "_axis", "_axis_opset19", "_inverse", "_inverse_opset19", "_irfft",
                                 "_irfft_opset19", "_opset19", "_rfft", "_rfft_opset19")}
PRECISION = _DFT | {"test_stft", "test_stft_with_window", "test_attention_4d_causal_fp16",
                    "test_causal_conv_with_state_silu_fp16_expanded"}
RANDOM = {f"test_bernoulli{s}" for s in ("", "_double", "_double_expanded", "_expanded", "_seed", "_seed_expanded")} | {
    f"test_training_dropout{s}" for s in ("", "_default", "_default_mask", "_mask")}
UNDECIDED = {"test_maxunpool_export_with_output_shape"}
OPTIONAL_OPSET_28 = {"test_optional_get_element_optional_tensor", "test_optional_has_element_optional_input",
                     "test_optional_has_element_tensor_input"}

EXPECTED_FAILURES: dict[str, set[str]] = {
    "1.32": PRECISION | RANDOM | UNDECIDED | OPTIONAL_OPSET_28,
}
