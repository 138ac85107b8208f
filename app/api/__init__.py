"""The HTTP layer: thin routes over the episode store, the queue and the judge; errors as problem+json."""
