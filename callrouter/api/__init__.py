"""The admin HTTP server: /health, /metrics and (token-protected) admin routes."""
