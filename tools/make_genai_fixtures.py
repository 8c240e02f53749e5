"""Build fixtures/genai/: a tiny seeded LLaMA through onnxruntime-genai's model builder.

Run in a separate virtual environment (the builder pulls its own onnxruntime); the
fixtures were made with onnxruntime-genai 0.18.0 (onnxruntime 1.32.0), torch
2.13.0+cpu, transformers 5.24 and tokenizers from the project's venv:

    python3 -m venv /tmp/genai && /tmp/genai/bin/pip install onnxruntime-genai==0.18.0
    /tmp/genai/bin/python tools/make_genai_fixtures.py   # torch, transformers importable

Writes fixtures/genai/{fp32,int4}/model.onnx (+ model.onnx.data, genai_config.json) and
fixtures/genai/source.json: the config and the torch model's sum(p.numel()).
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

import torch
import transformers
from tokenizers import Tokenizer, models, pre_tokenizers

OUT = Path(__file__).resolve().parent.parent / "fixtures" / "genai"
CONFIG = dict(hidden_size=64, num_attention_heads=4, num_key_value_heads=2, num_hidden_layers=2, vocab_size=128,
              intermediate_size=128, max_position_embeddings=256)
KEEP = ("model.onnx", "model.onnx.data", "genai_config.json")


def source(folder: Path) -> int:
    """The seeded model and a word-level tokenizer (the builder reads one) saved in ``folder``."""
    torch.manual_seed(0)
    model = transformers.LlamaForCausalLM(transformers.LlamaConfig(**CONFIG))
    with torch.no_grad():
        for p in model.parameters():   # a fresh model's norms are all ones
            p.normal_(0, 0.05)
    model.save_pretrained(folder)
    words = Tokenizer(models.WordLevel({f"t{i}": i for i in range(CONFIG["vocab_size"])}, unk_token="t0"))
    words.pre_tokenizer = pre_tokenizers.Whitespace()
    transformers.PreTrainedTokenizerFast(tokenizer_object=words, unk_token="t0", bos_token="t1",
                                         eos_token="t2").save_pretrained(folder)
    return sum(p.numel() for p in model.parameters())


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "llama"
        numel = source(folder)
        for precision in ("fp32", "int4"):
            built = Path(tmp) / precision
            subprocess.run([sys.executable, "-m", "onnxruntime_genai.models.builder", "-i", str(folder), "-o",
                            str(built), "-p", precision, "-e", "cpu", "-c", str(Path(tmp) / "cache")], check=True)
            target = OUT / precision
            target.mkdir(parents=True, exist_ok=True)
            for name in KEEP:
                shutil.copy(built / name, target / name)
    (OUT / "source.json").write_text(json.dumps({"config": CONFIG, "numel": numel}, indent=2) + "\n")


if __name__ == "__main__":
    main()
