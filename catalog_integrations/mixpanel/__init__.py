"""Mixpanel: every purchase and refund is sent as an event to a project."""
