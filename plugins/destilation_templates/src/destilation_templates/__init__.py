"""Destilation's built-in dataset templates, registered through the ``register_templates`` hook."""
