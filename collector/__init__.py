"""The write side: receive OTLP/HTTP, decode, validate, normalise and store attempts."""
