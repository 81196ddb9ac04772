"""A tool module that fails while it loads, as a user's module with a bug does."""

raise RuntimeError("cannot start without a config")
