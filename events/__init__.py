"""The domain: aggregates, events and the flow engine. No I/O."""
