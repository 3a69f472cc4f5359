"""The scheduling API, one module per resource: parse, call a service, serialize."""
