"""Where chunks and the record of what is indexed live: Weaviate collections behind aliases,
document hashes and write leases in Redis."""
