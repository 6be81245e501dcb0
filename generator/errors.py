"""The one error type of the generator: it always names the input file and the field path."""
from __future__ import annotations


class SchemaError(Exception):
    """A problem in an input file (schema/ or policies/), reported as `<file>: <path>: <message>`."""

    def __init__(self, file: str, path: str, message: str):
        super().__init__(f"{file}: {path}: {message}")
        self.file = file
        self.path = path
        self.message = message
