"""Where documents come from: folders, Confluence spaces, ticket exports."""
