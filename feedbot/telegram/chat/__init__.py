"""The chat side of the bot: commands, menus and what they show."""
