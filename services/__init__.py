"""Application services, the aiohttp faces, workers and the CLI: where everything is wired."""
