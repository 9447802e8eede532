"""The training engine: torch, numpy, sentencepiece and h5py, never Qt.

The window (`lmstudio_app.gui`) and the command line (`lmstudio_app.cli`) are both clients of it.
"""
