"""Data in and out: import batches and their engine, exports, bulk inserts, demo and sample data."""
