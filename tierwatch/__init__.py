"""tierwatch: observability and drift monitoring for hybrid device / edge / cloud AI."""

__version__ = "0.1.0"
