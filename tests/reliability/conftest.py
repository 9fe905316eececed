"""Fixtures of the area tests whose fault cases live here (the scorecard is tests.reliability.scorecard)."""

from tests.data.conftest import synth_zip  # noqa: F401
