"""One asyncio task per call: feeds ARI events to the core, carries out its commands."""
