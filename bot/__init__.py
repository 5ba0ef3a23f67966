"""kneebot: a symptom checker for pain behind the knee, on Telegram and SMS.

Layers, lowest first: triage, content, channels and storage (apart), shell, app; each imports only those below it.
bot.clock, the only reader of the wall clock, is a leaf any layer may import.
"""
