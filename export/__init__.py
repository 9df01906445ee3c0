"""Export: a trained run → an immutable model bundle (ONNX fp32 + int8, tokenizer, hashed manifest)."""
