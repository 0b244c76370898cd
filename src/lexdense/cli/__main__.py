"""`python -m lexdense.cli`."""

from lexdense.cli import main

main()
