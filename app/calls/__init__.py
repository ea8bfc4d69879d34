"""Calls: wire schemas, the per-call runner, the registry, the WebSocket and REST endpoints."""
