"""Repository-wide pytest set-up: hypothesis profiles.

`ci` (used when CI is set, as `.ci/run` has it) is derandomized and bounded so
a run is repeatable and fast on 2 cores; `dev` explores more. Pick one with
HYPOTHESIS_PROFILE.
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    max_examples=60,
    deadline=None,
    derandomize=True,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", max_examples=150, deadline=None)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci" if os.environ.get("CI") else "dev"))
