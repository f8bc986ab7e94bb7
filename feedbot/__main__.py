"""`python -m feedbot`."""

from feedbot.cli import main

if __name__ == "__main__":
    main()
