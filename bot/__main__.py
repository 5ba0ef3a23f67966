"""python -m bot: the same command line as `kneebot`."""

from bot.cli import main

main()
