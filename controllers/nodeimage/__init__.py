"""The manager's NodeImage controller: one NodeImage per node (see `controllers/imagepulljob/__init__.py`)."""
