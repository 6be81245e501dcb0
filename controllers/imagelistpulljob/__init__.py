"""The manager's ImageListPullJob controller: one ImagePullJob per image (see `controllers/imagepulljob/`)."""
