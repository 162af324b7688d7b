"""Local images: read-only overlay layers over the host's root, made by build nodes (store.py, build.py, nodes.py)."""
