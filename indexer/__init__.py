"""The batch indexer: read catalogs, embed, write and publish index generations."""
