"""`python -m destilation` is `destiler`."""

from destilation.cli.main import main

main()
