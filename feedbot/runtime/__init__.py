"""The daemon's life: start-up, the daemon, reload, stopping, logs and health."""
