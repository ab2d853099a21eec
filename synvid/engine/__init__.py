"""Training loops: pre-training (`pretrain`), shared pieces (`common`); fine-tuning/probing live beside them."""
