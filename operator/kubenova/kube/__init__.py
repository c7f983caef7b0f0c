"""The one door to the Kubernetes API: every call the operator makes goes through this package.

Pure code (the API models, the Nova state machine, the scheduler, renderers) never imports it;
kopf handlers call it with values the pure code produced. An import-linter contract in
pyproject.toml holds that shape.
"""
