"""Using a VisualQuality-R1 model: the prompt, processor limits, backends (Hugging Face, vLLM, an
OpenAI-compatible server), the parser's use, the Thurstone comparison and the public API (:func:`vqr1.load`).

The evaluate stage, the held-out callback of training, the command line and the Python API all score through
this package, so an answer is produced the same way wherever it is asked for.
"""
