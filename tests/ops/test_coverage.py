"""Every operator schema the installed onnx defines in the ai.onnx and ai.onnx.ml
domains, at any since_version (deprecated ones included: old models still carry them), has a rule.

The truth is onnx's own schema registry, not our table: a new onnx release that adds an
operator makes this test name it."""

import onnx.defs

from onnxinspect import registered_ops


def _missing(domain):
    ours = {op for (d, op) in registered_ops() if d == domain}
    schemas = {s.name for s in onnx.defs.get_all_schemas_with_history() if s.domain == domain}
    assert schemas, f"onnx defines no schema in domain {domain!r}"
    return sorted(schemas - ours)


def test_every_ai_onnx_schema_has_a_rule():
    missing = _missing("")
    assert not missing, f"ai.onnx operators without a rule: {', '.join(missing)}"


def test_every_ai_onnx_ml_schema_has_a_rule():
    missing = _missing("ai.onnx.ml")
    assert not missing, f"ai.onnx.ml operators without a rule: {', '.join(missing)}"
