"""Reads of the events app, one module per topic: users, purchases, deliveries."""
