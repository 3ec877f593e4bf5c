"""The generic API integration: any system posts purchases with the installation's key."""
