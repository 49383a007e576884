# Vercel serves the BaseHTTPRequestHandler subclass named `handler`: one run-due per call.
from studio_publish.hook import handler  # noqa: F401
