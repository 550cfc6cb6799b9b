"""The training layer (the `train` extra: torch, sentence-transformers, onnx; `adapt` adds snorkel):
structured pruning, distillation, int8 export, vocabulary pruning, weak supervision and
catalog adaptation, behind `tinyseek build-model`, `tinyseek adapt` and
`tinyseek verify-model`.

It sits on top of the runtime (models, search, indexer, eval) and nothing on the query path
imports it: an artifact it writes is loaded by `tinyseek.models` alone.
"""
