"""Runtime library of the serving API: onnxruntime + tokenizers + numpy only, never torch."""
