"""Support-ticket exports (Jira, Zendesk, ServiceNow, generic) as a source."""
