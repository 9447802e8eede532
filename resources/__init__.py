"""Bundled data: the sample corpus (and later the labeled samples), shipped inside the wheel."""
