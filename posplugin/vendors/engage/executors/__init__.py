"""What each outbox kind means against Engage: one executor per kind, sharing one guarded call."""
