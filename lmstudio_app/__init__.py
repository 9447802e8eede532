"""lmstudio_app: pretrain and fine-tune small language models on your own machine."""

__version__ = "0.1.0"
