"""gpumarket: an agent-based simulation of the AI compute market."""

__version__ = "0.1.0"
