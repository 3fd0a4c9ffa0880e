"""Local HTTP API, cashier panel and the server that runs them."""
