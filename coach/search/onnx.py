"""The only onnxruntime and tokenizers imports: a CPU inference session and a fast tokenizer from files."""

from __future__ import annotations

from pathlib import Path


def inference_session(model_path: Path, threads: int | None = None):
    """An onnxruntime CPU session for a model file (quiet logging)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(str(model_path), sess_options=options, providers=["CPUExecutionProvider"])


def tokenizer(path: Path, max_length: int):
    """A `tokenizers` tokenizer from tokenizer.json, truncating at max_length, without padding."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path))
    tok.enable_truncation(max_length=max_length)
    tok.no_padding()
    return tok
