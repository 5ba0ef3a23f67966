"""python -m bot: the same command line as `kneebot`."""

from bot.app.cli import main

main()
