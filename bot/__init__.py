"""newsbot: a Telegram bot serving press releases."""
