"""posplugin: the till-side loyalty agent for Voyado Engage."""

__version__ = "0.1.0"
