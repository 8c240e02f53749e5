"""Text: StringNormalizer (opset 10), StringSplit (opset 20), TfIdfVectorizer (opset 9).

Sizes that depend on the strings themselves -- how many words survive the stop-word
filter, how many parts the longest split has -- are unknown (``None``): a string
tensor's contents are never folded.

Cost convention: string processing is not floating-point arithmetic, so StringNormalizer
and StringSplit cost 0 FLOPs (as StringConcat and RegexFullMatch).  TfIdfVectorizer's
n-gram matching is lookups and integer counts (0 FLOPs); its IDF / TFIDF weighting is 1
FLOP per output element.  Parameters: TfIdfVectorizer's learned IDF ``weights``
attribute (the n-gram pool is a vocabulary, like CategoryMapper's, not counted); its
input holds token ids, a meta input.
"""

from __future__ import annotations

from ..dims import format_count, prod
from .context import NodeContext, ShapeError
from .registry import register


@register("StringNormalizer")
def string_normalizer(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    if len(x) not in (1, 2):
        raise ShapeError(f"input must be [C] or [1, C], got rank {len(x)}")
    stopwords = ctx.attr("stopwords", None)
    ctx.set_output(0, x if not stopwords else (*x[:-1], None))
    ctx.set_cost(flops=0)
    if ctx.explaining and stopwords:
        ctx.explain("shape", f"{len(stopwords)} stop words: how many strings remain is known at run time")


@register("StringSplit")
def string_split(ctx: NodeContext) -> None:
    x = ctx.shape_or_none(0)
    ctx.set_output(0, None if x is None else (*x, None), "string")   # padded to the most parts
    ctx.set_output(1, x, "int64")
    ctx.set_cost(flops=0)


@register("TfIdfVectorizer", meta_inputs=(0,))
def tfidf_vectorizer(ctx: NodeContext) -> None:
    x = ctx.shape(0)
    if len(x) not in (1, 2):
        raise ShapeError(f"input must be [C] or [N, C], got rank {len(x)}")
    indexes = ctx.attr("ngram_indexes", None)
    if not indexes:
        raise ShapeError("ngram_indexes is required")
    width = max(int(i) for i in indexes) + 1
    out = (width,) if len(x) == 1 else (x[0], width)
    ctx.set_output(0, out, "float32")
    weights = ctx.attr("weights", None) or []
    ctx.attribute_params("weights", len(weights), "float32", "IDF weights")
    mode = ctx.attr("mode", "TF")
    flops = 0 if mode == "TF" else prod(out)
    ctx.set_cost(flops=flops)
    if ctx.explaining:
        ctx.explain("shape", f"output width = max(ngram_indexes) + 1 = {width}")
        ctx.explain("flops", f"FLOPs = {'0 (counts only)' if mode == 'TF' else '1 per output element (weighting)'}"
                             f" = {format_count(flops)}")
