"""kit: a containerized reproducibility kit for GPU kernel bugs."""

__version__ = "0.1.0"
