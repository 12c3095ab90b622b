"""`python -m facewatch.cli`: the `facewatch` command without its console script."""

from facewatch.cli.main import main

main()
