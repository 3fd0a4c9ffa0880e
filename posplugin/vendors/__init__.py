"""Loyalty vendors, one package each behind the core's neutral errors and breaker (chosen by the composition
root, as pyserial picks a URL handler). The core (``posplugin.loyalty``, ``posplugin.outbox``) imports none."""
