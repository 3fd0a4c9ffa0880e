"""The durable outbox: ops and attempts in SQLite, the state machine, the steady clock and the worker. Vendor-free:
the executors it runs per kind are handed to it by the composition root."""
