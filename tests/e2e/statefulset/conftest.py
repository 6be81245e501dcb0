from .helpers import sets  # noqa: F401  (the fixture, for every test of this folder)
