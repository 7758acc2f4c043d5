"""Root conftest: puts the checkout first on sys.path so tests import graphc, passes and
targets from the source tree (test folders named like the packages must not shadow them)."""
