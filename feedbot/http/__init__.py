"""HTTP: the ASGI app, its server and the guards on what a client may hold."""
