"""FastAPI service: JSON API, CDS Hooks and the coder's page."""
