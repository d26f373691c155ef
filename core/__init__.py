"""The scheduling engine of astrbot_plugin_future_tasks.

Nothing in this package imports AstrBot: schedules, storage, the engine's state
machine and the shared service layer are plain Python, so they are tested with a
fake clock and a fake executor in milliseconds.
"""
