"""Sources (I/O layer): adapters that read records and hand them to the mapping and
the engine. Each is thin; none holds monitoring logic."""
