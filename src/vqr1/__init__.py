"""vqr1: VisualQuality-R1 (reasoning IQA trained with GRPO and a ranking reward) and its workflow."""

__version__ = "0.1.0"
