"""Step 1 of the pipeline: a path, bytes or ``ModelProto`` -> a parsed model without
weight payloads, or one clear error."""

from .model import LoadedModel, Source, load_model
from .payload import Elision, is_elided, strip_model, strip_payloads

__all__ = ["Elision", "LoadedModel", "Source", "is_elided", "load_model", "strip_model", "strip_payloads"]
