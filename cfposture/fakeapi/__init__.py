"""A faithful fake of the Cloudflare API v4 on loopback, serving a raw snapshot."""

from .server import FakeCloudflare, Limits, base_url, make_server

__all__ = ["FakeCloudflare", "Limits", "base_url", "make_server"]
