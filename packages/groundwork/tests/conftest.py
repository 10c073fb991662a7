"""groundwork test fixtures.

``fake_llm`` is imported rather than listed in ``pytest_plugins``: pytest refuses
``pytest_plugins`` in a conftest below the root when the whole repo is collected.
"""

from groundwork.llm.fake.pytest_plugin import fake_llm

__all__ = ["fake_llm"]
