"""An example third-party plugin: rejects answers with too few words."""
