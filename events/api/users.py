"""`/api/v1/users`: the organisation's shoppers and their platform identities."""
