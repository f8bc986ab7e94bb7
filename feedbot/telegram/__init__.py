"""The Telegram bot: post rendering, handlers, delivery and rate limits."""

import os

# Opt in to python-telegram-bot's future behaviour: time periods such as
# RetryAfter.retry_after are datetime.timedelta. Without it PTB 22 warns on every
# 429 it parses (PTBDeprecationWarning).
os.environ.setdefault("PTB_TIMEDELTA", "1")
