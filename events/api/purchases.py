"""`/api/v1/purchases`: stored purchases and adjustments with their delivery states."""
