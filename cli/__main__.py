"""`python -m cli …` is `notify …`."""

from cli import main

main()
