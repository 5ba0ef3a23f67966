"""kneebot: a symptom checker for pain behind the knee, on Telegram and SMS."""
