"""Identity, owned by the gateway: accounts, passwords, sessions and access tokens."""
