"""Step 3 of the pipeline: visit the nodes in topological order, one rule each."""

from .walker import Walker

__all__ = ["Walker"]
