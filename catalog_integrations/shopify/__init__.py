"""Shopify: orders and refunds arrive as signed webhooks."""
