"""LLM tools the plugin registers with the host: the future_task_* family."""
