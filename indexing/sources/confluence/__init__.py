"""Confluence (REST API v1, Cloud and Data Center) as a source."""
