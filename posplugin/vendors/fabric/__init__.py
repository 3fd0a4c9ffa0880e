"""fabric Loyalty: OAuth2 client credentials, the Loyalty (Member) API, earn rules and outbox executors."""
