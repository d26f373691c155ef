"""In-process fakes of the services AstrBot talks to (OneBot v11, OpenAI)."""
