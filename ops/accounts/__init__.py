"""Accounts and delegated admin: each system's broker user and API secret, created and changed
through the RabbitMQ management HTTP API by admins limited to their subtree, every action
recorded with who did it (README: Accounts and delegated admin)."""
