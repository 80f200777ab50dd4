"""Access lists, principals and audiences; group memberships."""
