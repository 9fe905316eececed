"""vqr1: VisualQuality-R1 (reasoning IQA trained with GRPO and a ranking reward) and its workflow."""

import logging

__version__ = "0.1.0"

# bitsandbytes (pulled in by pyiqa, imported by peft) warns on every import on AVX512-BF16 CPUs that it
# cannot fetch an optional kernel from the hub; we never use 4-bit kernels, so keep logs readable.
logging.getLogger("bitsandbytes").setLevel(logging.ERROR)
