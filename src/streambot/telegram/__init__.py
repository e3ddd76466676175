"""Control over Telegram: commands from allowed chats, answered through the Bot API's long polling."""
