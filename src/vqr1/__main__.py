"""`python -m vqr1` is the `vqr1` command."""

from vqr1.cli import main

main()
