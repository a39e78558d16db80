"""fusionrank: reinforcement-learning ranking for multimodal product search."""

__version__ = "0.1.0"
