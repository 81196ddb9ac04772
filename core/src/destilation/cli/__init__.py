"""The `destiler` command line: a click group built by `make_cli(pm)`, one module per command."""
