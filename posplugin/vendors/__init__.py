"""Loyalty vendors: each package maps one vendor onto the neutral ports of ``posplugin.loyalty``."""
