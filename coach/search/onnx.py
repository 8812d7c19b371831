"""The only onnxruntime and tokenizers imports: a CPU inference session and a fast tokenizer from files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path


def inference_session(model_path: Path, threads: int | None = None):
    """An onnxruntime CPU session for a model file (quiet logging)."""
    import onnxruntime

    options = onnxruntime.SessionOptions()
    options.log_severity_level = 3
    if threads:
        options.intra_op_num_threads = threads
    return onnxruntime.InferenceSession(
        str(model_path), sess_options=options, providers=["CPUExecutionProvider"]
    )


def tokenizer(path: Path, max_length: int):
    """A `tokenizers` tokenizer from tokenizer.json, truncating at max_length, without padding."""
    from tokenizers import Tokenizer

    tok = Tokenizer.from_file(str(path))
    tok.enable_truncation(max_length=max_length)
    tok.no_padding()
    return tok


def length_batches(lengths: list[int], max_size: int, max_tokens: int) -> Iterator[list[int]]:
    """Indices grouped for inference: sorted by length so each batch pads little (to its own
    longest), at most `max_size` items and `max_tokens` padded tokens a batch (bounds memory)."""
    batch: list[int] = []
    for i in sorted(range(len(lengths)), key=lambda i: lengths[i]):
        if batch and (len(batch) + 1 > max_size or (len(batch) + 1) * lengths[i] > max_tokens):
            yield batch
            batch = []
        batch.append(i)
    if batch:
        yield batch
