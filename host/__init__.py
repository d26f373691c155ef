"""The AstrBot side of the plugin: running jobs through the host, sending, permissions."""
