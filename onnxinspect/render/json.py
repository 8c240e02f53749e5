"""``--format json``: the "onnxinspect/1" contract, exactly ``Report.to_dict()``."""

import json


def render_json(report) -> str:
    return json.dumps(report.to_dict(), indent=2, ensure_ascii=False)
