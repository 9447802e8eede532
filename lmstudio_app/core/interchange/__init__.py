"""Models that travel: Hugging Face export and import, GGUF export."""
