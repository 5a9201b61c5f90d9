"""L4: running a model on image files, videos and large images; exposure maps of an assessor."""
