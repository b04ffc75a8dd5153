"""The gateway: one origin for the web app and the four services' APIs (embedded mode and development)."""
