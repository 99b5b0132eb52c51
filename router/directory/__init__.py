"""The directory: organs, systems, mergers, and resolving a recipient to the system that serves it."""
