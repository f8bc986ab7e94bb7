"""Posts as Telegram HTML: messages, styles, templates, previews — pure."""
