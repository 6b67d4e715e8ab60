"""The read API: one router module per resource."""
