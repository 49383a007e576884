"""The publishing engine: claims due posts, publishes them, records why."""
